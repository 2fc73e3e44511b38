import { leafHash, recordTree } from "@medrec/protocol";
import type { Hex } from "viem";
import type { RecordSet, StoredResource } from "../seams.ts";

/**
 * Builds the tree (docs/protocol.md, `recordTree` of @medrec/protocol) over the resources' leaves.
 * Resources come out in tree order (ascending leaf), so the bundle order never depends on the
 * database's. Serving (filtering, the searchset's JSON with each proof) is `access/bundle.ts`.
 */
export function buildRecordSet(patientId: number, stored: readonly StoredResource[]): RecordSet {
  const resources = [...stored].sort((a, b) => (a.leaf < b.leaf ? -1 : a.leaf > b.leaf ? 1 : 0));
  const tree = recordTree(resources.map((r) => r.leaf));
  return { patientId, root: tree.root, resources, proofs: tree.proofs };
}

/** A stored resource from its content: leaf and scopes computed from exactly what is served. */
export function toStoredResource(
  resource: StoredResource["resource"],
  scopeMask: number,
  lastUpdated: Date,
): StoredResource {
  return { resource, leaf: leafHash(resource) as Hex, scopeMask, lastUpdated };
}
