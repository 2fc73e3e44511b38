import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/** Transaction-scoped advisory lock that serialises audit appends across every process on the database. */
export const AUDIT_APPEND_LOCK = 0x6d65_6472_6563_0003n;

/**
 * SIWE nonces and sessions (auth/), and the append-only, hash-chained audit log (audit/).
 * The audit log's immutability is enforced by PostgreSQL itself: triggers refuse UPDATE, DELETE
 * and TRUNCATE for every role, so only a superuser who disables them can tamper — and the hash
 * chains (checked by `medrec-gatekeeper audit verify`) make that visible.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable("auth_nonces", (t) => {
    t.text("nonce").primary();
    t.timestamp("issued_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp("expires_at", { useTz: true }).notNullable().index();
    // Set once, by the first sign-in attempt that names it, whatever that attempt's outcome.
    t.timestamp("used_at", { useTz: true });
  });

  await db.schema.createTable("auth_sessions", (t) => {
    // SHA-256 of the bearer token (hex): a database leak yields no usable token.
    t.text("token_hash").primary();
    t.text("address").notNullable();
    t.timestamp("created_at", { useTz: true }).notNullable().defaultTo(db.fn.now());
    t.timestamp("expires_at", { useTz: true }).notNullable().index();
  });

  await db.schema.createTable("audit_log", (t) => {
    // Contiguous from 1, assigned under the append lock: a gap means a deleted row.
    t.bigInteger("id").primary();
    t.text("relationship").notNullable();
    t.timestamp("at", { useTz: true }).notNullable();
    t.text("actor").notNullable();
    t.text("action").notNullable();
    t.specificType("categories", "text[]").notNullable();
    t.text("decision").notNullable();
    t.text("reason");
    // The relationship's chain (docs/protocol.md, served by the audit API): auditEntryHash of the entry.
    t.text("prev_hash").notNullable();
    t.text("hash").notNullable();
    // The whole table's chain: covers id, relationship, hash and reason of every row in id order.
    t.text("chain_hash").notNullable();
    t.index(["relationship", "id"]);
  });
  await db.raw(`
    alter table audit_log
      add constraint audit_log_relationship_format check (relationship ~ '^0x[0-9a-f]{64}$'),
      add constraint audit_log_decision check (decision in ('allowed', 'denied')),
      add constraint audit_log_hashes_format check (
        prev_hash ~ '^0x[0-9a-f]{64}$' and hash ~ '^0x[0-9a-f]{64}$' and chain_hash ~ '^0x[0-9a-f]{64}$'
      )
  `);
  // One round trip per batch: under the append lock, insert the rows the caller chained onto the
  // head it believed current, or nothing (false) if another writer moved the head meanwhile.
  await db.raw(`
    create function medrec_audit_append(expected_id bigint, expected_chain_hash text, entries jsonb)
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
        (id, relationship, at, actor, action, categories, decision, reason, prev_hash, hash, chain_hash)
      select e.id, e.relationship, e.at, e.actor, e.action, e.categories, e.decision, e.reason,
             e.prev_hash, e.hash, e.chain_hash
        from jsonb_to_recordset(entries) as e(
          id bigint, relationship text, at timestamptz, actor text, action text, categories text[],
          decision text, reason text, prev_hash text, hash text, chain_hash text
        );
      return true;
    end
    $$
  `);
  await db.raw(`
    create function medrec_audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end
    $$
  `);
  await db.raw(`
    create trigger audit_log_no_update_delete before update or delete on audit_log
      for each row execute function medrec_audit_log_append_only()
  `);
  await db.raw(`
    create trigger audit_log_no_truncate before truncate on audit_log
      for each statement execute function medrec_audit_log_append_only()
  `);
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
