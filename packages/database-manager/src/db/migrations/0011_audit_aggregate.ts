import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";
import { AUDIT_APPEND_LOCK } from "./0003_auth_audit.ts";

/**
 * Aggregated refusals (adr/0014). `audit_log.actors`: the distinct accounts behind an aggregate
 * entry's `count` refusals, covered by the entry hash like `count`. `audit_refusals_open`: the
 * refusals by parties that never held a grant on the relationship, per relationship, hour and
 * actor, until the hour closes and one `refusals.aggregate` entry replaces them in the log. It is
 * a working table (not append-only): the runtime role updates and deletes its rows. An index on
 * `audit_log.hash` finds the entry a page continues from.
 */
export async function up(db: Knex): Promise<void> {
  await db.raw(`
    alter table audit_log
      add column actors integer,
      add constraint audit_log_actors check (actors is null or actors >= 0)
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
        (id, relationship, at, actor, action, categories, decision, reason, count, mrn_hash, actors,
         prev_hash, hash, chain_hash)
      select e.id, e.relationship, e.at, e.actor, e.action, e.categories, e.decision, e.reason,
             e.count, e.mrn_hash, e.actors, e.prev_hash, e.hash, e.chain_hash
        from jsonb_to_recordset(entries) as e(
          id bigint, relationship text, at timestamptz, actor text, action text, categories text[],
          decision text, reason text, count integer, mrn_hash text, actors integer, prev_hash text,
          hash text, chain_hash text
        );
      return true;
    end
    $$
  `);
  // Pages continue from an entry named by its hash (`after`, `before`): found without a scan.
  await db.raw("create index audit_log_hash on audit_log (hash)");
  await db.schema.createTable("audit_refusals_open", (t) => {
    t.text("relationship").notNullable();
    t.timestamp("hour", { useTz: true }).notNullable();
    t.text("actor").notNullable();
    t.integer("refusals").notNullable();
    t.primary(["relationship", "hour", "actor"]);
    t.index(["hour"]);
  });
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
