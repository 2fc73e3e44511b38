import knex, { type Knex } from "knex";
import { MigrationError } from "./errors.ts";
import { migrations } from "./migrations/index.ts";

/** A knex instance on PostgreSQL (`pg`). */
export function createDb(connectionString: string, { poolMax = 10 }: { poolMax?: number } = {}): Knex {
  return knex({
    client: "pg",
    connection: { connectionString, application_name: "medrec-gatekeeper" },
    pool: { min: 0, max: poolMax },
    // Migrations are code (below), not files found at run time.
    migrations: { tableName: "knex_migrations" },
  });
}

/** Migrations compiled into the package, in order: nothing is discovered from the file system. */
class CodeMigrationSource implements Knex.MigrationSource<string> {
  async getMigrations(): Promise<string[]> {
    return Object.keys(migrations);
  }
  getMigrationName(name: string): string {
    return name;
  }
  async getMigration(name: string): Promise<Knex.Migration> {
    const migration = migrations[name];
    if (!migration) throw new MigrationError(`unknown migration ${name}`);
    return migration;
  }
}

/** Brings the schema up to date (forward-only). Safe to call on every start. */
export async function migrateToLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: new CodeMigrationSource() })) as [
    number,
    string[],
  ];
  return applied;
}
