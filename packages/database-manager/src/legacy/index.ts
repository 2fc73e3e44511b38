// Legacy EHR adapter: the hospital's existing tables → FHIR R4, through the contract views.
export { LEGACY_VIEWS, type LegacyPatientRecord } from "./contract.ts";
export { type SyncFromLegacyOptions, syncAllFromLegacy, syncFromLegacy } from "./legacy.service.ts";
export { type LegacyMappingOptions, legacyId, mapLegacyPatient } from "./mapping.ts";
