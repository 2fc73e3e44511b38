/**
 * `pnpm --filter @medrec/database-manager run setup-synthea`: the tests' Synthea population,
 * generated once into ~/.cache/medrec (see synthea.ts); a no-op when it is there.
 */
import { ensureTestPopulations } from "./synthea.ts";

const started = Date.now();
const files = await ensureTestPopulations();
console.log(`synthea: ${files.length} bundles ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
