import { type Hex, sha256, stringToBytes } from "viem";
import { toChecksumAddress } from "./keys.ts";
import { canonicalJson, EMPTY_RECORD_ROOT } from "./record-root.ts";

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
};

/**
 * The `hash` of an audit entry: SHA-256 of the RFC 8785 canonical JSON of every field but
 * `hash` (so `prevHash` is covered and the entries form a chain), with `actor` EIP-55 and
 * `prevHash` lower case whatever their case in `entry`. The optional `count` and `mrnHash` (staff
 * actions) are covered when present and absent from the JSON otherwise, so entries without them
 * hash as before.
 */
export function auditEntryHash(entry: AuditEntryFields): Hex {
  const { at, actor, action, categories, decision, prevHash, count, mrnHash } = entry;
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
