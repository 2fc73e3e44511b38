import { RestoreWallet } from "../../features/wallet/index.ts";

export default RestoreWallet;
