import { leafHash } from "@medrec/protocol";
import type { Knex } from "knex";
import { ProblemError } from "../errors.ts";
import type { IngestResult, RecordsStore } from "../records/records.service.ts";
import type { FhirResource } from "../seams.ts";
import { legacyRepository } from "./legacy.repository.knex.ts";
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
  const resources = await readLegacyResources(legacyDb, mrn, { schema, source, ...mapping });
  return records.ingestResources(patientId, resources, { source, prune: true, keepLastUpdated: true });
}

/** The patient's rows in the contract views, mapped to FHIR R4. @throws {ProblemError} not-found, unprocessable. */
async function readLegacyResources(
  legacyDb: Knex,
  mrn: string,
  { schema, source, ...mapping }: LegacyMappingOptions & { schema: string; source: string },
): Promise<FhirResource[]> {
  const record = await legacyRepository(legacyDb, { schema }).patientRecord(mrn);
  if (!record) throw new ProblemError("not-found", "No patient with this MRN in the legacy source.");
  return mapLegacyPatient(record, { idPrefix: source, ...mapping });
}

/** A resource's content as stored, without `meta.lastUpdated` (what a re-sync compares). */
function contentOf(resource: FhirResource): string {
  const r = JSON.parse(JSON.stringify(resource)) as FhirResource & { meta?: Record<string, unknown> };
  if (r.meta) {
    delete r.meta.lastUpdated;
    delete r.meta.versionId;
    if (Object.keys(r.meta).length === 0) delete r.meta;
  }
  return leafHash(r);
}

/**
 * Whether a sync of this patient would change what is stored: a row added, changed or deleted
 * in the views since the last sync (`updated_at` alone does not count). Reads and maps the
 * views; writes nothing. Lets the periodic sync leave unchanged patients alone (no write, no
 * audit entry, no publication).
 */
export async function legacyChanged(
  legacyDb: Knex,
  mrn: string,
  patientId: number,
  { records, schema = "legacy", source = "legacy", ...mapping }: SyncFromLegacyOptions,
): Promise<boolean> {
  const resources = await readLegacyResources(legacyDb, mrn, { schema, source, ...mapping });
  const stored = new Map<string, string>();
  for (const { resource } of (await records.recordSet(patientId)).resources) {
    if (typeof resource.id === "string" && resource.id.startsWith(`${source}-`))
      stored.set(`${resource.resourceType}/${resource.id}`, contentOf(resource));
  }
  if (stored.size !== resources.length) return true;
  return resources.some((r) => stored.get(`${r.resourceType}/${r.id}`) !== contentOf(r));
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
  const mrns = await legacyRepository(legacyDb, { schema: options.schema ?? "legacy" }).listMrns();
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
