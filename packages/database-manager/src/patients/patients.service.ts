/**
 * The patients part: the one service in front of the `patients` table (its SQL is in
 * patients.repository.knex.ts) and the one path of every staff action — linking a patient,
 * uploading records, a legacy sync. Each is appended to the audit log under the patient's
 * relationship, so the patient reads it: actor (staff address or "operator"), action, outcome,
 * how many resources, and a salted hash of the MRN (never the MRN).
 */
import { createHmac } from "node:crypto";
import { KNOWN_SCOPES_MASK, maskToScopes } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import { type Address, type Hex, zeroHash } from "viem";
import { ProblemError } from "../errors.ts";
import { type SyncFromLegacyOptions, syncAllFromLegacy, syncFromLegacy } from "../legacy/legacy.service.ts";
import type { IngestResult, RecordsStore } from "../records/records.service.ts";
import type { AuditLog, Caller, ChainWriter, PatientsService } from "../seams.ts";
import { type PatientsRepository, patientsRepository } from "./patients.repository.knex.ts";

/** Staff audit actions (seams.ts AuditEvent.action). */
export const STAFF_ACTIONS = {
  link: "staff.patient.link",
  upload: "staff.records.upload",
  legacySync: "staff.legacy.sync",
} as const;

/**
 * The relationship under which a staff action is recorded when no patient relationship exists
 * (an unknown MRN, a link the chain refused): kept in the provider's audit log, read by no patient.
 */
export const NO_RELATIONSHIP: Hex = zeroHash;

const SALT_CONTEXT = "medrec/audit/mrn-salt/v1";

/**
 * The per-gatekeeper key of MRN hashes: AUDIT_SALT when set, else an HMAC of the delegate seed
 * (secret, and fixed for the lifetime of a gatekeeper's database — an operator key may rotate).
 */
export function auditSaltOf({
  auditSalt,
  delegateMnemonic,
}: {
  auditSalt?: string | undefined;
  delegateMnemonic: string;
}): Buffer {
  return createHmac("sha256", auditSalt ?? delegateMnemonic)
    .update(SALT_CONTEXT)
    .digest();
}

export type CreatePatientsServiceParameters = {
  db: Knex;
  records: RecordsStore;
  audit: AuditLog;
  /** Key of the MRN hashes ({@link auditSaltOf}). */
  auditSalt: Buffer;
  /** Creates relationships on chain; without it `link` answers 503. */
  chainWriter?: Pick<ChainWriter, "registerPatient"> | undefined;
  logger?: Logger | undefined;
  /** Default: the `patients` table of `db`. */
  repository?: PatientsRepository;
};

export type LivePatientsService = PatientsService & ReturnType<typeof createPatientsService>;

const actorOf = (caller: Caller): Address | "operator" =>
  caller.kind === "operator" ? "operator" : caller.address;
const reasonOf = (error: unknown): string => (error instanceof ProblemError ? error.kind : "error");
const categoriesOf = (mask: number) => maskToScopes(mask & KNOWN_SCOPES_MASK);

