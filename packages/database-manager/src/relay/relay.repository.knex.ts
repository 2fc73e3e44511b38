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

/** The `relay_requests` table: SQL only; the rules are the relay service's. */
export function relayRepository(db: Knex) {
  return {
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
