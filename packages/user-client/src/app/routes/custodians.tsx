import { CustodiansScreen } from "../../features/custodians/index.ts";

export default CustodiansScreen;
