import { Welcome } from "../../features/wallet/index.ts";

export default Welcome;
