import { SummaryScreen } from "../../features/export/index.ts";

export default SummaryScreen;
