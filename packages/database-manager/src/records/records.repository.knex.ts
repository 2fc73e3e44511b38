import { recordRoot } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Hex } from "viem";
import type { FhirResource } from "../seams.ts";

/** One resource ready to store (computed by the service). */
export type ResourceRow = {
  resource: FhirResource;
  leaf: Hex;
  contentHash: Hex;
  scopeMask: number;
  lastUpdated: Date;
};

/** A stored resource as read back. */
export type StoredRow = { resource: FhirResource; leaf: Hex; scopeMask: number; lastUpdated: Date };

/** What a write did, decided and committed in one transaction. */
export type WriteOutcome = {
  /** Resources inserted or replaced (content differed). */
  changed: number;
  /** Resources removed by a pruning re-sync. */
  removed: number;
  root: Hex;
  version: number;
};

type DbResourceRow = {
  resource_type: string;
  fhir_id: string;
  content: FhirResource;
  leaf: string;
  scope_mask: number;
  last_updated: Date;
};

/** The records tables (migration 0002_records). Only this file touches them. */
export function recordsRepository(db: Knex) {
  return {
    /**
     * The committed version of a patient's set (0 before the first write): one primary-key lookup,
     * done on every read to validate the serving cache.
     */
    async version(patientId: number): Promise<number> {
      const row = await db("record_sets").where({ patient_id: patientId }).first("version");
      return row ? Number(row.version) : 0;
    },

    /**
     * Every stored resource of a patient and the version they belong to, read in one snapshot
     * (REPEATABLE READ), so a concurrent write can never pair new rows with an old version.
     */
    async snapshot(patientId: number): Promise<{ version: number; rows: StoredRow[] }> {
      return db.transaction(
        async (trx) => {
          const state = await trx("record_sets").where({ patient_id: patientId }).first("version");
          const rows: DbResourceRow[] = await trx("record_resources")
            .where({ patient_id: patientId })
            .select("resource_type", "fhir_id", "content", "leaf", "scope_mask", "last_updated");
          return {
            version: state ? Number(state.version) : 0,
            rows: rows.map((r) => ({
              resource: r.content,
              leaf: r.leaf as Hex,
              scopeMask: r.scope_mask,
              lastUpdated: new Date(r.last_updated),
            })),
          };
        },
        { isolationLevel: "repeatable read", readOnly: true },
      );
    },

    /**
     * Upserts `rows` (type+id replaces), skipping those whose content is unchanged, and with
     * `prune` deletes this source's other rows. One transaction, serialized per patient by a row
     * lock on `record_sets`; the root is recomputed from the committed leaves before commit.
     */
    async writeResources(
      patientId: number,
      rows: readonly ResourceRow[],
      { source, prune }: { source: string; prune: boolean },
    ): Promise<WriteOutcome> {
      return db.transaction(async (trx) => {
        await trx("record_sets")
          .insert({ patient_id: patientId, root: recordRoot([]), version: 0 })
          .onConflict("patient_id")
          .ignore();
        const state = await trx("record_sets").where({ patient_id: patientId }).forUpdate().first("version");
        const existing: { resource_type: string; fhir_id: string; content_hash: string; source: string }[] =
          await trx("record_resources")
            .where({ patient_id: patientId })
            .select("resource_type", "fhir_id", "content_hash", "source");
        const known = new Map(existing.map((e) => [`${e.resource_type}/${e.fhir_id}`, e]));

        const changed = rows.filter((r) => {
          const e = known.get(`${r.resource.resourceType}/${r.resource.id}`);
          return !e || e.content_hash !== r.contentHash || e.source !== source;
        });
        for (let i = 0; i < changed.length; i += 500) {
          await trx("record_resources")
            .insert(
              changed.slice(i, i + 500).map((r) => ({
                patient_id: patientId,
                resource_type: r.resource.resourceType,
                fhir_id: r.resource.id,
                content: JSON.stringify(r.resource),
                leaf: r.leaf,
                content_hash: r.contentHash,
                scope_mask: r.scopeMask,
                source,
                last_updated: r.lastUpdated,
              })),
            )
            .onConflict(["patient_id", "resource_type", "fhir_id"])
            .merge(["content", "leaf", "content_hash", "scope_mask", "source", "last_updated"]);
        }

        let removed = 0;
        if (prune) {
          const keep = new Set(rows.map((r) => `${r.resource.resourceType}/${r.resource.id}`));
          const gone = existing.filter(
            (e) => e.source === source && !keep.has(`${e.resource_type}/${e.fhir_id}`),
          );
          for (const e of gone) {
            removed += await trx("record_resources")
              .where({ patient_id: patientId, resource_type: e.resource_type, fhir_id: e.fhir_id })
              .delete();
          }
        }

        const leaves = (await trx("record_resources")
          .where({ patient_id: patientId })
          .pluck("leaf")) as Hex[];
        const root = recordRoot(leaves);
        let version = Number(state?.version ?? 0);
        if (changed.length || removed) {
          version += 1;
          await trx("record_sets")
            .where({ patient_id: patientId })
            .update({ root, version, resource_count: leaves.length, updated_at: trx.fn.now() });
        }
        return { changed: changed.length, removed, root, version };
      });
    },
  };
}

export type RecordsRepository = ReturnType<typeof recordsRepository>;
