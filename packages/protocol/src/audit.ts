import { type Hex, sha256, stringToBytes } from "viem";
import { toChecksumAddress } from "./keys.ts";
import { canonicalJson, EMPTY_RECORD_ROOT } from "./record-root.ts";
import { auditLeafHash, type TreeHead, verifyInclusion } from "./transparency-log.ts";

/** `prevHash` of the first entry of a relationship's audit chain: 32 zero bytes. */
export const AUDIT_GENESIS_HASH: Hex = EMPTY_RECORD_ROOT;

/** The fields of an audit entry as served or stored (any address / hash case). */
export type AuditEntryFields = {
  at: string;
  actor: string;
  action: string;
  categories: readonly string[];
  decision: string;
  prevHash: string;
  /** Staff actions: how many items the action covered (e.g. resources uploaded). */
  count?: number | undefined;
  /** Staff actions: a salted hash of the MRN concerned (hex). */
  mrnHash?: string | undefined;
  /**
   * Aggregated refusals (`refusals.aggregate`, adr/0014): how many distinct accounts the `count`
   * refusals came from.
   */
  actors?: number | undefined;
};

/**
 * The `hash` of an audit entry: SHA-256 of the RFC 8785 canonical JSON of every field but
 * `hash` (so `prevHash` is covered and the entries form a chain), with `actor` EIP-55 and
 * `prevHash` lower case whatever their case in `entry`. The optional `count` and `mrnHash` (staff
 * actions, aggregated refusals) and `actors` (aggregated refusals) are covered when present and
 * absent from the JSON otherwise, so entries without them hash as before.
 */
export function auditEntryHash(entry: AuditEntryFields): Hex {
  const { at, actor, action, categories, decision, prevHash, count, mrnHash, actors } = entry;
  return sha256(
    stringToBytes(
      canonicalJson({
        at,
        actor: toChecksumAddress(actor),
        action,
        categories,
        decision,
        prevHash: prevHash.toLowerCase(),
        ...(count === undefined ? {} : { count }),
        ...(mrnHash === undefined ? {} : { mrnHash: mrnHash.toLowerCase() }),
        ...(actors === undefined ? {} : { actors }),
      }),
    ),
    "hex",
  );
}

/**
 * Checks an audit list in order: each `prevHash` is the previous `hash` (the genesis hash first)
 * and each `hash` matches its entry. Returns the index of the first broken entry, or -1.
 */
export function findAuditChainBreak(entries: readonly (AuditEntryFields & { hash: string })[]): number {
  let previous = AUDIT_GENESIS_HASH;
  for (const [index, entry] of entries.entries()) {
    if (entry.prevHash.toLowerCase() !== previous) return index;
    const hash = auditEntryHash(entry);
    if (entry.hash.toLowerCase() !== hash) return index;
    previous = hash;
  }
  return -1;
}

/** A problem found by {@link verifyAuditPage}; `index` is the entry's position in the page. */
export type AuditPageProblem = {
  kind: "edited" | "removed" | "reordered" | "shortened" | "not-in-anchored-tree" | "unanchored";
  index?: number;
  message: string;
};

export type AuditPageVerification = {
  ok: boolean;
  problems: AuditPageProblem[];
  /** Per entry of the page: proven in an anchored head, or newer than the latest one. */
  proofs: ("verified" | "pending" | "failed")[];
};

/**
 * Checks ONE page of a relationship's audit entries served newest first (`order=desc`), without the
 * rest of the log (adr/0014): each entry's hash matches its content; each entry chains onto the
 * next (older) one in the page; the page's newest entry is the one the previous page's oldest
 * entry chained onto (`olderThan`, that entry's `prevHash`); log positions decrease; each entry
 * inside the latest anchored head comes with an inclusion proof to an anchored head that verifies;
 * and on the last page (`last`), the oldest entry starts the chain (its `prevHash` is the genesis
 * hash). A log cut or rewritten behind the latest anchored head is found by the consistency proof
 * between the anchored heads, which the caller checks once per log, not per page.
 *
 * @example
 * const result = verifyAuditPage({ relationship, entries: page, heads, last: next === undefined })
 */
