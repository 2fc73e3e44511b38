import { AUDIT_GENESIS_HASH, BaseError } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Address, Hex } from "viem";
import { AUDIT_APPEND_LOCK } from "../db/migrations/0003_auth_audit.ts";
import { type AuditRow, CHAIN_GENESIS_HASH, chainHash, entryHash, type PendingEntry } from "./audit.entry.ts";

const COLUMNS = [
  "id",
  "relationship",
  "at",
  "actor",
  "action",
  "categories",
  "decision",
  "reason",
  "count",
  "mrn_hash",
  "actors",
  "prev_hash",
  "hash",
  "chain_hash",
] as const;

/** The audit log's SQL (knex bindings only). */
export type AuditRepository = {
  /**
   * Appends the entries, in order, atomically: chained in memory onto the heads this process
   * knows, written by one call of `medrec_audit_append` (one round trip), which takes the append
   * lock and refuses the batch if the table's head moved — then the heads are reloaded and the
   * batch chained again.
   */
  appendBatch(entries: readonly PendingEntry[]): Promise<void>;
  /** Every row of a relationship, in chain order. */
  relationshipRows(relationship: string): Promise<AuditRow[]>;
  /**
   * Up to `limit` rows of a relationship in chain order, after the row whose hash is `after`
   * (from the first without it); `undefined` when no row of the relationship has that hash.
   */
  relationshipPage(
    relationship: string,
    after: string | undefined,
    limit: number,
  ): Promise<AuditRow[] | undefined>;
  /**
   * Up to `limit` rows of a relationship newest first, before (older than) the row whose hash is
   * `before` (from the newest without it); `undefined` when no row of the relationship has that hash.
   */
  relationshipPageNewestFirst(
    relationship: string,
    before: string | undefined,
    limit: number,
  ): Promise<AuditRow[] | undefined>;
  /** `{ id, relationship, hash }` of up to `limit` rows with id > `afterId` (the tree's leaves). */
  leaves(afterId: number, limit: number): Promise<{ id: string; relationship: string; hash: string }[]>;
  /** The highest id (0 when empty). */
  lastId(): Promise<number>;
  /** Up to `limit` rows with id > `afterId`, in id order (keyset paging for verification). */
  page(afterId: string, limit: number): Promise<AuditRow[]>;
};

const MAX_CACHED_HEADS = 100_000;
const MAX_ATTEMPTS = 5;

/** Thrown when other writers kept moving the head for {@link MAX_ATTEMPTS} attempts. */
export class AuditContentionError extends BaseError {
  override name = "AuditContentionError";
}

