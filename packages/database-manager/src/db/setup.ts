import type { Knex } from "knex";
import type { Logger } from "pino";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "./embedded.ts";
import { createDb, migrateToLatest } from "./knex.ts";
import { ensureRuntimeRole, grantRuntimeRole, roleOf } from "./roles.ts";

export type GatekeeperDatabase = {
  /** The runtime connection: SELECT + INSERT only on the audit tables when `separated`. */
  db: Knex;
  embedded: EmbeddedPostgresHandle | undefined;
  /** Whether migrations ran as an owner other than the runtime role. */
  separated: boolean;
  close(): Promise<void>;
};

/**
 * Opens the gatekeeper's database with the owner/runtime split (adr/0005):
 * - no DATABASE_URL: the embedded PostgreSQL; its owner migrates and grants, the runtime role
 *   `medrec_gatekeeper` serves;
 * - DATABASE_URL + MIGRATION_DATABASE_URL: the latter (the owner) migrates and grants the former's
 *   role, which serves;
 * - DATABASE_URL alone: it migrates and serves (no split: a warning, and /healthz says so).
 */
export async function openGatekeeperDatabase({
  databaseUrl,
  migrationDatabaseUrl,
  dataDir,
  logger,
}: {
  databaseUrl?: string | undefined;
  migrationDatabaseUrl?: string | undefined;
  dataDir: string;
  logger?: Logger;
}): Promise<GatekeeperDatabase> {
  let embedded: EmbeddedPostgresHandle | undefined;
  let ownerUrl = migrationDatabaseUrl ?? databaseUrl;
  let runtimeUrl = databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir });
    logger?.info({ dataDir }, "embedded PostgreSQL started");
    ownerUrl = embedded.connectionString;
    runtimeUrl = embedded.runtime.connectionString;
  }
  const separated = ownerUrl !== runtimeUrl;
  const owner = createDb(ownerUrl as string, { poolMax: 1 });
  try {
    if (embedded) await ensureRuntimeRole(owner, embedded.runtime.role, embedded.runtime.password);
    const applied = await migrateToLatest(owner);
    if (applied.length > 0) logger?.info({ migrations: applied }, "database migrated");
    if (separated) await grantRuntimeRole(owner, roleOf(runtimeUrl as string));
    else
      logger?.warn(
        "the gatekeeper runs as the database owner: it could alter the audit tables. Set MIGRATION_DATABASE_URL to the owner and DATABASE_URL to a runtime role (adr/0005).",
      );
  } catch (error) {
    await owner.destroy();
    await embedded?.stop();
    throw error;
  }
  await owner.destroy();
  const db = createDb(runtimeUrl as string);
  return {
    db,
    embedded,
    separated,
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
