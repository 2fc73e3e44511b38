import { readFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { guardHttpServer } from "@medrec/protocol/http-guard";
import type { Knex } from "knex";
import { type Logger, pino } from "pino";
import { privateKeyToAccount } from "viem/accounts";
import { accessModule } from "./access/index.ts";
import { type AppModule, createApp } from "./app.ts";
import { anchorSettingsOf } from "./audit/config.ts";
import { createAuditLog } from "./audit/index.ts";
import { createAuth } from "./auth/index.ts";
import type { ChainSettings } from "./chain/config.ts";
import { type Chain, createChain } from "./chain/index.ts";
import { type Config, ConfigError } from "./config.ts";
import { openGatekeeperDatabase } from "./db/setup.ts";
import { type LegacySync, startLegacySync } from "./legacy/legacy.sync.ts";
import { type HealthCheck, HealthCheckError } from "./ops/health.ts";
import { createMetrics, type MetricsServer, startMetricsServer } from "./ops/metrics.ts";
import { patientsModule } from "./patients/patients.routes.ts";
import { auditSaltOf, createPatientsService, type LivePatientsService } from "./patients/patients.service.ts";
import { createRecordsService, type RecordsStore, recordsModule } from "./records/index.ts";

export type Gatekeeper = {
  /** Where it listens, e.g. `http://127.0.0.1:7101`. */
  url: string;
  /** Its metrics, on their own listener (METRICS_HOST:METRICS_PORT), e.g. `http://127.0.0.1:9464/metrics`. */
  metricsUrl: string;
  db: Knex;
  /** The provider's parts, for the run command, seeding and tests. */
  records: RecordsStore;
  /** Linking, uploads and legacy syncs as a staff caller, audited (with the chain only). */
  patients: LivePatientsService | undefined;
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
 * serves docs/protocol.md's API. Fails (without serving) when any part cannot start.
 */
export async function startGatekeeper({
  config,
  logger = pino({ level: config.LOG_LEVEL }),
  chain: withChain = true,
  chainSettings,
  health = () => [],
  modules = () => [],
}: StartGatekeeperParameters): Promise<Gatekeeper> {
  // Migrated by the owner; served by the runtime role (audit tables: SELECT + INSERT only).
  const database = await openGatekeeperDatabase({
    databaseUrl: config.DATABASE_URL,
    migrationDatabaseUrl: config.MIGRATION_DATABASE_URL,
    dataDir: config.DATA_DIR,
    logger,
  });
  const { db } = database;
  let chain: Chain | undefined;
  let audit: ReturnType<typeof createAuditLog> | undefined;
  let legacySync: LegacySync | undefined;
  const cleanup = async () => {
    await legacySync?.stop();
    await audit?.stop();
    await chain?.stop();
    await database.close();
  };

  let records: RecordsStore;
  let patients: LivePatientsService | undefined;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  const metrics = createMetrics();
  const parts: AppModule[] = [];
  const checks: HealthCheck[] = [
    {
      name: "database",
      check: async () => {
        await db.raw("select 1");
        return database.separated
          ? "runtime role is not the owner: audit tables are append-only for it"
          : "the gatekeeper runs as the database owner: set MIGRATION_DATABASE_URL (adr/0005)";
      },
    },
  ];
  try {
    tls = await readTls(config);
    records = createRecordsService({ db, logger });
    if (withChain) {
      chain = await createChain({
        config,
        db,
        logger,
        records,
        metrics,
        auditLogAccount: config.AUDIT_ANCHOR_PRIVATE_KEY
          ? privateKeyToAccount(config.AUDIT_ANCHOR_PRIVATE_KEY).address
          : undefined,
        detailsSigner: config.AUDIT_ANCHOR_PRIVATE_KEY
          ? privateKeyToAccount(config.AUDIT_ANCHOR_PRIVATE_KEY)
          : undefined,
        ...(chainSettings ? { settings: chainSettings } : {}),
      });
      const auth = createAuth({
        config,
        db,
        chainId: chain.settings.chainId,
        providerAccount: chain.settings.provider.account,
      });
      audit = createAuditLog(db, {
        logger,
        anchoring: anchorSettingsOf(config, {
          rpcUrl: chain.settings.rpcUrl,
          chainId: chain.settings.chainId,
          relayerPrivateKey: chain.settings.relayerPrivateKey,
          receiptTimeoutMs: chain.settings.receiptTimeoutMs,
        }),
        anchorIntervalMs: config.AUDIT_ANCHOR_INTERVAL_MS,
      });
      const anchorer = audit.anchorer;
      // With every record change, i.e. every record-root publication.
      records.onChange(() => anchorer.kick());
      checks.push(anchorer.health);
      patients = createPatientsService({
        db,
        records,
        audit,
        auditSalt: auditSaltOf({
          auditSalt: config.AUDIT_SALT,
          delegateMnemonic: chain.settings.delegateMnemonic,
        }),
        chainWriter: chain.writer,
        logger,
      });
      parts.push(
        auth.module,
        patientsModule({ patients, guards: auth.guards }),
        recordsModule({ patients, guards: auth.guards }),
        accessModule({
          view: chain.view,
          records,
          audit,
          guards: auth.guards,
          metrics,
          denialsPerMinute: config.AUDIT_DENIALS_PER_MINUTE,
          publicUrl: config.PUBLIC_URL,
        }),
        ...chain.modules(auth.guards),
      );
      checks.push(chain.health, ...chain.relayHealth);
      legacySync = startLegacySync({ config, db, patients, records, logger });
    } else {
      checks.push({
        name: "chain",
        check: async () => {
          throw new HealthCheckError("no chain view in this mode");
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
  // Below the app: what Node's parser refuses, an odd `Expect`, CONNECT — problem+json too.
  const server: Server = guardHttpServer(tls ? createHttpsServer(tls, app) : createHttpServer(app), {
    methods: "GET, POST, PUT, PATCH, DELETE and OPTIONS",
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await cleanup();
    throw error;
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;
  const url = `${tls ? "https" : "http"}://${config.HOST}:${port}`;
  let metricsServer: MetricsServer;
  try {
    metricsServer = await startMetricsServer(metrics, {
      host: config.METRICS_HOST,
      port: config.METRICS_PORT,
    });
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await cleanup();
    throw error;
  }
  logger.info({ url, metricsUrl: metricsServer.url }, "gatekeeper listening");

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
      await metricsServer.close();
      await cleanup();
      logger.info("gatekeeper stopped");
    })();
    return stopping;
  };
  return { url, metricsUrl: metricsServer.url, db, records, patients, chain, stop };
}

/** The certificate and key (PEM) when TLS_CERT_FILE / TLS_KEY_FILE are set; unreadable files stop the start. */
async function readTls(config: Config): Promise<{ cert: Buffer; key: Buffer } | undefined> {
  if (config.TLS_CERT_FILE === undefined || config.TLS_KEY_FILE === undefined) return undefined;
  // Each read says its own problem; they are listed in the variables' order, whichever fails first.
  const read = (name: "TLS_CERT_FILE" | "TLS_KEY_FILE", path: string) =>
    readFile(path).then(
      (bytes) => ({ bytes, problem: undefined }),
      (error: NodeJS.ErrnoException) => ({
        bytes: Buffer.alloc(0),
        problem: `${name}: cannot be read (${error.code ?? "error"})`,
      }),
    );
  const [cert, key] = await Promise.all([
    read("TLS_CERT_FILE", config.TLS_CERT_FILE),
    read("TLS_KEY_FILE", config.TLS_KEY_FILE),
  ]);
  const problems = [cert.problem, key.problem].filter((p): p is string => p !== undefined);
  if (problems.length > 0) throw new ConfigError(problems);
  return { cert: cert.bytes, key: key.bytes };
}
