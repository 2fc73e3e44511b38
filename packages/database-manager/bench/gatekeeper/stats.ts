/**
 * Pure arithmetic of bench:gatekeeper's report: the median and spread of repeated windows, and
 * the ratios of ours to the bare handler's. No I/O; unit-tested in stats.test.ts.
 */
import { percentile } from "@medrec/testkit";

export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

/**
 * How many repeated measurements, their median (nearest rank, as testkit's percentile and summarize
 * compute every percentile in reports/) and spread (min, max), with every value kept.
 */
export type Spread = { n: number; median: number; min: number; max: number; runs: number[] };

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { n: 0, median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] };
  return {
    n: values.length,
    median: round(percentile(values, 50)),
    min: round(percentile(values, 0)),
    max: round(percentile(values, 100)),
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
