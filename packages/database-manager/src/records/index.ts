// Records (FHIR R4 intake, storage, record set + tree): what gatekeeper.ts wires in.
export {
  describeFhirIssues,
  type FhirIssue,
  loadFhirDefinitions,
  validateFhirBundle,
} from "./fhir-validator.ts";
export { buildRecordSet, toStoredResource } from "./record-set.ts";
export { type RecordsModuleParameters, recordsModule } from "./records.routes.ts";
export {
  type CreateRecordsServiceParameters,
  createRecordsService,
  type IngestResourcesOptions,
  type IngestResult,
  RecordsStore,
} from "./records.service.ts";
