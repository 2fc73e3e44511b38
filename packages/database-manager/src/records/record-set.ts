import {
  annotateBundle,
  type FhirBundle,
  hasScopes,
  leafHash,
  recordTree,
  SCOPE_BITS,
  type ScopeCode,
} from "@medrec/protocol";
import type { Hex } from "viem";
import type { RecordSet, StoredResource } from "../seams.ts";

/**
 * A record set as the read path serves it: the {@link RecordSet} of seams.ts plus what makes
 * serving cheap, computed once per change: each entry already serialized with its proof.
 */
export type ServedRecordSet = RecordSet & {
  /** `entryJson[i]` = JSON of `{ resource, search, extension: [proof] }` for `resources[i]`. */
  entryJson: readonly string[];
  /** JSON of the searchset's `meta` (`lastUpdated` and the record-root extension). */
  metaJson: string;
  /** Latest `lastUpdated` of the set (epoch when empty). */
  updatedAt: Date;
};

/**
 * Builds the tree (PROTOCOL.md, `recordTree` of @medrec/protocol) over the resources' leaves
 * and pre-serializes every entry with its proof (`annotateBundle`). Resources come out in tree
 * order (ascending leaf), so the bundle order never depends on the database's.
 */
export function buildRecordSet(patientId: number, stored: readonly StoredResource[]): ServedRecordSet {
  const resources = [...stored].sort((a, b) => (a.leaf < b.leaf ? -1 : a.leaf > b.leaf ? 1 : 0));
  const tree = recordTree(resources.map((r) => r.leaf));
  const updatedAt = new Date(Math.max(0, ...resources.map((r) => r.lastUpdated.getTime())));
  const annotated = annotateBundle(
    {
      resourceType: "Bundle",
      type: "searchset",
      meta: { lastUpdated: updatedAt.toISOString() },
      entry: resources.map((r) => ({ resource: r.resource, search: { mode: "match" } })),
    } satisfies FhirBundle,
    tree,
  );
  return {
    patientId,
    root: tree.root,
    resources,
    proofs: tree.proofs,
    entryJson: annotated.entry.map((e) => JSON.stringify(e)),
    metaJson: JSON.stringify(annotated.meta),
    updatedAt,
  };
}

/** A stored resource from its content: leaf and scopes computed from exactly what is served. */
export function toStoredResource(
  resource: StoredResource["resource"],
  scopeMask: number,
  lastUpdated: Date,
): StoredResource {
  return { resource, leaf: leafHash(resource) as Hex, scopeMask, lastUpdated };
}

/** What a reader may receive of a set. */
export type SelectRecordsParameters = {
  /** The caller's scope bits; omit for the patient (everything). */
  granted?: number;
  /** `?category=`: only resources in this scope (`sensitive` = the sensitive ones). */
  category?: ScopeCode;
  /** `?_since=`: only resources with `meta.lastUpdated` at or after this instant. */
  since?: Date;
};

/** Indexes (into `set.resources`) of the entries a caller may see, in tree order. */
export function selectRecords(
  set: RecordSet,
  { granted, category, since }: SelectRecordsParameters,
): number[] {
  const categoryBit = category === undefined ? 0 : 1 << SCOPE_BITS[category];
  const sinceMs = since?.getTime();
  const out: number[] = [];
  set.resources.forEach((r, i) => {
    if (granted !== undefined && !hasScopes(granted, r.scopeMask)) return;
    if (categoryBit && (r.scopeMask & categoryBit) === 0) return;
    if (sinceMs !== undefined && r.lastUpdated.getTime() < sinceMs) return;
    out.push(i);
  });
  return out;
}

/**
 * The FHIR R4 `searchset` Bundle of the chosen entries as JSON text, by concatenating the
 * pre-serialized parts: the root of the WHOLE set in `Bundle.meta.extension` and each entry's
 * proof, so a viewer with narrower scopes can still verify what it gets (PROTOCOL.md).
 */
export function renderSearchset(set: ServedRecordSet, indexes: readonly number[]): string {
  let entries = "";
  for (let k = 0; k < indexes.length; k++) {
    const json = set.entryJson[indexes[k] as number];
    if (json === undefined) throw new RangeError("renderSearchset: index out of range");
    entries += k === 0 ? json : `,${json}`;
  }
  return `{"resourceType":"Bundle","type":"searchset","meta":${set.metaJson},"total":${indexes.length},"entry":[${entries}]}`;
}
