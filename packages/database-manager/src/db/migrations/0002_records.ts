import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * A patient's FHIR R4 resources (one row per resource, replaced in place) and, per patient, the
 * record set's current root and a version that every committed change bumps.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("record_resources", (t) => {
    t.bigIncrements("id");
    t.bigInteger("patient_id").notNullable().references("patients.id").onDelete("CASCADE");
    t.text("resource_type").notNullable();
    t.text("fhir_id").notNullable();
    t.jsonb("content").notNullable();
    // SHA-256 of the JCS canonical JSON of `content` (docs/protocol.md leaf), 0x + 64 hex.
    t.text("leaf").notNullable();
    // Leaf of the content without meta.lastUpdated: tells a real change from a re-send.
    t.text("content_hash").notNullable();
    t.integer("scope_mask").notNullable();
    // Where it came from ("bundle", or a legacy source name): a re-sync prunes only its own rows.
    t.text("source").notNullable();
    t.timestamp("last_updated", { useTz: true }).notNullable();
    t.unique(["patient_id", "resource_type", "fhir_id"]);
    // `_since` and "what changed lately" reads.
    t.index(["patient_id", "last_updated"]);
  });
  await db.schema.createTable("record_sets", (t) => {
    t.bigInteger("patient_id").primary().references("patients.id").onDelete("CASCADE");
    t.text("root").notNullable();
    t.bigInteger("version").notNullable().defaultTo(0);
    t.integer("resource_count").notNullable().defaultTo(0);
    t.timestamp("updated_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
