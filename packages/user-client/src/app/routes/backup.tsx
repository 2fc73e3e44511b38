import { BackupFlow } from "../../features/wallet/index.ts";

export default BackupFlow;
