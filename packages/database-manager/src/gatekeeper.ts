import type { Server } from "node:http";
import type { Knex } from "knex";
import { type Logger, pino } from "pino";
import { type AppModule, createApp } from "./app.ts";
import type { Config } from "./config.ts";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "./db/embedded.ts";
import { createDb, migrateToLatest } from "./db/knex.ts";
import type { HealthCheck } from "./ops/health.ts";
import { createMetrics } from "./ops/metrics.ts";

export type Gatekeeper = {
  /** Where it listens, e.g. `http://127.0.0.1:7101`. */
  url: string;
  db: Knex;
  /** Stops accepting, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), then closes the database. */
  stop(): Promise<void>;
};

export type StartGatekeeperParameters = {
  config: Config;
  logger?: Logger;
  /** Extra readiness checks (the chain view) and API modules, supplied by the caller. */
  health?: (db: Knex) => HealthCheck[];
  modules?: (db: Knex) => AppModule[];
};

/** Starts the database (embedded unless DATABASE_URL), migrates, and serves the API. */
export async function startGatekeeper({
  config,
  logger = pino({ level: config.LOG_LEVEL }),
  health = () => [],
  modules = () => [],
}: StartGatekeeperParameters): Promise<Gatekeeper> {
  let embedded: EmbeddedPostgresHandle | undefined;
  let connectionString = config.DATABASE_URL;
  if (!connectionString) {
    embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR });
    connectionString = embedded.connectionString;
    logger.info({ dataDir: config.DATA_DIR }, "embedded PostgreSQL started");
  }
  const db = createDb(connectionString);
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0) logger.info({ migrations: applied }, "database migrated");
  } catch (error) {
    await db.destroy();
    await embedded?.stop();
    throw error;
  }

  const databaseCheck: HealthCheck = {
    name: "database",
    check: async () => {
      await db.raw("select 1");
    },
  };
  const app = createApp({
    config,
    logger,
    metrics: createMetrics(),
    health: [databaseCheck, ...health(db)],
    modules: modules(db),
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const url = `http://${config.HOST}:${port}`;
  logger.info({ url }, "gatekeeper listening");

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
      await db.destroy();
      await embedded?.stop();
      logger.info("gatekeeper stopped");
    })();
    return stopping;
  };
  return { url, db, stop };
}