export function auditRepository(db: Knex): AuditRepository {
  // The table's last row and every cached relationship's newest hash, valid together: the
  // database function refuses a batch chained onto anything but its actual head.
  let tail: { id: bigint; chainHash: string } | undefined;
  const heads = new Map<string, string>();

  /** Reads the tail and the heads of `relationships` in one snapshot. */
  const load = async (relationships: readonly string[], executor: Knex | Knex.Transaction = db) => {
    const { rows } = await executor.raw<{
      rows: { id: string | null; chain_hash: string | null; heads: Record<string, string> | null }[];
    }>(
      `select t.id, t.chain_hash,
              (select jsonb_object_agg(r.relationship, h.hash)
                 from unnest(?::text[]) as r(relationship)
                 join lateral (
                   select a.hash from audit_log a where a.relationship = r.relationship order by a.id desc limit 1
                 ) h on true) as heads
         from (select 1) as one
         left join lateral (select id, chain_hash from audit_log order by id desc limit 1) t on true`,
      [[...relationships]],
    );
    const row = rows[0];
    const loaded = { id: BigInt(row?.id ?? 0), chainHash: row?.chain_hash ?? CHAIN_GENESIS_HASH };
    const kept =
      tail !== undefined &&
      tail.id === loaded.id &&
      tail.chainHash === loaded.chainHash &&
      heads.size <= MAX_CACHED_HEADS;
    if (!kept) {
      heads.clear();
      tail = loaded;
    }
    for (const r of relationships) heads.set(r, row?.heads?.[r] ?? AUDIT_GENESIS_HASH);
    return kept;
  };

  /** Makes the heads of `relationships` known, all from snapshots consistent with `tail`. */
  const ensureHeads = async (relationships: readonly string[]) => {
    const missing = relationships.filter((r) => !heads.has(r));
    if (tail && missing.length === 0) return;
    // A partial load that finds the head moved drops the cache: then load them all at once.
    if (tail && (await load(missing))) return;
    await load(relationships);
  };

  const chain = (entries: readonly PendingEntry[], from: { id: bigint; chainHash: string }) => {
    let id = from.id;
    let prevChainHash = from.chainHash;
    const next = new Map<string, string>();
    const rows = entries.map((entry) => {
      id += 1n;
      const prevHash = next.get(entry.relationship) ?? heads.get(entry.relationship) ?? AUDIT_GENESIS_HASH;
      const hash = entryHash(entry, prevHash);
      const chainHashValue = chainHash({
        id: id.toString(),
        relationship: entry.relationship,
        hash,
        reason: entry.reason,
        prevChainHash,
      });
      next.set(entry.relationship, hash);
      prevChainHash = chainHashValue;
      return {
        id: id.toString(),
        relationship: entry.relationship,
        at: entry.at.toISOString(),
        actor: entry.actor,
        action: entry.action,
        categories: entry.categories,
        decision: entry.decision,
        reason: entry.reason,
        count: entry.count,
        mrn_hash: entry.mrnHash,
        actors: entry.actors,
        prev_hash: prevHash,
        hash,
        chain_hash: chainHashValue,
      };
    });
    return { rows, next, tail: { id, chainHash: prevChainHash } };
  };

  /** A relationship's rows after (asc) or before (desc) the one whose hash is `from`. */
  const pageFrom = async (
    relationship: string,
    from: string | undefined,
    limit: number,
    order: "asc" | "desc",
  ): Promise<AuditRow[] | undefined> => {
    const rel = relationship.toLowerCase();
    let query = db("audit_log").select(COLUMNS).where({ relationship: rel });
    if (from !== undefined) {
      const found = await db("audit_log")
        .select("id")
        .where({ relationship: rel, hash: from.toLowerCase() })
        .first();
      if (!found) return undefined;
      query = query.andWhere("id", order === "asc" ? ">" : "<", String(found.id));
    }
    return (await query.orderBy("id", order).limit(limit)) as AuditRow[];
  };

  return {
    async appendBatch(entries) {
      if (entries.length === 0) return;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        await ensureHeads([...new Set(entries.map((e) => e.relationship))]);
        const from = tail as { id: bigint; chainHash: string };
        const chained = chain(entries, from);
        const { rows } = await db.raw<{ rows: { ok: boolean }[] }>(
          "select medrec_audit_append(?::bigint, ?, ?::jsonb) as ok",
          [from.id.toString(), from.chainHash, JSON.stringify(chained.rows)],
        );
        if (rows[0]?.ok) {
          for (const [r, hash] of chained.next) heads.set(r, hash);
          tail = chained.tail;
          return;
        }
        // Another writer appended: forget everything and chain onto the real head.
        tail = undefined;
        heads.clear();
      }
      // Still racing (busy writers in other processes): read the head and append while holding
      // the append lock, which then cannot fail. Rare, so the common path stays lock-free.
      const appended = await db.transaction(async (trx) => {
        await trx.raw("select pg_advisory_xact_lock(?::bigint)", [AUDIT_APPEND_LOCK.toString()]);
        await load([...new Set(entries.map((e) => e.relationship))], trx);
        const from = tail as { id: bigint; chainHash: string };
        const chained = chain(entries, from);
        const { rows } = await trx.raw<{ rows: { ok: boolean }[] }>(
          "select medrec_audit_append(?::bigint, ?, ?::jsonb) as ok",
          [from.id.toString(), from.chainHash, JSON.stringify(chained.rows)],
        );
        return rows[0]?.ok ? chained : undefined;
      });
      if (appended) {
        for (const [r, hash] of appended.next) heads.set(r, hash);
        tail = appended.tail;
        return;
      }
      tail = undefined;
      heads.clear();
      throw new AuditContentionError("the audit log's head kept moving");
    },

    async relationshipRows(relationship) {
      return (await db("audit_log")
        .select(COLUMNS)
        .where({ relationship: relationship.toLowerCase() })
        .orderBy("id", "asc")) as AuditRow[];
    },

    async relationshipPage(relationship, after, limit) {
      return pageFrom(relationship, after, limit, "asc");
    },

    async relationshipPageNewestFirst(relationship, before, limit) {
      return pageFrom(relationship, before, limit, "desc");
    },

    async leaves(afterId, limit) {
      return db("audit_log")
        .select("id", "relationship", "hash")
        .where("id", ">", String(afterId))
        .orderBy("id", "asc")
        .limit(limit);
    },

    async lastId() {
      const row = await db("audit_log").max({ id: "id" }).first();
      return Number(row?.id ?? 0);
    },

    async page(afterId, limit) {
      return (await db("audit_log")
        .select(COLUMNS)
        .where("id", ">", afterId)
        .orderBy("id", "asc")
        .limit(limit)) as AuditRow[];
    },
  };
}

/** A tree head anchored on chain, as `audit_anchors` records it (migration 0005). */
export type AnchorRecord = {
  size: number;
  root: Hex;
  anchor: Address;
  log: Address;
  txHash: Hex;
  blockNumber: bigint;
};

/** The `audit_anchors` table: the tree heads this gatekeeper anchored. */
export function auditAnchorsRepository(db: Knex) {
  return {
    /** The largest anchored head, or undefined before the first. */
    async latest(): Promise<{ size: number; root: Hex; blockNumber: bigint } | undefined> {
      const row = (await db("audit_anchors")
        .select("size", "root", "block_number")
        .orderBy("size", "desc")
        .first()) as { size: string; root: string; block_number: string } | undefined;
      return row
        ? { size: Number(row.size), root: row.root as Hex, blockNumber: BigInt(row.block_number) }
        : undefined;
    },
    /** Records an anchored head; a head of that size already recorded is kept. */
    async insert(head: AnchorRecord): Promise<void> {
      await db("audit_anchors")
        .insert({
          size: head.size,
          root: head.root.toLowerCase(),
          anchor: head.anchor,
          log: head.log,
          tx_hash: head.txHash,
          block_number: head.blockNumber.toString(),
        })
        .onConflict("size")
        .ignore();
    },
  };
}

export type AuditAnchorsRepository = ReturnType<typeof auditAnchorsRepository>;
