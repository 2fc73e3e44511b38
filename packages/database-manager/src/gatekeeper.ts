import type { Server } from "node:http";
import type { Knex } from "knex";
import { type Logger, pino } from "pino";
import { accessModule } from "./access/index.ts";
import { type AppModule, createApp } from "./app.ts";
import { createAuditLog } from "./audit/index.ts";
import { createAuth } from "./auth/index.ts";
import type { ChainSettings } from "./chain/config.ts";
import { type Chain, createChain } from "./chain/index.ts";
import type { Config } from "./config.ts";
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from "./db/embedded.ts";
import { createDb, migrateToLatest } from "./db/knex.ts";
import type { HealthCheck } from "./ops/health.ts";
import { createMetrics } from "./ops/metrics.ts";
import { createRecordsService, type RecordsStore, recordsModule } from "./records/index.ts";

export type Gatekeeper = {
  /** Where it listens, e.g. `http://127.0.0.1:7101`. */
  url: string;
  db: Knex;
  /** The provider's parts, for the run command, seeding and tests. */
  records: RecordsStore;
  chain: Chain | undefined;
  /** Stops accepting, lets in-flight requests finish (up to SHUTDOWN_TIMEOUT_MS), then closes the chain and database. */
  stop(): Promise<void>;
};

export type StartGatekeeperParameters = {
  config: Config;
  logger?: Logger;
  /**
   * `true` (default): the whole gatekeeper — chain view and writer, SIWE, records, access, audit.
   * `false`: database, records intake and operations only (no chain: /healthz stays 503).
   */
  chain?: boolean;
  /** Explicit chain settings (tests); default: from config and the network manifest. */
  chainSettings?: ChainSettings;
  /** Extra readiness checks and API modules (tests). */
  health?: (db: Knex) => HealthCheck[];
  modules?: (db: Knex) => AppModule[];
};

/**
 * Starts the database (embedded unless DATABASE_URL), migrates, connects the chain view, and
 * serves PROTOCOL.md's API. Fails (without serving) when any part cannot start.
 */
export async function startGatekeeper({
  config,
  logger = pino({ level: config.LOG_LEVEL }),
  chain: withChain = true,
  chainSettings,
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
  let chain: Chain | undefined;
  const cleanup = async () => {
    await chain?.stop();
    await db.destroy();
    await embedded?.stop();
  };

  let records: RecordsStore;
  const metrics = createMetrics();
  const parts: AppModule[] = [];
  const checks: HealthCheck[] = [
    {
      name: "database",
      check: async () => {
        await db.raw("select 1");
      },
    },
  ];
  try {
    const applied = await migrateToLatest(db);
    if (applied.length > 0) logger.info({ migrations: applied }, "database migrated");
    records = createRecordsService({ db, logger });
    if (withChain) {
      chain = await createChain({
        config,
        db,
        logger,
        records,
        ...(chainSettings ? { settings: chainSettings } : {}),
      });
      const auth = createAuth({
        config,
        db,
        chainId: chain.settings.chainId,
        providerAccount: chain.settings.provider.account,
      });
      const audit = createAuditLog(db, { logger });
      parts.push(
        auth.module,
        recordsModule({ records, guards: auth.guards }),
        accessModule({ view: chain.view, records, audit, guards: auth.guards, metrics }),
        ...chain.modules(auth.guards),
      );
      checks.push(chain.health);
    } else {
      checks.push({
        name: "chain",
        check: async () => {
          throw new Error("no chain view in this mode");
        },
      });
    }
  } catch (error) {
    await cleanup();
    throw error;
  }

  const app = createApp({
    config,
    logger,
    metrics,
    health: [...checks, ...health(db)],
    modules: [...parts, ...modules(db)],
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, (error?: Error) => (error ? reject(error) : resolve(s)));
  }).catch(async (error: unknown) => {
    await cleanup();
    throw error;
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
      await cleanup();
      logger.info("gatekeeper stopped");
    })();
    return stopping;
  };
  return { url, db, records, chain, stop };
}
