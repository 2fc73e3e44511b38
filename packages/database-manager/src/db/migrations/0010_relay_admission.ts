import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * Relay admission (issue 19, adr/0013): each relayed request is charged to a lane — `protective`
 * (revoke, end, recovery cancel, custodian removal of a linked agent), `linked` (work of an agent
 * that has a relationship, or of a relationship's provider) or `open` (everything else: a fresh
 * key's registration, a relationship's creation) — and to a budget key (`agent:0x…`,
 * `relationship:0x…`, or the signer for the open lane). The gas charged is the receipt's
 * `gasUsed` once the transaction is mined (reverted or not), the gas limit until then (an upper
 * bound); `mined_block` is null while it is in flight. Rows from before this migration are linked
 * work of their signer.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable("relay_requests", (t) => {
    t.text("lane").notNullable().defaultTo("linked");
    t.text("budget_key");
    t.bigInteger("gas_used");
    t.bigInteger("mined_block");
    t.boolean("succeeded");
  });
  await db.raw("update relay_requests set budget_key = 'signer:' || signer");
  await db.raw("alter table relay_requests alter column budget_key set not null");
  await db.raw(
    "alter table relay_requests add constraint relay_requests_lane check (lane in ('protective', 'linked', 'open'))",
  );
  await db.schema.alterTable("relay_requests", (t) => {
    t.index(["lane", "created_at"]);
    t.index(["budget_key", "created_at"]);
  });
  await db.raw(
    "create index relay_requests_in_flight on relay_requests (created_at) where mined_block is null",
  );
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
