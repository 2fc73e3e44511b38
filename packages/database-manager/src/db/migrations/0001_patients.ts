import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/** Patients this provider has linked to an on-chain agent: MRN ↔ patient address ↔ relationship. */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("patients", (t) => {
    t.bigIncrements("id");
    t.text("mrn").notNullable().unique();
    t.text("patient_address").notNullable().unique();
    // Set once the Relationship exists on chain (0x + 64 hex).
    t.text("relationship_id").unique();
    // Index of this relationship's delegate key (derived from the provider's delegate seed).
    t.integer("delegate_index").notNullable().unique();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
