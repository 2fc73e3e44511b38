import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The one cache directory of every set-up step (Node, pnpm, geth, Synthea, the FHIR validator,
 * the HAPI FHIR peer): `$MEDREC_CACHE`, else `~/.cache/medrec`. Never inside the repository.
 */
export function medrecCacheDir(): string {
  return process.env.MEDREC_CACHE || join(homedir(), ".cache", "medrec");
}
