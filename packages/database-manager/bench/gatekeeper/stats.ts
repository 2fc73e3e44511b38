/**
 * Pure arithmetic of bench:gatekeeper's report: the median and spread of repeated windows, and
 * the ratios of ours to the bare handler's. No I/O; unit-tested in stats.test.ts.
 */

export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

/** The median and the spread (min, max) of repeated measurements, with every value kept. */
export type Spread = { median: number; min: number; max: number; runs: number[] };

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    median: round(median),
    min: round(sorted[0] as number),
    max: round(sorted[sorted.length - 1] as number),
    runs: values.map((v) => round(v)),
  };
}

/** What one measured window gave (a subset of load.ts LoadSummary). */
export type Window = { readsPerSec: number; latencyMs: { p50: number; p99: number }; errors: number };

/** Repeated windows of one target: medians and spreads of throughput, p50 and p99. */
export type Repeated = {
  readsPerSec: Spread;
  latencyMs: { p50: Spread; p99: Spread };
  errors: number;
};

export function repeated(windows: readonly Window[]): Repeated {
  return {
    readsPerSec: spread(windows.map((w) => w.readsPerSec)),
    latencyMs: {
      p50: spread(windows.map((w) => w.latencyMs.p50)),
      p99: spread(windows.map((w) => w.latencyMs.p99)),
    },
    errors: windows.reduce((n, w) => n + w.errors, 0),
  };
}

/**
 * Ours against the limit (the bare handler): throughput ratio (higher is better, goal ≥ 0.5) and
 * p99 ratio (lower is better, goal ≤ 2), from the medians.
 */
export function ratios(
  ours: Repeated,
  bare: Repeated,
  goal = { throughput: 0.5, p99: 2 },
): { throughput: number; p99: number; goal: typeof goal; met: { throughput: boolean; p99: boolean } } {
  const throughput = round(ours.readsPerSec.median / bare.readsPerSec.median, 3);
  const p99 = round(ours.latencyMs.p99.median / bare.latencyMs.p99.median, 3);
  return {
    throughput,
    p99,
    goal,
    met: { throughput: throughput >= goal.throughput, p99: p99 <= goal.p99 },
  };
}
