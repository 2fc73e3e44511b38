import { UnlockForm } from "../../features/wallet/index.ts";

export default UnlockForm;
