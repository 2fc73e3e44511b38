import { AUDIT_GENESIS_HASH, findAuditChainBreak } from "@medrec/protocol";
import type { Knex } from "knex";
import {
  type AuditRow,
  CHAIN_GENESIS_HASH,
  chainHash,
  entryHash,
  rowFields,
  toAuditEntry,
} from "./audit.entry.ts";
import { auditRepository } from "./audit.repository.knex.ts";

/** The first entry found not to be as it was appended. */
export type AuditBreak = {
  id: string;
  at: string;
  relationship: string;
  /** What does not hold, e.g. "its hash does not match its content (edited)". */
  problem: string;
};

export type AuditVerification =
  | { ok: true; entries: number; relationships: number }
  | { ok: false; entries: number; firstBad: AuditBreak };

export type VerifyAuditLogParameters = {
  /** Only this relationship's chain (the one its patient is served). */
  relationship?: string;
  pageSize?: number;
};

const describe = (row: AuditRow, problem: string): AuditBreak => ({
  id: row.id,
  at: row.at.toISOString(),
  relationship: row.relationship,
  problem,
});

/**
 * Re-derives every hash of the audit log and names the first entry (lowest id) that breaks it:
 * an edited row breaks its own hash, a deleted one breaks the next row's `prev_hash` and the
 * contiguous ids. A deletion of the newest rows only is invisible to any hash chain: compare
 * with an earlier `entries` count or a hash a patient was served.
 */
export async function verifyAuditLog(
  db: Knex,
  { relationship, pageSize = 5000 }: VerifyAuditLogParameters = {},
): Promise<AuditVerification> {
  const repository = auditRepository(db);

  if (relationship !== undefined) {
    const rows = await repository.relationshipRows(relationship);
    const index = findAuditChainBreak(rows.map(toAuditEntry));
    if (index === -1) return { ok: true, entries: rows.length, relationships: rows.length > 0 ? 1 : 0 };
    const row = rows[index] as AuditRow;
    const previous = index === 0 ? AUDIT_GENESIS_HASH : (rows[index - 1] as AuditRow).hash;
    return {
      ok: false,
      entries: rows.length,
      firstBad: describe(
        row,
        row.prev_hash !== previous
          ? "its prev_hash is not the hash of the relationship's previous entry (an entry was removed or edited)"
          : "its hash does not match its content (edited)",
      ),
    };
  }

  const heads = new Map<string, string>();
  let expectedId = 1n;
  let prevChainHash: string = CHAIN_GENESIS_HASH;
  let entries = 0;
  for (let afterId = "0"; ; ) {
    const rows = await repository.page(afterId, pageSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      const bad = (problem: string): AuditVerification => ({
        ok: false,
        entries,
        firstBad: describe(row, problem),
      });
      if (BigInt(row.id) !== expectedId)
        return bad(`entries ${expectedId}…${BigInt(row.id) - 1n} before it are missing (removed)`);
      const prevHash = heads.get(row.relationship) ?? AUDIT_GENESIS_HASH;
      if (row.prev_hash !== prevHash)
        return bad(
          "its prev_hash is not the hash of the relationship's previous entry (an entry was removed or edited)",
        );
      const hash = entryHash(rowFields(row), prevHash);
      if (row.hash !== hash) return bad("its hash does not match its content (edited)");
      const chain = chainHash({
        id: row.id,
        relationship: row.relationship,
        hash,
        reason: row.reason,
        prevChainHash,
      });
      if (row.chain_hash !== chain) return bad("its chain_hash does not match (edited)");
      heads.set(row.relationship, hash);
      prevChainHash = chain;
      expectedId += 1n;
      entries += 1;
    }
    afterId = (rows[rows.length - 1] as AuditRow).id;
  }
  return { ok: true, entries, relationships: heads.size };
}
