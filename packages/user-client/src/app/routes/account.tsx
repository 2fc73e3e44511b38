import { AccountScreen } from "../../features/account/index.ts";

export default AccountScreen;
