import { RecordsScreen } from "../../features/records/index.ts";

export default RecordsScreen;
