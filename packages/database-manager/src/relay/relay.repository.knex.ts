import type { Knex } from "knex";
import type { Address, Hex } from "viem";

/** A relayed request as stored (migration 0007). */
export type RelayedRow = {
  digest: Hex;
  signer: Address;
  nonce: bigint;
  deadline: number;
  gasLimit: bigint;
  txHash: Hex;
};

/** What the daily limits count: the last 24 hours, for one signer and for everyone. */
export type RelayUsage = {
  signerRequests: number;
  /** When the signer's oldest request of the window leaves it (for Retry-After). */
  signerOldest: Date | undefined;
  requests: number;
  gas: bigint;
  oldest: Date | undefined;
};

const toRow = (r: Record<string, unknown>): RelayedRow => ({
  digest: r.digest as Hex,
  signer: r.signer as Address,
  nonce: BigInt(String(r.nonce)),
  deadline: Number(r.deadline),
  gasLimit: BigInt(String(r.gas_limit)),
  txHash: r.tx_hash as Hex,
});

/** Advisory-lock namespace of the relayer's sends (pg_advisory_xact_lock(ns, 0)). */
const LOCK_NAMESPACE = 0x524c; // "RL"

/** The `relay_requests` table: SQL only; the rules are the relay service's. */
export function relayRepository(db: Knex) {
  return {
    /**
     * Runs `fn` in a transaction that holds the relayer's advisory lock: one send at a time across
     * every gatekeeper process on this database.
     */
    async serialized<T>(fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
      return db.transaction(async (trx) => {
        await trx.raw("select pg_advisory_xact_lock(?, 0)", [LOCK_NAMESPACE]);
        return fn(trx);
      });
    },

    async byDigest(digest: Hex, trx: Knex = db): Promise<RelayedRow | undefined> {
      const row = await trx("relay_requests").where({ digest }).first();
      return row ? toRow(row) : undefined;
    },

    /** Other requests of `signer` with this nonce whose deadline has not passed (`now`: unix seconds). */
    async sameNonce(signer: Address, nonce: bigint, now: number, trx: Knex = db): Promise<RelayedRow[]> {
      const rows = await trx("relay_requests")
        .where({ signer, nonce: nonce.toString() })
        .where("deadline", ">=", now);
      return rows.map(toRow);
    },

    async usage(signer: Address, trx: Knex = db): Promise<RelayUsage> {
      const since = trx.raw("now() - interval '24 hours'");
      const [all] = await trx("relay_requests")
        .where("created_at", ">", since)
        .count({ n: "*" })
        .sum({ gas: "gas_limit" })
        .min({ oldest: "created_at" });
      const [mine] = await trx("relay_requests")
        .where({ signer })
        .where("created_at", ">", since)
        .count({ n: "*" })
        .min({ oldest: "created_at" });
      return {
        signerRequests: Number(mine?.n ?? 0),
        signerOldest: mine?.oldest ? new Date(mine.oldest) : undefined,
        requests: Number(all?.n ?? 0),
        gas: BigInt(String(all?.gas ?? 0)),
        oldest: all?.oldest ? new Date(all.oldest) : undefined,
      };
    },

    async insert(row: RelayedRow & { target: Address; selector: Hex }, trx: Knex = db): Promise<void> {
      await trx("relay_requests").insert({
        digest: row.digest,
        signer: row.signer,
        target: row.target,
        selector: row.selector,
        nonce: row.nonce.toString(),
        deadline: row.deadline,
        gas_limit: row.gasLimit.toString(),
        tx_hash: row.txHash,
      });
    },
  };
}

export type RelayRepository = ReturnType<typeof relayRepository>;
