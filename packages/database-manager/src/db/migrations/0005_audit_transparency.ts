import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";
import { AUDIT_APPEND_LOCK } from "./0003_auth_audit.ts";

/**
 * The audit log as a transparency log (adr/0005): staff actions' `count` and `mrn_hash` stored and
 * covered by the entry hash, and `audit_anchors`, the tree heads this gatekeeper anchored on chain.
 * Both tables are append-only (triggers, for every role); the runtime role is granted only
 * SELECT and INSERT on them (db/roles.ts), and cannot disable the triggers, which only the owner can.
 */
export async function up(db: Knex): Promise<void> {
  await db.raw(`
    alter table audit_log
      add column count integer,
      add column mrn_hash text,
      add constraint audit_log_count check (count is null or count >= 0),
      add constraint audit_log_mrn_hash_format check (mrn_hash is null or mrn_hash ~ '^(0x){0,1}[0-9a-f]{16,128}$')
  `);
  await db.raw(`
    create or replace function medrec_audit_append(expected_id bigint, expected_chain_hash text, entries jsonb)
    returns boolean language plpgsql as $$
    declare
      last_id bigint;
      last_chain_hash text;
    begin
      perform pg_advisory_xact_lock(${AUDIT_APPEND_LOCK});
      select a.id, a.chain_hash into last_id, last_chain_hash from audit_log a order by a.id desc limit 1;
      if coalesce(last_id, 0) <> expected_id
        or coalesce(last_chain_hash, '0x${"00".repeat(32)}') <> expected_chain_hash then
        return false;
      end if;
      insert into audit_log
        (id, relationship, at, actor, action, categories, decision, reason, count, mrn_hash,
         prev_hash, hash, chain_hash)
      select e.id, e.relationship, e.at, e.actor, e.action, e.categories, e.decision, e.reason,
             e.count, e.mrn_hash, e.prev_hash, e.hash, e.chain_hash
        from jsonb_to_recordset(entries) as e(
          id bigint, relationship text, at timestamptz, actor text, action text, categories text[],
          decision text, reason text, count integer, mrn_hash text, prev_hash text, hash text, chain_hash text
        );
      return true;
    end
    $$
  `);

  await db.schema.createTable("audit_anchors", (t) => {
    // One row per anchored tree head; sizes only grow (as on chain).
    t.bigInteger("size").primary();
    t.text("root").notNullable();
    t.text("anchor").notNullable();
    t.text("log").notNullable();
    t.text("tx_hash").notNullable();
    t.bigInteger("block_number").notNullable();
    t.timestamp("anchored_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
  });
  await db.raw(`
    alter table audit_anchors
      add constraint audit_anchors_size check (size > 0),
      add constraint audit_anchors_hashes check (root ~ '^0x[0-9a-f]{64}$' and tx_hash ~ '^0x[0-9a-f]{64}$')
  `);
  await db.raw(`
    create function medrec_append_only() returns trigger language plpgsql as $$
    begin
      raise exception '% is append-only: % refused', tg_table_name, tg_op using errcode = 'insufficient_privilege';
    end
    $$
  `);
  await db.raw(`
    create trigger audit_anchors_no_update_delete before update or delete on audit_anchors
      for each row execute function medrec_append_only()
  `);
  await db.raw(`
    create trigger audit_anchors_no_truncate before truncate on audit_anchors
      for each statement execute function medrec_append_only()
  `);
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
