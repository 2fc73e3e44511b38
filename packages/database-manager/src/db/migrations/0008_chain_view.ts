import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * The chain view's snapshot (src/chain/view.ts, adr/0008): the block it is current at (number and
 * hash, with the contracts and deployment block it was built from), and the state of every
 * relationship and agent it follows — only this provider's relationships and their patients'
 * agents. A row with a null state is followed but has no event yet. A restart loads the snapshot
 * and resumes polling from the cursor instead of replaying the chain.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("chain_view_cursor", (t) => {
    t.smallint("id").primary();
    t.text("agent_contract").notNullable();
    t.text("relationship_contract").notNullable();
    t.bigInteger("start_block").notNullable();
    t.bigInteger("block").notNullable();
    t.text("block_hash").notNullable();
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.raw("alter table chain_view_cursor add constraint chain_view_cursor_single check (id = 1)");
  await db.schema.createTable("chain_view_relationships", (t) => {
    // Lowercase 0x + 64 hex.
    t.text("id").primary();
    t.jsonb("state");
  });
  await db.schema.createTable("chain_view_agents", (t) => {
    // EIP-55 checksummed.
    t.text("agent").primary();
    t.jsonb("state");
  });
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
