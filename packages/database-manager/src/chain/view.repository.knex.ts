import type { Knex } from "knex";
import type { Address, Hex } from "viem";

/** Which chain a snapshot was built from: a snapshot of other contracts or another deployment block is not loaded. */
export type SnapshotOrigin = { agent: Address; relationship: Address; startBlock: bigint };
/** A relationship as persisted (bigints as decimal strings; grants as [viewer, scopes, expiresAt]). */
export type RelationshipRecord = {
  patientAgent: Address;
  provider: Address;
  ended: boolean;
  recordRoot: Hex;
  sequence: string;
  grants: [Address, number, string][];
  /**
   * Every viewer ever granted (revoked and expired ones included), in order of first grant
   * (adr/0014). Absent in snapshots saved before it was kept: then the current grants' viewers.
   */
  granted?: Address[];
};
export type AgentRecord = { owner: Address; custodians: Address[]; encryptionKey: Hex };
/** The view at `block`: every followed relationship and agent (null: followed, no event yet). */
export type Snapshot = {
  block: bigint;
  hash: Hex;
  relationships: [Hex, RelationshipRecord | null][];
  agents: [Address, AgentRecord | null][];
  /** Loaded only: the journal's checkpoints that chain back from the cursor, oldest first (one writer's). */
  checkpoints?: JournalEntry[];
};
/**
 * `saved`; `behind`: the stored snapshot is at this block or later (another process got there);
 * `unfollowed`: the stored snapshot follows relationships or agents this process does not (it must
 * follow them first, or a save would leave their rows behind the cursor); `diverged`: the stored
 * cursor is at a block where this process's chain has another hash (another process saved a branch
 * this one does not hold): only a save of every row (`replace`) may follow it.
 */
export type SaveOutcome = "saved" | "behind" | "unfollowed" | "diverged";

/**
 * One checkpoint of the view's undo journal (migration 0009): the view was at `block`/`hash`; going
 * back to the checkpoint before it (`prev`) restores `relationships` and `agents` to these states
 * (null: followed, no event yet, or not held), and stops following each `follows` key whose history
 * was fetched up to a block after the one gone back to (kind, key, that block).
 */
export type JournalEntry = {
  block: bigint;
  hash: Hex;
  prev: bigint;
  prevHash: Hex | undefined;
  relationships: [Hex, RelationshipRecord | null][];
  agents: [Address, AgentRecord | null][];
  follows: ["relationship" | "agent", string, bigint][];
};
/** The journal a save writes: `entries` (upserted by block), rows below `keepFrom` or above the cursor dropped. */
export type JournalWrite = { writer: string; entries: JournalEntry[]; keepFrom: bigint };

/** Advisory-lock key of snapshot writes (pg_advisory_xact_lock(ns, 0)): one writer at a time. */
const LOCK_NAMESPACE = 0x4d56; // "MV"
const BATCH = 1_000;

type JournalRow = {
  block: string;
  hash: Hex;
  prev: string;
  prev_hash: Hex | null;
  writer: string;
  undo: Undo;
};
type Undo = Pick<JournalEntry, "relationships" | "agents"> & {
  follows: [JournalEntry["follows"][number][0], string, string][];
};
const entryOf = (row: JournalRow): JournalEntry => ({
  block: BigInt(row.block),
  hash: row.hash,
  prev: BigInt(row.prev),
  prevHash: row.prev_hash ?? undefined,
  relationships: row.undo.relationships,
  agents: row.undo.agents,
  follows: row.undo.follows.map(([kind, key, at]) => [kind, key, BigInt(at)]),
});
const rowOf = (writer: string, e: JournalEntry) => ({
  block: e.block.toString(),
  hash: e.hash,
  prev: e.prev.toString(),
  prev_hash: e.prevHash ?? null,
  writer,
  undo: JSON.stringify({
    relationships: e.relationships,
    agents: e.agents,
    follows: e.follows.map(([kind, key, at]) => [kind, key, at.toString()]),
  } satisfies Undo),
});

/**
 * The checkpoints that chain back from the cursor (`block`, `hash`): each the `prev` of the next,
 * with the hash it named, all saved by the writer of the newest; oldest first.
 */
function journalChain(rows: JournalRow[], block: bigint, hash: Hex): JournalEntry[] {
  const byBlock = new Map(rows.map((r) => [BigInt(r.block), r]));
  const chain: JournalEntry[] = [];
  let row = byBlock.get(block);
  if (!row || row.hash !== hash) return chain;
  const writer = row.writer;
  for (;;) {
    const entry = entryOf(row);
    chain.unshift(entry);
    if (entry.prev >= entry.block) break;
    const before = byBlock.get(entry.prev);
    if (!before || before.hash !== entry.prevHash || before.writer !== writer) break;
    row = before;
  }
  return chain;
}

