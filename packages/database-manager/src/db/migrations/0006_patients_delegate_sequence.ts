import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * Repairs the delegate-index sequence of databases seeded before seeding used it: the old seeder
 * picked `max(delegate_index) + 1` without advancing the sequence, so the next registration drew
 * an index already taken (a unique violation, answered as a false 409). The sequence's next value
 * becomes at least max + 1; it never moves back.
 */
export async function up(db: Knex): Promise<void> {
  await db.raw(`
    select setval('patient_delegate_index_seq', greatest(
      (select coalesce(max(delegate_index) + 1, 0) from patients),
      (select case when is_called then last_value + 1 else last_value end from patient_delegate_index_seq)
    ), false)`);
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
