import type { Knex } from "knex";
import type { Address, Hex } from "viem";
import type { Lane } from "./admission.ts";

/** A relayed request as stored (migrations 0007, 0010). */
export type RelayedRow = {
  digest: Hex;
  signer: Address;
  nonce: bigint;
  deadline: number;
  gasLimit: bigint;
  txHash: Hex;
};

/** What the admission limits count over the last 24 hours (gas: receipts' gasUsed, the limit while in flight). */
export type RelayUsage = {
  /** Requests of this budget key in its lane (protective ones apart). */
  keyRequests: number;
  keyOldest: Date | undefined;
  /** Linked and open-lane requests and gas, all keys together (not the protective or the member lane). */
  requests: number;
  gas: bigint;
  oldest: Date | undefined;
  /** Open-lane requests and gas. */
  openRequests: number;
  openGas: bigint;
  openOldest: Date | undefined;
  /** Member-lane (vouched) requests and gas. */
  memberRequests: number;
  memberGas: bigint;
  memberOldest: Date | undefined;
  /** Unmined linked, open- and member-lane transactions of this relayer. */
  inFlight: number;
  /** Unmined protective transactions of this budget key. */
  keyProtectiveInFlight: number;
};

/** A sent transaction whose receipt is not recorded yet. */
export type PendingRow = { txHash: Hex; signer: Address; nonce: bigint };

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
/** A transaction unmined for longer than this no longer counts as in flight (dropped by the node). */
const IN_FLIGHT_WINDOW = "10 minutes";

/** The `relay_requests` table: SQL only; the rules are the relay service's (admission.ts). */
export function relayRepository(db: Knex) {
  const charged = "coalesce(gas_used, gas_limit)";
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

    async usage(lane: Lane, key: string, trx: Knex = db): Promise<RelayUsage> {
      const day = "created_at > now() - interval '24 hours'";
      const flight = `mined_block is null and created_at > now() - interval '${IN_FLIGHT_WINDOW}'`;
      const { rows } = await trx.raw(
        `select
           count(*) filter (where lane in ('linked', 'open')) as n,
           sum(${charged}) filter (where lane in ('linked', 'open')) as gas,
           min(created_at) filter (where lane in ('linked', 'open')) as oldest,
           count(*) filter (where lane = 'open') as open_n,
           sum(${charged}) filter (where lane = 'open') as open_gas,
           min(created_at) filter (where lane = 'open') as open_oldest,
           count(*) filter (where lane = 'member') as member_n,
           sum(${charged}) filter (where lane = 'member') as member_gas,
           min(created_at) filter (where lane = 'member') as member_oldest,
           count(*) filter (where budget_key = :key and (lane = 'protective') = :protective) as key_n,
           min(created_at) filter (where budget_key = :key and (lane = 'protective') = :protective) as key_oldest,
           count(*) filter (where ${flight} and lane <> 'protective') as in_flight,
           count(*) filter (where ${flight} and lane = 'protective' and budget_key = :key) as key_in_flight
         from relay_requests where ${day}`,
        { key, protective: lane === "protective" },
      );
      const r = (rows as Record<string, unknown>[])[0] ?? {};
      const date = (d: unknown) => (d ? new Date(d as string) : undefined);
      const big = (v: unknown) => BigInt(String(v ?? 0));
      return {
        keyRequests: Number(r.key_n ?? 0),
        keyOldest: date(r.key_oldest),
        requests: Number(r.n ?? 0),
        gas: big(r.gas),
        oldest: date(r.oldest),
        openRequests: Number(r.open_n ?? 0),
        openGas: big(r.open_gas),
        openOldest: date(r.open_oldest),
        memberRequests: Number(r.member_n ?? 0),
        memberGas: big(r.member_gas),
        memberOldest: date(r.member_oldest),
        inFlight: Number(r.in_flight ?? 0),
        keyProtectiveInFlight: Number(r.key_in_flight ?? 0),
      };
    },

    async insert(
      row: RelayedRow & { target: Address; selector: Hex; lane: Lane; budgetKey: string },
      trx: Knex = db,
    ): Promise<void> {
      await trx("relay_requests").insert({
        digest: row.digest,
        signer: row.signer,
        target: row.target,
        selector: row.selector,
        nonce: row.nonce.toString(),
        deadline: row.deadline,
        gas_limit: row.gasLimit.toString(),
        tx_hash: row.txHash,
        lane: row.lane,
        budget_key: row.budgetKey,
      });
    },

    /** Sent transactions of the last hour whose receipt is not recorded. */
    async pending(): Promise<PendingRow[]> {
      const rows = await db("relay_requests")
        .whereNull("mined_block")
        .where("created_at", ">", db.raw("now() - interval '1 hour'"))
        .select("tx_hash", "signer", "nonce");
      return rows.map((r) => ({
        txHash: r.tx_hash as Hex,
        signer: r.signer as Address,
        nonce: BigInt(String(r.nonce)),
      }));
    },

    /** Records a transaction's receipt: the gas it used is what its lane and key are charged. */
    async mined(
      txHash: Hex,
      receipt: { gasUsed: bigint; blockNumber: bigint; succeeded: boolean },
    ): Promise<void> {
      await db("relay_requests").where({ tx_hash: txHash }).update({
        gas_used: receipt.gasUsed.toString(),
        mined_block: receipt.blockNumber.toString(),
        succeeded: receipt.succeeded,
      });
    },
  };
}

export type RelayRepository = ReturnType<typeof relayRepository>;