export function verifyAuditPage({
  relationship,
  entries,
  heads,
  olderThan,
  last,
}: {
  relationship: string;
  /** The page, newest first. */
  entries: readonly (AuditEntryFields & {
    hash: string;
    leafIndex?: number | undefined;
    inclusion?: { treeSize: number; path: readonly string[] } | undefined;
  })[];
  /** The log's anchored heads (any order). */
  heads: readonly TreeHead[];
  /** The `prevHash` of the oldest entry of the previous (newer) page; none for the first page. */
  olderThan?: string | undefined;
  /** No older page follows. */
  last: boolean;
}): AuditPageVerification {
  const problems: AuditPageProblem[] = [];
  const broken = new Set<number>();
  const add = (problem: AuditPageProblem) => {
    problems.push(problem);
    if (problem.index !== undefined) broken.add(problem.index);
  };
  const latestSize = Math.max(0, ...heads.map((h) => h.size));
  const bySize = new Map(heads.map((h) => [h.size, h.root.toLowerCase()]));
  const name = (i: number, e: AuditEntryFields) => `entry ${i} (${e.action} by ${e.actor} at ${e.at})`;
  const pending = new Set<number>();
  for (const [i, entry] of entries.entries()) {
    const hash = entry.hash.toLowerCase();
    if (auditEntryHash(entry) !== hash)
      add({
        kind: "edited",
        index: i,
        message: `${name(i, entry)} was edited: its hash does not match its content`,
      });
    const newer = i === 0 ? olderThan : entries[i - 1]?.prevHash;
    if (newer !== undefined && newer.toLowerCase() !== hash)
      add({
        kind: "removed",
        index: i,
        message: `${name(i, entry)} is not the entry the newer one chains onto: an entry between them was removed, moved or edited`,
      });
    if (last && i === entries.length - 1 && entry.prevHash.toLowerCase() !== AUDIT_GENESIS_HASH)
      add({
        kind: "removed",
        index: i,
        message: `${name(i, entry)} is served as the oldest, but it follows another entry: older entries were removed`,
      });
    const leafIndex = entry.leafIndex;
    if (leafIndex === undefined) {
      add({ kind: "unanchored", index: i, message: `${name(i, entry)} has no log position` });
      continue;
    }
    const newerIndex = i === 0 ? undefined : entries[i - 1]?.leafIndex;
    if (newerIndex !== undefined && leafIndex >= newerIndex)
      add({
        kind: "reordered",
        index: i,
        message: `${name(i, entry)} was reordered: its log position ${leafIndex} is not before the newer entry's ${newerIndex}`,
      });
    if (!entry.inclusion) {
      if (leafIndex < latestSize)
        add({
          kind: "not-in-anchored-tree",
          index: i,
          message: `${name(i, entry)} sits at log position ${leafIndex}, inside the anchored head of ${latestSize} entries, but comes without a proof`,
        });
      else pending.add(i);
      continue;
    }
    const { treeSize, path } = entry.inclusion;
    const root = bySize.get(treeSize);
    if (root === undefined) {
      add(
        treeSize < latestSize
          ? {
              kind: "shortened",
              index: i,
              message: `the log was shortened: the gatekeeper proves entries against a tree of ${treeSize} entries, but it anchored ${latestSize} on chain`,
            }
          : {
              kind: "unanchored",
              index: i,
              message: `${name(i, entry)} is proven against a tree of ${treeSize} entries that was never anchored`,
            },
      );
      continue;
    }
    if (!verifyInclusion(auditLeafHash({ relationship, hash }), leafIndex, treeSize, path, root))
      add({
        kind: "not-in-anchored-tree",
        index: i,
        message: `${name(i, entry)} is not in the anchored tree of ${treeSize} entries: it was edited, moved or inserted after anchoring`,
      });
  }
  return {
    ok: problems.length === 0,
    problems,
    proofs: entries.map((_, i) => (broken.has(i) ? "failed" : pending.has(i) ? "pending" : "verified")),
  };
}
