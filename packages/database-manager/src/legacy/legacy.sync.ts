/**
 * The periodic legacy sync: every LEGACY_SYNC_INTERVAL_SECONDS (and once at start) each linked
 * patient whose rows in the contract views changed is re-synced through the patients service —
 * all or nothing, audited as `staff.legacy.sync` by the operator — and its new root is
 * published by the record-change listener. Unchanged patients are left alone (nothing written,
 * audited or published). A failure is logged without PHI and retried at the next interval.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import { createDb } from "../db/knex.ts";
import { ProblemError } from "../errors.ts";
import { patientsRepository } from "../patients/patients.repository.knex.ts";
import type { LivePatientsService } from "../patients/patients.service.ts";
import type { RecordsStore } from "../records/records.service.ts";
import type { LegacyConfig } from "./config.ts";
import { legacyRepository } from "./legacy.repository.knex.ts";
import { legacyChanged } from "./legacy.service.ts";

export type LegacySyncSummary = {
  /** Patients in the views. */
  patients: number;
  /** Not linked at this gatekeeper (or the link is not confirmed on chain yet): skipped. */
  skipped: number;
  unchanged: number;
  /** Re-synced (one audit entry each), with the local ids whose stored set changed. */
  synced: number;
  changedPatientIds: number[];
  /** Could not be synced (logged; retried at the next run). */
  failed: number;
};

export type RunLegacySyncParameters = {
  legacyDb: Knex;
  /** The gatekeeper's database (its `patients` table: who is linked). */
  db: Knex;
  patients: Pick<LivePatientsService, "syncLegacy" | "mrnHash">;
  records: RecordsStore;
  schema: string;
  mrnSystem?: string | undefined;
  logger?: Logger | undefined;
  /** Checked between patients: a stopping gatekeeper does not wait for the whole run. */
  stopped?: () => boolean;
};

/** What a log line may say about an error: its name, the problem kind and detail (never values), a SQLSTATE. */
export function errorFields(error: unknown): Record<string, string> {
  if (error instanceof ProblemError) return { err: error.name, kind: error.kind, detail: error.detail };
  const code = (error as { code?: unknown } | null)?.code;
  return { err: (error as Error | null)?.name ?? "error", ...(typeof code === "string" ? { code } : {}) };
}

/** One sync of every patient in the views, as the operator. @throws when the views cannot be listed. */
export async function runLegacySync({
  legacyDb,
  db,
  patients,
  records,
  schema,
  mrnSystem,
  logger,
  stopped = () => false,
}: RunLegacySyncParameters): Promise<LegacySyncSummary> {
  const linked = patientsRepository(db);
  const options = { schema, ...(mrnSystem ? { mrnSystem } : {}) };
  const mrns = await legacyRepository(legacyDb, { schema }).listMrns();
  const summary: LegacySyncSummary = {
    patients: mrns.length,
    skipped: 0,
    unchanged: 0,
    synced: 0,
    changedPatientIds: [],
    failed: 0,
  };
  for (const mrn of mrns) {
    if (stopped()) break;
    // Only once the relationship exists: the audit entry goes under it, where the patient reads it.
    const row = await linked.byMrn(mrn);
    if (!row?.relationshipId) {
      summary.skipped++;
      continue;
    }
    const patientId = row.id;
    try {
      if (!(await legacyChanged(legacyDb, mrn, patientId, { records, ...options }))) {
        summary.unchanged++;
        continue;
      }
      const result = await patients.syncLegacy({ kind: "operator" }, legacyDb, mrn, options);
      summary.synced++;
      if (result.changed > 0 || result.removed > 0) summary.changedPatientIds.push(patientId);
    } catch (error) {
      summary.failed++;
      logger?.warn(
        { ...errorFields(error), patientId, mrnHash: patients.mrnHash(mrn) },
        "legacy sync of a patient failed",
      );
    }
  }
  return summary;
}

export type LegacySync = { stop(): Promise<void> };

/**
 * Starts the periodic sync when LEGACY_SYNC_INTERVAL_SECONDS > 0 and the gatekeeper has its
 * patients service (chain on); else undefined. Runs once now, then an interval after each run ends.
 */
export function startLegacySync({
  config,
  db,
  patients,
  records,
  logger,
}: {
  config: LegacyConfig;
  /** The gatekeeper's database: the views' when LEGACY_DATABASE_URL is unset. */
  db: Knex;
  patients: LivePatientsService | undefined;
  records: RecordsStore;
  logger: Logger;
}): LegacySync | undefined {
  if (!patients || config.LEGACY_SYNC_INTERVAL_SECONDS === 0) return undefined;
  const log = logger.child({ component: "legacy-sync" });
  const legacyDb = config.LEGACY_DATABASE_URL ? createDb(config.LEGACY_DATABASE_URL, { poolMax: 2 }) : db;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const tick = () => {
    running = runLegacySync({
      legacyDb,
      db,
      patients,
      records,
      schema: config.LEGACY_SCHEMA,
      mrnSystem: config.LEGACY_MRN_SYSTEM,
      logger: log,
      stopped: () => stopped,
    }).then(
      ({ changedPatientIds, ...counts }) => {
        const changed = changedPatientIds.length;
        log[changed > 0 || counts.failed > 0 ? "info" : "debug"]({ ...counts, changed }, "legacy sync done");
      },
      (error: unknown) => log.warn(errorFields(error), "legacy sync failed; retrying at the next interval"),
    );
    void running.finally(() => {
      running = undefined;
      if (!stopped) timer = setTimeout(tick, config.LEGACY_SYNC_INTERVAL_SECONDS * 1000);
    });
  };
  tick();
  log.info(
    { intervalSeconds: config.LEGACY_SYNC_INTERVAL_SECONDS, schema: config.LEGACY_SCHEMA },
    "legacy sync on",
  );
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (legacyDb !== db) await legacyDb.destroy();
    },
  };
}
