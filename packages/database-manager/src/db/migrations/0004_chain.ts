import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * The chain part: delegate indexes from a sequence (never reused, even after a rollback or a
 * crash, so a delegate key is never given to two patients), and the sponsorship ledger that the
 * faucet's daily limits count (kept in the database so a restart does not reset them).
 */
export async function up(db: Knex): Promise<void> {
  await db.raw("create sequence patient_delegate_index_seq as integer minvalue 0 start with 0");
  await db.raw(
    "select setval('patient_delegate_index_seq', coalesce((select max(delegate_index) + 1 from patients), 0), false)",
  );
  await db.raw(
    "alter table patients alter column delegate_index set default nextval('patient_delegate_index_seq')",
  );
  await db.raw("alter sequence patient_delegate_index_seq owned by patients.delegate_index");

  await db.schema.createTable("sponsorships", (t) => {
    t.bigIncrements("id");
    // 'patient': the faucet (counts against the limits); 'delegate': gas for a relationship delegate.
    t.text("kind").notNullable();
    t.text("address").notNullable();
    t.decimal("amount_wei", 78, 0).notNullable();
    // Null while reserved; a crash between reservation and sending keeps counting (fail safe).
    t.text("tx_hash");
    t.text("status").notNullable().defaultTo("reserved");
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.index(["kind", "address", "created_at"]);
    t.index(["kind", "created_at"]);
  });
  await db.raw(
    "alter table sponsorships add constraint sponsorships_kind check (kind in ('patient', 'delegate')), add constraint sponsorships_status check (status in ('reserved', 'sent', 'failed'))",
  );
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
