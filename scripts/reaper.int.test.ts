/**
 * However a run ends, nothing of it is left within 10 s: no geth, no PostgreSQL, no gatekeeper or
 * dapp process, no guardian, no temp directory (adr/0010). Four ways to die, each with its own
 * TMPDIR, side by side: `./medrec start` killed with SIGKILL; `./medrec start` ending on an
 * uncaught exception (MEDREC_TEST_CRASH_AFTER_READY=1); a test process running `startSystem`
 * interrupted with SIGINT, and killed with SIGKILL. Processes are found by what ties them to their
 * run (supervisor.support.ts), not by name: other runs share the machine.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createDb, startEmbeddedPostgres } from "@medrec/database-manager";
import { eventually } from "@medrec/testkit";
import { buildDapp } from "@medrec/user-client/server";
import { msUntilNothingLeft, processesOf, runDir, start } from "./supervisor.support.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A test process's own use of the system: startSystem with the dapp, "system ready" once up. */
const TEST_PROCESS = `
import { pino } from "pino";
import { startSystem } from "./scripts/system.ts";
await startSystem({ periodSeconds: 1, gatekeeperPort: 0, corsOrigins: [], dappPort: 0,
  log: () => undefined, logger: pino({ level: "silent" }) });
console.log("system ready");
setInterval(() => undefined, 60_000);
`;

function testProcess(tmp: string): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["--input-type=module", "-e", TEST_PROCESS], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  for (const stream of [child.stdout, child.stderr]) stream?.on("data", (c: Buffer) => (output += c));
  return { child, output: () => output };
}

/** Waits for `ready` in the output (or a failure); then, unless it may be ending already, checks the run is up. */
async function untilReady(tmp: string, run: { output: () => string }, ready: RegExp, { count = true } = {}) {
  await eventually("ready", () => ready.test(run.output()) || /failed|Error/.test(run.output()), {
    timeoutMs: 300_000,
    intervalMs: 250,
  });
  assert.match(run.output(), ready, run.output());
  if (!count) return "all";
  const processes = await processesOf(tmp);
  // 3 sealers, 3 RPC nodes, 3 gatekeepers, their PostgreSQL, the dapp, the guardian.
  assert.ok(processes.length >= 14, `the run is up: ${processes.length} processes`);
  return processes.length;
}

/** Whether `pid` runs (a zombie, ended but not yet reaped by its new parent, does not). */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

describe("nothing is left behind, however a run ends", { concurrency: true }, async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "medrec-reaper-test-"));
  await chmod(dir, 0o755);
  // Built once here: four runs building dist/ at once would race.
  before(() => buildDapp());
  after(() => rm(dir, { recursive: true, force: true }));
  const env = (name: string) => ({
    MEDREC_MANIFEST: path.join(dir, `${name}.json`),
    MEDREC_GATEKEEPER_PORT: "0",
    MEDREC_DAPP_PORT: "0",
  });

  it("behavior: ./medrec start killed with SIGKILL", async (t) => {
    const tmp = await runDir(dir, "sigkill-start");
    const run = start(env("sigkill-start"), tmp);
    const n = await untilReady(tmp, run, /Press Ctrl-C to stop\./);
    run.child.kill("SIGKILL");
    const ms = await msUntilNothingLeft(tmp);
    t.diagnostic(
      `SIGKILL of ./medrec start (${n} processes): nothing left after ${(ms / 1000).toFixed(2)} s`,
    );
  });

  it("behavior: ./medrec start ending on an uncaught exception", async (t) => {
    const tmp = await runDir(dir, "crash-start");
    const run = start({ ...env("crash-start"), MEDREC_TEST_CRASH_AFTER_READY: "1" }, tmp);
    const exited = once(run.child, "exit");
    const n = await untilReady(tmp, run, /Press Ctrl-C to stop\./, { count: false });
    const ms = await msUntilNothingLeft(tmp);
    const [code] = await exited;
    assert.equal(code, 1, "an uncaught exception ends the process with 1");
    assert.match(run.output(), /Error: MEDREC_TEST_CRASH_AFTER_READY: a crash after ready, for a test/);
    t.diagnostic(
      `uncaught exception in ./medrec start (${n} processes): nothing left after ${(ms / 1000).toFixed(2)} s`,
    );
  });

  it("behavior: a PostgreSQL left running by kill -9 of its gatekeeper does not block the next start; a live one is refused", async () => {
    const dataDir = path.join(await runDir(dir, "orphan"), "gatekeeper");
    // A gatekeeper's process, as far as its database goes: it starts the embedded PostgreSQL.
    const gatekeeper = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { startEmbeddedPostgres } from "@medrec/database-manager";
         await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
         console.log("database ready");
         setInterval(() => undefined, 60_000);`,
      ],
      { cwd: path.join(root, "packages/database-manager"), stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    gatekeeper.stdout?.on("data", (c: Buffer) => (output += c));
    await eventually("the database is ready", () => output.includes("database ready"), {
      timeoutMs: 120_000,
    });
    const orphan = Number(
      (await readFile(path.join(dataDir, "postgres/postmaster.pid"), "utf8")).split("\n")[0],
    );
    await assert.rejects(startEmbeddedPostgres({ dataDir }), /in use by process \d+/);
    // Only the gatekeeper dies: its postmaster is orphaned, still running in the data dir.
    gatekeeper.kill("SIGKILL");
    await once(gatekeeper, "exit");
    assert.ok(await running(orphan), "the postmaster outlived its gatekeeper");
    const pg = await startEmbeddedPostgres({ dataDir });
    const db = createDb(pg.connectionString, { poolMax: 1 });
    try {
      assert.deepEqual((await db.raw("select 1 as one")).rows, [{ one: 1 }]);
      assert.ok(!(await running(orphan)), "the orphan was stopped");
    } finally {
      await db.destroy();
      await pg.stop();
    }
  });

  for (const signal of ["SIGINT", "SIGKILL"] as const)
    it(`behavior: a test process running startSystem, interrupted with ${signal}`, async (t) => {
      const tmp = await runDir(dir, `${signal.toLowerCase()}-test`);
      const run = testProcess(tmp);
      const n = await untilReady(tmp, run, /system ready/);
      run.child.kill(signal);
      const ms = await msUntilNothingLeft(tmp);
      t.diagnostic(
        `${signal} of a test process (${n} processes): nothing left after ${(ms / 1000).toFixed(2)} s`,
      );
    });
});
