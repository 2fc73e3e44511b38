import type { Knex } from "knex";

// Reserved: its owner replaces this file with the real schema before anything ships.
export async function up(_db: Knex): Promise<void> {}

export async function down(): Promise<void> {
  throw new Error("forward-only migrations");
}