export function createPatientsService({
  db,
  records,
  audit,
  auditSalt,
  chainWriter,
  logger,
  repository = patientsRepository(db),
}: CreatePatientsServiceParameters) {
  const mrnHash = (mrn: string): Hex => `0x${createHmac("sha256", auditSalt).update(mrn).digest("hex")}`;

  type Outcome = { relationship: Hex | null | undefined; count: number; categories?: string[] };
  const record = (caller: Caller, action: string, mrn: string, outcome: Outcome, error?: unknown) =>
    audit.append({
      relationship: outcome.relationship ?? NO_RELATIONSHIP,
      actor: actorOf(caller),
      action,
      categories: outcome.categories ?? [],
      decision: error === undefined ? "allowed" : "denied",
      ...(error === undefined ? {} : { reason: reasonOf(error) }),
      count: outcome.count,
      mrnHash: mrnHash(mrn),
    });

  /**
   * Runs a staff action on the patient with this MRN and records it: the outcome when it
   * succeeds (the response waits for the entry to commit; a failed append is a 503), the refusal
   * when it fails (then the action's own error is what the caller gets).
   */
  async function audited<T>(
    caller: Caller,
    action: string,
    mrn: string,
    run: () => Promise<T>,
    outcome: (result: T) => Outcome,
  ): Promise<T> {
    let result: T;
    try {
      result = await run();
    } catch (error) {
      const relationship = await repository
        .byMrn(mrn)
        .then((row) => row?.relationshipId)
        .catch(() => undefined);
      await record(caller, action, mrn, { relationship, count: 0 }, error).catch((auditError: unknown) =>
        logger?.error({ err: (auditError as Error)?.name, action }, "staff audit entry failed"),
      );
      throw error;
    }
    await record(caller, action, mrn, outcome(result));
    return result;
  }

  /** The patient of an MRN. @throws {ProblemError} not-found. */
  async function patientOf(mrn: string) {
    const row = await repository.byMrn(mrn);
    if (!row) throw new ProblemError("not-found", "No patient with this MRN at this provider.");
    return row;
  }

  /** A records write for the patient of an MRN, audited with the count and categories it stored. */
  function ingest(
    caller: Caller,
    action: string,
    mrn: string,
    write: (patientId: number) => Promise<IngestResult>,
  ): Promise<IngestResult> {
    let relationship: Hex | null = null;
    return audited(
      caller,
      action,
      mrn,
      async () => {
        const row = await patientOf(mrn);
        relationship = row.relationshipId;
        return write(row.id);
      },
      (r) => ({ relationship, count: r.stored, categories: categoriesOf(r.scopes) }),
    );
  }

  const service = {
    mrnHash,

    /** The local patient id of an MRN, or undefined. */
    idOf(mrn: string): Promise<number | undefined> {
      return repository.idByMrn(mrn);
    },

    async link(caller: Caller, mrn: string, patientAddress: Address) {
      return audited(
        caller,
        STAFF_ACTIONS.link,
        mrn,
        async () => {
          if (!chainWriter) throw new ProblemError("unavailable", "This gatekeeper runs without a chain.");
          const r = (await chainWriter.registerPatient(mrn, patientAddress)) as Awaited<
            ReturnType<ChainWriter["registerPatient"]>
          > & { created?: boolean };
          return { patientId: r.patientId, relationship: r.relationship, created: r.created !== false };
        },
        (r) => ({ relationship: r.relationship, count: 1 }),
      );
    },

    uploadRecords(caller: Caller, mrn: string, bundle: unknown): Promise<IngestResult> {
      return ingest(caller, STAFF_ACTIONS.upload, mrn, (patientId) =>
        records.ingestBundle(patientId, bundle),
      );
    },

    /** Re-syncs one patient from the legacy views (legacy/legacy.service.ts), as `caller`. */
    syncLegacy(
      caller: Caller,
      legacyDb: Knex,
      mrn: string,
      options: Omit<SyncFromLegacyOptions, "records"> = {},
    ): Promise<IngestResult> {
      return ingest(caller, STAFF_ACTIONS.legacySync, mrn, () =>
        syncFromLegacy(legacyDb, mrn, { ...options, records }),
      );
    },

    /** Re-syncs every legacy patient this gatekeeper knows (one audit entry each); others are skipped. */
    syncAllLegacy(caller: Caller, legacyDb: Knex, options: Omit<SyncFromLegacyOptions, "records"> = {}) {
      return syncAllFromLegacy(legacyDb, {
        ...options,
        records,
        // Unknown MRNs are skipped before anything is done (no audit entry for them).
        syncOne: async (mrn) => {
          await patientOf(mrn);
          return service.syncLegacy(caller, legacyDb, mrn, options);
        },
      });
    },
  };
  return service;
}
