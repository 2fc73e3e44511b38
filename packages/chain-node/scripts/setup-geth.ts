/** `pnpm run setup-geth`: make sure geth v1.13.15 is available (building it into the cache if needed). */
import { findGeth } from "../src/geth-binary.ts";

const path = await findGeth();
console.log(path);
