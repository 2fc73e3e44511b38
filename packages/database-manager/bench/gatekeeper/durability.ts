/**
 * "No audited read is answered before its audit entry is durable", checked at run time: with
 * fsync and synchronous_commit on, a committed transaction is flushed to the WAL on disk before
 * COMMIT returns, so it is enough that every answered read's entry is already committed. `n`
 * sequential reads; after each 200 arrives, another connection (the bench's own pool, not the
 * gatekeeper's) counts the relationship's audit rows: each read must have added exactly one.
 * (The code path: access.service.ts awaits `audit.append`, which resolves only after the group
 * commit's transaction holding the entry has committed — audit.log.ts.)
 */
import type { Hex } from "viem";
import { get, type System } from "./setup.ts";

export async function auditCommittedBeforeAnswer(sys: System, relationship: Hex, token: string, n = 50) {
  const count = async () =>
    Number(
      (await sys.env.db("audit_log").where({ relationship: relationship.toLowerCase() }).count({ n: "*" }))[0]
        ?.n,
    );
  let before = await count();
  let late = 0;
  for (let i = 0; i < n; i++) {
    const r = await get(sys.recordsUrl(relationship), token);
    if (r.status !== 200) throw new Error(`a read answered ${r.status}`);
    const after = await count();
    if (after !== before + 1) late += 1;
    before = after;
  }
  return {
    reads: n,
    entryNotCommittedAtAnswer: late,
    how: "each of n sequential reads: after its 200 arrived, a separate connection counted the relationship's audit_log rows (committed rows only); each read must have added exactly one. With fsync=on and synchronous_commit=on a commit returns only after its WAL is flushed, so committed = durable. Code: access.service.ts awaits audit.append, which resolves after the group-commit transaction holding the entry commits (audit.log.ts).",
  };
}
