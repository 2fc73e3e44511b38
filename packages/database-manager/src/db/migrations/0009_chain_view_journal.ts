import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * The chain view's undo journal (src/chain/view.ts, adr/0011): one row per checkpoint of the last
 * 128 blocks — the block and hash the view was at, the checkpoint before it, and the state (at that
 * one) of every relationship and agent that changed in between. A restart whose saved cursor is no
 * longer canonical rolls back to the newest checkpoint still canonical instead of rebuilding from
 * the deployment block. `writer` names the process that saved it: a rollback follows one writer's
 * chain of checkpoints only.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("chain_view_journal", (t) => {
    t.bigInteger("block").primary();
    t.text("hash").notNullable();
    t.bigInteger("prev").notNullable();
    t.text("prev_hash");
    t.text("writer").notNullable();
    t.jsonb("undo").notNullable();
  });
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
