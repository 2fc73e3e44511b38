import { CreateWallet } from "../../features/wallet/index.ts";

export default CreateWallet;
