import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * The relay (`POST /v1/relay`, src/relay/): one row per relayed forward request, keyed by its
 * EIP-712 digest (a repeated request answers the same transaction), with the signer and the gas
 * limit of the relayer's transaction — what the per-signer, per-day and daily gas limits count over
 * the last 24 hours (in the database: a restart resets nothing). The faucet's `sponsorships`
 * ledger stays as history; nothing writes to it any more.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("relay_requests", (t) => {
    t.bigIncrements("id");
    // EIP-712 digest of the ForwardRequest (from, to, value, gas, nonce, deadline, data), 0x…
    t.text("digest").notNullable().unique();
    t.text("signer").notNullable();
    t.text("target").notNullable();
    t.text("selector").notNullable();
    t.decimal("nonce", 78, 0).notNullable();
    // Unix seconds: after it the request can no longer execute (its nonce is free again).
    t.bigInteger("deadline").notNullable();
    // Gas limit of the relayer's transaction: counted against the daily gas budget (an upper bound).
    t.bigInteger("gas_limit").notNullable();
    t.text("tx_hash").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.index(["signer", "created_at"]);
    t.index(["created_at"]);
    t.index(["signer", "nonce"]);
  });
  await db.raw(
    "alter table relay_requests add constraint relay_requests_format check (digest ~ '^0x[0-9a-f]{64}$' and tx_hash ~ '^0x[0-9a-f]{64}$' and gas_limit > 0)",
  );
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
