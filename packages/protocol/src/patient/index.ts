// @medrec/protocol/patient — the patient's data layer (see ../../README.md "The patient's data layer").
// Framework-free and browser-safe (viem and fetch only): the dapp and the tests use the same code.

export {
  type AccessLog,
  type AccessLogEntry,
  type AccessProofStatus,
  type Contacts,
  describeActor,
  loadAccessLog,
  loadProviderAccessLog,
  type ProviderAccessLog,
} from "./access-log.ts";
export {
  type AccountStanding,
  addCustodian,
  approveRecovery,
  cancelRecovery,
  executeRecovery,
  type RecoveryState,
  readAccountStanding,
  readRecoveryState,
  removeCustodian,
  setRecoveryThreshold,
  transferOwnership,
} from "./custodians.ts";
export {
  describePatientErrorCode,
  PatientDataError,
  type PatientErrorCode,
  patientErrorCode,
  toPatientDataError,
} from "./errors.ts";
export {
  EXPORT_SOURCE_URL,
  exportFhirBundle,
  exportFullUrl,
  type HealthSummary,
  healthSummary,
  type SummaryLine,
} from "./export.ts";
export {
  agentOf,
  chainNow,
  createPatientClient,
  type PatientAccount,
  type PatientContext,
  type PatientNetwork,
  type PatientProvider,
  patientContextFromAccount,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  readRecordRoot,
  shortAddress,
} from "./network.ts";
export {
  describeRecordChange,
  diffFingerprints,
  fingerprint,
  type PatientNotification,
  type RecordFingerprints,
  type WatchPatientParameters,
  watchPatient,
} from "./notifications.ts";
export {
  type LoadPatientRecordsParameters,
  loadPatientRecords,
  loadProviderRecords,
  type PatientRecords,
  type ProviderRecords,
  type ProviderRecordsStatus,
  type RecordsEvent,
  streamPatientRecords,
  type UnverifiedRecord,
  verifiedTimelineItems,
} from "./records.ts";
export {
  acknowledgeRecords,
  discoverRelationships,
  hasNewRecords,
  identifyUnreadable,
  type OnChainRelationships,
  openProviderDetails,
  type PatientRelationship,
  readRelationshipsOnChain,
  relationshipLabel,
} from "./relationships.ts";
export { type RelayedCall, relayPatientCall } from "./relaying.ts";
export { createPatientSessions, type PatientSessions } from "./sessions.ts";
export {
  listSharedWithMe,
  loadSharedRecords,
  openViewerDetails,
  type SharedGrant,
  type SharedGrantStatus,
  type SharedRecords,
  type SharedRecordsStatus,
  sharedGrantStatus,
  type ViewerContext,
} from "./shared-with-me.ts";
export {
  type ActiveGrant,
  type BatchResult,
  expiryToTimestamp,
  formatTimeLeft,
  type GrantExpiry,
  listActiveGrants,
  type PerProviderResult,
  readEncryptionKey,
  revokeAccess,
  SHAREABLE_CATEGORIES,
  type ShareParameters,
  shareRecords,
  type ViewerDetails,
} from "./sharing.ts";
export {
  buildTimeline,
  compareTimelineItems,
  conceptText,
  createLookup,
  filterTimeline,
  lookupIn,
  mergeTimeline,
  type RangeFlag,
  type ResourceLookup,
  resourceDate,
  resourceFlag,
  resourceRange,
  resourceTitle,
  resourceValue,
  searchTimeline,
  type TimelineFilter,
  type TimelineItem,
  type TimelineRange,
  type TimelineSource,
  type TimelineValue,
  toTimelineItem,
} from "./timeline.ts";
