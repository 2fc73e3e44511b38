import type { Knex } from "knex";
import { RuntimeRoleError } from "./errors.ts";

/** The append-only audit tables: the runtime role may only read and append to them. */
export const AUDIT_TABLES = ["audit_log", "audit_anchors"] as const;

const ROLE = /^[a-z_][a-z0-9_]{0,62}$/;
const PASSWORD = /^[0-9a-f]{32,128}$/;

/** The PostgreSQL user a connection string signs in as. */
export function roleOf(connectionString: string): string {
  return decodeURIComponent(new URL(connectionString).username);
}

/**
 * Creates the runtime role (LOGIN, no superuser, no CREATEROLE, no CREATEDB) if it does not exist,
 * or resets its password. Run as the owner. Role and password are checked against strict
 * patterns, since PostgreSQL takes no bound parameters in role DDL.
 */
export async function ensureRuntimeRole(owner: Knex, role: string, password: string): Promise<void> {
  if (!ROLE.test(role)) throw new RuntimeRoleError("runtime role: invalid name");
  if (!PASSWORD.test(password)) throw new RuntimeRoleError("runtime role: invalid password");
  const { rows } = await owner.raw<{ rows: unknown[] }>("select 1 from pg_roles where rolname = ?", [role]);
  const verb = rows.length === 0 ? "create" : "alter";
  await owner.raw(
    `${verb} role "${role}" login nosuperuser nocreaterole nocreatedb noinherit password '${password}'`,
  );
}

/**
 * Grants the runtime role what the gatekeeper needs and nothing more, as the owner, after every
 * migration (idempotent): read/write on the working tables, SELECT + INSERT only on
 * {@link AUDIT_TABLES}, SELECT only on knex's bookkeeping. Not being the owner, the role cannot
 * ALTER, DROP or disable the triggers of any table.
 *
 * @throws {RuntimeRoleError} when the runtime role is a superuser or owns the audit tables (no separation).
 */
export async function grantRuntimeRole(owner: Knex, role: string): Promise<void> {
  if (!ROLE.test(role)) throw new RuntimeRoleError("runtime role: invalid name");
  const { rows } = await owner.raw<{ rows: { rolsuper: boolean; owns: boolean }[] }>(
    `select r.rolsuper,
            exists (select 1 from pg_tables t where t.schemaname = current_schema()
                      and t.tablename = any(?) and t.tableowner = r.rolname) as owns
       from pg_roles r where r.rolname = ?`,
    [[...AUDIT_TABLES], role],
  );
  const found = rows[0];
  if (!found) throw new RuntimeRoleError(`runtime role ${role} does not exist`);
  if (found.rolsuper || found.owns)
    throw new RuntimeRoleError(
      `runtime role ${role} is a superuser or owns the audit tables: use a separate role`,
    );
  const statements = [
    `grant usage on schema public to "${role}"`,
    `grant select, insert, update, delete on all tables in schema public to "${role}"`,
    `grant usage, select, update on all sequences in schema public to "${role}"`,
    `revoke insert, update, delete, truncate, references, trigger on knex_migrations, knex_migrations_lock from "${role}"`,
    `revoke update, delete, truncate, references, trigger on ${AUDIT_TABLES.join(", ")} from "${role}"`,
  ];
  await owner.transaction(async (trx) => {
    for (const sql of statements) await trx.raw(sql);
  });
}
