import type { Knex } from "knex";
import type { Address, Hex } from "viem";

export type SponsorshipKind = "patient" | "delegate";

/** The `sponsorships` ledger (migration 0004). Amounts in wei. */
export function sponsorshipRepository(db: Knex) {
  return {
    /** Wei given (or reserved) to `kind` recipients in the last 24 h, in total and to `address`. */
    async spentLastDay(
      kind: SponsorshipKind,
      address: Address,
      trx: Knex = db,
    ): Promise<{ total: bigint; address: bigint; oldestForAddress: Date | undefined }> {
      const since = trx.raw("now() - interval '24 hours'");
      const [total] = await trx("sponsorships")
        .where({ kind })
        .whereNot({ status: "failed" })
        .where("created_at", ">", since)
        .sum({ wei: "amount_wei" });
      const [mine] = await trx("sponsorships")
        .where({ kind, address })
        .whereNot({ status: "failed" })
        .where("created_at", ">", since)
        .sum({ wei: "amount_wei" })
        .min({ oldest: "created_at" });
      return {
        total: BigInt(String(total?.wei ?? 0)),
        address: BigInt(String(mine?.wei ?? 0)),
        oldestForAddress: mine?.oldest ? new Date(mine.oldest) : undefined,
      };
    },
    async reserve(kind: SponsorshipKind, address: Address, amount: bigint, trx: Knex = db): Promise<number> {
      const [row] = await trx("sponsorships")
        .insert({ kind, address, amount_wei: amount.toString() })
        .returning("id");
      return Number(row.id);
    },
    async sent(id: number, txHash: Hex, trx: Knex = db): Promise<void> {
      await trx("sponsorships").where({ id }).update({ tx_hash: txHash, status: "sent" });
    },
    async failed(id: number, trx: Knex = db): Promise<void> {
      await trx("sponsorships").where({ id }).update({ status: "failed" });
    },
  };
}

export type SponsorshipRepository = ReturnType<typeof sponsorshipRepository>;
