export { OPERATOR_ACTOR } from "./audit.entry.ts";
export { type CreateAuditLogParameters, createAuditLog, type GatekeeperAuditLog } from "./audit.log.ts";
export {
  type AuditBreak,
  type AuditVerification,
  type VerifyAuditLogParameters,
  verifyAuditLog,
} from "./audit.verify.ts";
