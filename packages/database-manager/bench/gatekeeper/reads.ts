/**
 * Read throughput and latency windows: each target (ours, the bare handler, the peer) is measured
 * `runs` times, interleaved (ours, bare, peer, ours, …) so drift on a shared machine hits all alike.
 * A window is bench/load.ts: keep-alive connections from a worker thread, a warm-up, then only
 * complete 200s counted.
 */
import { type LoadSummary, runLoad, summarize } from "../load.ts";
import { childCpuSeconds, machineCpu } from "../processes.ts";
import { sleep } from "./lifecycle.ts";
import { type Repeated, repeated, round, spread } from "./stats.ts";

export type Target = {
  name: string;
  url: string;
  token: string;
  sample: { bytes: number; entries: number };
};

export const readWindow = (target: Target, concurrency: number, durationS: number, warmupMs = 1_000) =>
  runLoad({
    url: target.url,
    token: target.token,
    concurrency,
    warmupMs,
    durationMs: durationS * 1000,
    expectedBytes: target.sample.bytes,
    expectedEntries: target.sample.entries,
    parseEvery: 500,
  }).then(summarize);

/** CPU by component over a measured window, in % of one core (100 % = one core busy). */
export type CpuShares = {
  benchMainThreadPct: number;
  loadGeneratorPct: number;
  postgresPct: number;
  gethPct: number;
  javaPct: number;
  machineBusyPct: number;
};

/** A window with the CPU each component used over it (counters taken after the warm-up). */
export async function readWindowWithCpu(
  target: Target,
  concurrency: number,
  durationS: number,
): Promise<LoadSummary & { cpu: CpuShares }> {
  const warmupMs = 1_000;
  const running = readWindow(target, concurrency, durationS, warmupMs);
  await sleep(warmupMs);
  const c0 = { main: process.threadCpuUsage(), children: childCpuSeconds(), machine: machineCpu() };
  const t0 = performance.now();
  const s = await running;
  const wallS = (performance.now() - t0) / 1000;
  const main = process.threadCpuUsage(c0.main);
  const children = childCpuSeconds();
  const machine = machineCpu();
  const pct = (seconds: number) => round((100 * seconds) / wallS, 0);
  return {
    ...s,
    cpu: {
      benchMainThreadPct: pct((main.user + main.system) / 1e6),
      loadGeneratorPct: pct(s.workerCpuMs / 1000),
      postgresPct: pct(children.postgres - c0.children.postgres),
      gethPct: pct(children.geth - c0.children.geth),
      javaPct: pct(children.java - c0.children.java),
      machineBusyPct: pct(machine.busy - c0.machine.busy),
    },
  };
}

/** Every response of the windows by status, plus the reads that were cut short or broken. */
export function statusesOf(windows: readonly LoadSummary[]): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, n: number) => {
    if (n > 0) out[k] = (out[k] ?? 0) + n;
  };
  for (const w of windows) {
    for (const [status, n] of Object.entries(w.statuses)) add(status, n);
    add("incomplete", w.incomplete);
    add("invalid", w.invalid);
    add("socketErrors", w.socketErrors);
  }
  return out;
}

export type Measured = Repeated & {
  windows: (LoadSummary & { cpu: CpuShares })[];
  cpuMedianPct: Record<keyof CpuShares, number>;
};

/** `runs` windows of every target, interleaved; by target name. */
export async function measureInterleaved(
  targets: readonly Target[],
  { runs, concurrency, durationS }: { runs: number; concurrency: number; durationS: number },
  onWindow?: (target: string, run: number, s: LoadSummary) => void,
): Promise<Map<string, Measured>> {
  const windows = new Map<string, (LoadSummary & { cpu: CpuShares })[]>(targets.map((t) => [t.name, []]));
  for (let run = 0; run < runs; run++) {
    for (const t of targets) {
      const s = await readWindowWithCpu(t, concurrency, durationS);
      windows.get(t.name)?.push(s);
      onWindow?.(t.name, run, s);
    }
  }
  const cpuMedian = (ws: { cpu: CpuShares }[]) =>
    Object.fromEntries(
      (Object.keys(ws[0]?.cpu ?? {}) as (keyof CpuShares)[]).map((k) => [
        k,
        spread(ws.map((w) => w.cpu[k])).median,
      ]),
    ) as Record<keyof CpuShares, number>;
  return new Map(
    [...windows].map(([name, ws]) => [name, { ...repeated(ws), windows: ws, cpuMedianPct: cpuMedian(ws) }]),
  );
}
