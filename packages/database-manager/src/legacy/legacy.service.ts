import type { Knex } from "knex";
import { ProblemError } from "../errors.ts";
import type { IngestResult, RecordsStore } from "../records/records.service.ts";
import { LegacyRepository } from "./legacy.repository.knex.ts";
import { type LegacyMappingOptions, mapLegacyPatient } from "./mapping.ts";

export type SyncFromLegacyOptions = LegacyMappingOptions & {
  /** The gatekeeper's records service: storage, root, cache invalidation and change events. */
  records: RecordsStore;
  /** Schema of the contract views in the legacy database. Default `legacy`. */
  schema?: string;
  /** Provenance name; a re-sync replaces and prunes only this source's resources. Default `legacy`. */
  source?: string;
};

/**
 * Reads one patient from the hospital's existing tables (through the contract views), maps the
 * rows to FHIR R4 and stores them through the same path as bundle intake (validation, leaf,
 * root, change event). A re-sync mirrors the source: changed rows are replaced, deleted rows
 * removed, unchanged rows leave the root (and `meta.lastUpdated`) as they were.
 *
 * @param legacyDb the hospital's database (may be the gatekeeper's own).
 * @throws {ProblemError} not-found when the MRN is in neither the views nor the gatekeeper.
 */
export async function syncFromLegacy(
  legacyDb: Knex,
  mrn: string,
  { records, schema = "legacy", source = "legacy", ...mapping }: SyncFromLegacyOptions,
): Promise<IngestResult> {
  const patientId = await records.patientIdOf(mrn);
  const record = await new LegacyRepository(legacyDb, { schema }).patientRecord(mrn);
  if (!record) throw new ProblemError("not-found", "No patient with this MRN in the legacy source.");
  const resources = mapLegacyPatient(record, { idPrefix: source, ...mapping });
  return records.ingestResources(patientId, resources, { source, prune: true, keepLastUpdated: true });
}

/**
 * Syncs every legacy patient whose MRN the gatekeeper knows (linked with POST /v1/patients);
 * the others are skipped. Returns per MRN what was stored. `syncOne` replaces
 * {@link syncFromLegacy} per MRN (the patients service's audited sync).
 */
export async function syncAllFromLegacy(
  legacyDb: Knex,
  { syncOne, ...options }: SyncFromLegacyOptions & { syncOne?: (mrn: string) => Promise<IngestResult> },
): Promise<{ mrn: string; result?: IngestResult; skipped?: "unknown-mrn" }[]> {
  const mrns = await new LegacyRepository(legacyDb, { schema: options.schema ?? "legacy" }).listMrns();
  const out: { mrn: string; result?: IngestResult; skipped?: "unknown-mrn" }[] = [];
  for (const mrn of mrns) {
    try {
      out.push({ mrn, result: await (syncOne ? syncOne(mrn) : syncFromLegacy(legacyDb, mrn, options)) });
    } catch (error) {
      if (error instanceof ProblemError && error.kind === "not-found")
        out.push({ mrn, skipped: "unknown-mrn" });
      else throw error;
    }
  }
  return out;
}