/** The chain view's snapshot tables (migration 0008) — the only code that touches them. */
export function chainViewRepository(db: Knex) {
  const same = (row: Record<string, unknown>, origin: SnapshotOrigin) =>
    row.agent_contract === origin.agent &&
    row.relationship_contract === origin.relationship &&
    BigInt(row.start_block as string) === origin.startBlock;

  return {
    /** The stored snapshot, if it was built from `origin`. */
    async load(origin: SnapshotOrigin): Promise<Snapshot | undefined> {
      const cursor = await db("chain_view_cursor").where({ id: 1 }).first();
      if (!cursor || !same(cursor, origin)) return undefined;
      const relationships = (await db("chain_view_relationships").select("id", "state")) as {
        id: Hex;
        state: RelationshipRecord | null;
      }[];
      const agents = (await db("chain_view_agents").select("agent", "state")) as {
        agent: Address;
        state: AgentRecord | null;
      }[];
      const block = BigInt(cursor.block);
      const journal = (await db("chain_view_journal")
        .where("block", "<=", block.toString())
        .orderBy("block")) as JournalRow[];
      return {
        block,
        hash: cursor.block_hash as Hex,
        relationships: relationships.map((r) => [r.id, r.state]),
        agents: agents.map((a) => [a.agent, a.state]),
        checkpoints: journalChain(journal, block, cursor.block_hash as Hex),
      };
    },

    /**
     * Stores the rows that changed and the cursor, all or nothing, if the stored cursor is behind
     * `block` and the stored rows are all followed (`followed`: how many this process follows).
     * `replace` (a rebuild, or a snapshot of another origin) drops the stored rows first and
     * ignores the stored cursor. A stored cursor listed in `supersedes` (checkpoints this process
     * rolled back from: no longer canonical) is replaced even if it is at a later block. `journal`
     * is written with it.
     */
    async save(
      origin: SnapshotOrigin,
      snapshot: Snapshot & {
        followed: { relationships: number; agents: number };
        replace: boolean;
        supersedes?: readonly { block: bigint; hash: Hex }[];
        /** This process's checkpoints (block → hash): a stored cursor at one of these blocks with another hash has diverged. */
        canonical?: ReadonlyMap<bigint, Hex>;
        journal?: JournalWrite;
      },
    ): Promise<SaveOutcome> {
      const trx = await db.transaction();
      try {
        await trx.raw("select pg_advisory_xact_lock(?, 0)", [LOCK_NAMESPACE]);
        const stored = await trx("chain_view_cursor").where({ id: 1 }).first();
        const replace = snapshot.replace || (stored !== undefined && !same(stored, origin));
        const superseded = (snapshot.supersedes ?? []).some(
          (s) => stored && s.block === BigInt(stored.block) && s.hash === stored.block_hash,
        );
        const ours = stored ? snapshot.canonical?.get(BigInt(stored.block)) : undefined;
        if (!replace && !superseded && ours !== undefined && ours !== stored.block_hash) {
          await trx.rollback();
          return "diverged";
        }
        if (replace) {
          await trx("chain_view_relationships").delete();
          await trx("chain_view_agents").delete();
          await trx("chain_view_journal").delete();
        } else if (stored && BigInt(stored.block) >= snapshot.block && !superseded) {
          await trx.rollback();
          return "behind";
        }
        for (let i = 0; i < snapshot.relationships.length; i += BATCH) {
          const rows = snapshot.relationships.slice(i, i + BATCH).map(([id, state]) => ({
            id,
            state: state === null ? null : JSON.stringify(state),
          }));
          await trx("chain_view_relationships").insert(rows).onConflict("id").merge();
        }
        for (let i = 0; i < snapshot.agents.length; i += BATCH) {
          const rows = snapshot.agents.slice(i, i + BATCH).map(([agent, state]) => ({
            agent,
            state: state === null ? null : JSON.stringify(state),
          }));
          await trx("chain_view_agents").insert(rows).onConflict("agent").merge();
        }
        const counts = (await trx
          .select(
            trx.raw("(select count(*) from chain_view_relationships)::int as relationships"),
            trx.raw("(select count(*) from chain_view_agents)::int as agents"),
          )
          .first()) as { relationships: number; agents: number };
        if (
          counts.relationships > snapshot.followed.relationships ||
          counts.agents > snapshot.followed.agents
        ) {
          await trx.rollback();
          return "unfollowed";
        }
        await trx("chain_view_cursor")
          .insert({
            id: 1,
            agent_contract: origin.agent,
            relationship_contract: origin.relationship,
            start_block: origin.startBlock.toString(),
            block: snapshot.block.toString(),
            block_hash: snapshot.hash,
            updated_at: trx.fn.now(),
          })
          .onConflict("id")
          .merge();
        if (snapshot.journal) {
          const { writer, entries, keepFrom } = snapshot.journal;
          await trx("chain_view_journal")
            .where("block", "<", keepFrom.toString())
            .orWhere("block", ">", snapshot.block.toString())
            .delete();
          for (let i = 0; i < entries.length; i += BATCH)
            await trx("chain_view_journal")
              .insert(entries.slice(i, i + BATCH).map((e) => rowOf(writer, e)))
              .onConflict("block")
              .merge();
        }
        await trx.commit();
        return "saved";
      } catch (error) {
        if (!trx.isCompleted()) await trx.rollback();
        throw error;
      }
    },

    /** Every followed relationship id and agent in the stored snapshot. */
    async followed(): Promise<{ relationships: Hex[]; agents: Address[] }> {
      const relationships = await db("chain_view_relationships").pluck("id");
      const agents = await db("chain_view_agents").pluck("agent");
      return { relationships, agents };
    },
  };
}

export type ChainViewRepository = ReturnType<typeof chainViewRepository>;
