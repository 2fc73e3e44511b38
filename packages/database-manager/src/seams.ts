/**
 * The seams between the gatekeeper's parts, so each is built and tested on its own and wired in
 * `gatekeeper.ts`: records (FHIR storage, intake, legacy adapter), chain (relationships, roots,
 * permissions, sponsorship), auth + audit + the read API. Types only.
 */
import type { RequestHandler } from "express";
import type { Address, Hex } from "viem";
import type { HealthCheck } from "./ops/health.ts";

/** A FHIR R4 resource as stored (JSON object with `resourceType` and `id`). */
export type FhirResource = { resourceType: string; id?: string; [key: string]: unknown };

/** One stored resource of a patient with what reads need, precomputed at write time. */
export type StoredResource = {
  resource: FhirResource;
  /** SHA-256 leaf (docs/protocol.md): of the JCS canonical JSON of `resource`. */
  leaf: Hex;
  /** Scope bits this resource needs (`requiredScopes` of @medrec/protocol). */
  scopeMask: number;
  lastUpdated: Date;
};

/** A patient's whole record set with its Merkle tree, as the read path serves it. */
export type RecordSet = {
  patientId: number;
  root: Hex;
  /** In tree order; `proofs[i]` belongs to `resources[i]`. */
  resources: readonly StoredResource[];
  proofs: readonly (readonly Hex[])[];
};

/** Records (owned by `records/`). */
export interface RecordsService {
  /** Validates and stores a FHIR R4 Bundle (collection or transaction) for the patient (id, or MRN), all or nothing. Throws ProblemError 422 naming the element path. */
  ingestBundle(
    patient: number | string,
    bundle: unknown,
  ): Promise<{ patientId: number; stored: number; root: Hex }>;
  /** The patient's current record set and tree (cached; invalidated on every change). */
  recordSet(patientId: number): Promise<RecordSet>;
  /** Subscribe to "this patient's records changed" (after commit), e.g. to publish the new root. */
  onChange(listener: (patientId: number) => void): () => void;
}

/** A relationship as the chain view holds it. */
export type RelationshipView = {
  id: Hex;
  patientAgent: Address;
  provider: Address;
  ended: boolean;
  recordRoot: Hex;
  sequence: bigint;
};

/** The gatekeeper's view of chain state, kept current from contract events (owned by `chain/`). */
export interface ChainView {
  /** Throws ProblemError("unavailable") when the view is not current (node down or behind): fail closed. */
  assertCurrent(): void;
  /** Only relationships whose provider delegate is this gatekeeper's. */
  relationship(id: Hex): RelationshipView | undefined;
  /** Owner or custodian of the relationship's patient agent. */
  isPatientController(id: Hex, account: Address): boolean;
  /** The viewer's active scope bits at `nowSeconds` (0 when none, expired, revoked or ended). */
  viewerScopes(id: Hex, viewer: Address, nowSeconds: number): number;
  /** Relationships at this provider where `account` is the patient (controller) or a current viewer. */
  relationshipsOf(account: Address, nowSeconds: number): { id: Hex; role: "patient" | "viewer" }[];
  /** The local patient id of a relationship (or undefined if not this provider's). */
  patientIdOf(id: Hex): number | undefined;
  health(): HealthCheck;
}

/** Creating relationships and publishing roots (owned by `chain/`). */
export interface ChainWriter {
  /** Links MRN ↔ patient address and creates the Relationship on chain from a fresh delegate. */
  registerPatient(mrn: string, patientAddress: Address): Promise<{ patientId: number; relationship: Hex }>;
  /** Publishes the patient's current root (sequence = on-chain + 1); never a stale root, even across restarts and races. */
  publishRoot(patientId: number): Promise<{ root: Hex; sequence: bigint } | undefined>;
}

/** Who is calling, once authenticated (owned by `auth/`). */
export type Caller = { kind: "session"; address: Address } | { kind: "operator" };

/** Route guards (owned by `auth/`): they set `res.locals.caller`. */
export interface Guards {
  /** A SIWE session (Bearer token). 401 otherwise. */
  requireSession: RequestHandler;
  /** Provider staff: a STAFF_ACCOUNTS address by SIWE (never the provider's sealer account), or the operator key. 401/403 otherwise. */
  requireStaff: RequestHandler;
}

/**
 * The patients part (owned by `patients/`): the only writer of the `patients` table. Every staff
 * action goes through it and is appended to the audit log under the patient's relationship
 * (`staff.patient.link`, `staff.records.upload`, `staff.legacy.sync`) with a salted MRN hash.
 */
export interface PatientsService {
  /** `POST /v1/patients`: links MRN ↔ patient address and creates the Relationship on chain. */
  link(
    caller: Caller,
    mrn: string,
    patientAddress: Address,
  ): Promise<{ patientId: number; relationship: Hex; created: boolean }>;
  /** `POST /v1/patients/{mrn}/records`: stores a FHIR R4 Bundle (RecordsService.ingestBundle). */
  uploadRecords(
    caller: Caller,
    mrn: string,
    bundle: unknown,
  ): Promise<{ patientId: number; stored: number; changed: number; root: Hex }>;
}

/** One access decision, appended to the hash-chained audit log (owned by `audit/`). */
export type AuditEvent = {
  relationship: Hex;
  actor: Address | "operator";
  action: string;
  categories: string[];
  decision: "allowed" | "denied";
  reason?: string;
  /** Staff actions: how many resources (or patients) the action concerned. */
  count?: number;
  /** Staff actions: salted hash of the MRN concerned (never the MRN itself). */
  mrnHash?: string;
};

export interface AuditLog {
  append(event: AuditEvent): Promise<void>;
}
