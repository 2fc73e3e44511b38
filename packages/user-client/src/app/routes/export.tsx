import { ExportScreen } from "../../features/export/index.ts";

export default ExportScreen;
