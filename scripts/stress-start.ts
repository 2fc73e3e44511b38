/**
 * `./medrec run stress:start` — `./medrec start` on a loaded machine, again and again (not part of
 * CI). Starts CPU-burning processes (default 4 busy loops: MEDREC_STRESS_BURNERS) and waits until
 * the 1-minute load average is at least 4, then runs `node scripts/start.ts` MEDREC_STRESS_RUNS
 * times (default 20) one after the other — each on free ports with its own manifest and temporary
 * directory — waits for "Press Ctrl-C to stop." (or its failure), sends SIGINT and waits for it to
 * exit. Writes reports/stress.json: how many became ready, their start times, the load average at
 * each start, and why any failed. Issue 18: a start must not fail because a relay's node is a block
 * behind (relayed requests name their dependency; docs/protocol.md "Relayed transactions").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { commandWithArgs, startReport, summarize } from "@medrec/testkit";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const READY = /Press Ctrl-C to stop\./;
const FAILED = /medrec start failed/;
/** The starts running now (a signal to this process stops them first). */
const running = new Set<ChildProcess>();

/** `n` busy-loop node processes beside this one; `stop()` ends exactly them. */
export function cpuLoad(n: number): { pids: number[]; stop(): Promise<void> } {
  const burners: ChildProcess[] = Array.from({ length: n }, () =>
    spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }),
  );
  const kill = () => {
    for (const b of burners) if (b.exitCode === null && b.signalCode === null) b.kill("SIGKILL");
  };
  process.once("exit", kill);
  return {
    pids: burners.map((b) => b.pid ?? -1),
    async stop() {
      const exits = burners
        .filter((b) => b.exitCode === null && b.signalCode === null)
        .map((b) => once(b, "exit"));
      kill();
      await Promise.all(exits);
      process.removeListener("exit", kill);
    },
  };
}

/** Resolves once the 1-minute load average is at least `min` (or after `timeoutMs`); the last reading. */
export async function loadAtLeast(min: number, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [one = 0] = loadavg();
    if (one >= min || Date.now() > deadline) return one;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

export type StartRun = {
  ready: boolean;
  /** From spawn to the ready line (ms). */
  readyMs: number | undefined;
  /** What start itself printed ("Ready in 41.2 s"), in seconds. */
  printedReadyS: number | undefined;
  /** Exit code after SIGINT (0: stopped cleanly). */
  exitCode: number | null;
  /** 1-minute load average when the start began. */
  loadAtStart: number;
  /** The last lines printed, when it did not become ready. */
  failure?: string;
};

/**
 * One `./medrec start` (`node scripts/start.ts` on ports chosen by the system, its manifest and
 * temporary data under a directory of its own): waits for its ready line or its failure (at most
 * `timeoutMs`), sends SIGINT, waits for it to exit, removes the directory.
 */
export async function startOnce({ timeoutMs = 600_000 }: { timeoutMs?: number } = {}): Promise<StartRun> {
  const dir = await mkdtemp(path.join(tmpdir(), "medrec-stress-"));
  // PostgreSQL (run as `postgres` when we are root) must enter it.
  await chmod(dir, 0o755);
  const loadAtStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  const began = performance.now();
  const child = spawn(process.execPath, ["scripts/start.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      TMPDIR: dir,
      MEDREC_MANIFEST: path.join(dir, "network.json"),
      MEDREC_GATEKEEPER_PORT: "0",
      MEDREC_DAPP_PORT: "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let output = "";
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  let readyMs: number | undefined;
  const settled = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (READY.test(output)) {
        readyMs ??= Math.round(performance.now() - began);
        clearTimeout(timer);
        resolve(true);
      } else if (FAILED.test(output)) {
        clearTimeout(timer);
        resolve(false);
      }
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    void exited.then(() => {
      clearTimeout(timer);
      resolve(READY.test(output));
    });
  });
  const ready = await settled;
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  const stopTimer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const [exitCode] = await exited;
  running.delete(child);
  clearTimeout(stopTimer);
  await rm(dir, { recursive: true, force: true });
  const printed = /Ready in (\d+(?:\.\d+)?) s/.exec(output)?.[1];
  return {
    ready,
    readyMs,
    printedReadyS: printed === undefined ? undefined : Number(printed),
    exitCode,
    loadAtStart,
    ...(ready ? {} : { failure: output.trim().split("\n").slice(-8).join("\n") }),
  };
}

if (import.meta.main) {
  const runs = Number(process.env.MEDREC_STRESS_RUNS ?? 20);
  const burners = Number(process.env.MEDREC_STRESS_BURNERS ?? 4);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`MEDREC_STRESS_RUNS must be ≥ 1, got ${runs}`);
  const report = startReport(commandWithArgs("./medrec run stress:start"), ROOT);
  const load = cpuLoad(burners);
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      for (const child of running) child.kill("SIGINT");
      void Promise.all([...running].map((c) => once(c, "exit")))
        .then(() => load.stop())
        .finally(() => process.exit(130));
    });
  const results: StartRun[] = [];
  try {
    const loadBeforeFirst = await loadAtLeast(4);
    console.log(`load average ${loadBeforeFirst.toFixed(2)} with ${burners} CPU-burning processes`);
    for (let i = 1; i <= runs; i++) {
      const run = await startOnce();
      results.push(run);
      console.log(
        `start ${i}/${runs}: ${run.ready ? `ready in ${((run.readyMs ?? 0) / 1000).toFixed(1)} s` : "FAILED"}, load ${run.loadAtStart}, exit ${run.exitCode}${run.failure ? `\n${run.failure}` : ""}`,
      );
    }
  } finally {
    await load.stop();
  }
  const ready = results.filter((r) => r.ready);
  const written = report.write(path.join(ROOT, "reports/stress.json"), {
    runs: results.length,
    burners,
    ready: ready.length,
    successRate: Math.round((ready.length / results.length) * 1000) / 1000,
    readyS: summarize(
      ready.map((r) => (r.readyMs ?? 0) / 1000),
      1,
    ),
    printedReadyS: summarize(
      ready.flatMap((r) => (r.printedReadyS === undefined ? [] : [r.printedReadyS])),
      1,
    ),
    loadAtStart: summarize(
      results.map((r) => r.loadAtStart),
      2,
    ),
    cleanExits: results.filter((r) => r.exitCode === 0).length,
    failures: results.flatMap((r, i) => (r.failure ? [{ run: i + 1, output: r.failure }] : [])),
    starts: results.map(({ failure: _failure, ...r }) => r),
  });
  console.log(
    `${written.ready}/${written.runs} ready; start p50 ${written.readyS.p50} s, max ${written.readyS.max} s; load at start p50 ${written.loadAtStart.p50}`,
  );
  process.exitCode = written.ready === written.runs ? 0 : 1;
}
