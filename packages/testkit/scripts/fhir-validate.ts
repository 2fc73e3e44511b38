/**
 * `pnpm --filter @medrec/testkit run fhir-validate [file.json …]`: builds the tests' FHIR R4
 * validator into the cache when it is missing (src/fhir-validator.ts); with files, validates each
 * and prints its errors (warnings counted). Exits 1 when any file has an error.
 */
import { describeFhirIssues, fhirErrors, startFhirValidator } from "../src/fhir-validator.ts";

const files = process.argv.slice(2);
const started = Date.now();
const validator = await startFhirValidator();
console.log(`fhir-validator: ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
let failed = 0;
try {
  for (const file of files) {
    const issues = await validator.validateFile(file);
    const errors = fhirErrors(issues);
    console.log(`${file}: ${errors.length} errors, ${issues.length - errors.length} warnings or notes`);
    if (errors.length > 0) {
      failed++;
      console.log(describeFhirIssues(errors, 20));
    }
  }
} finally {
  await validator.stop();
}
process.exitCode = failed > 0 ? 1 : 0;
