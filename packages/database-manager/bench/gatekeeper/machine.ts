/** The machine beside every figure: cores, CPU, and the load average before and after a measurement. */
import { availableParallelism, cpus, loadavg } from "node:os";
import { otherServers } from "../processes.ts";
import { round } from "./stats.ts";

export type MachineLoad = { loadAverageBefore: number[]; loadAverageAfter: number[] };

export const machine = () => ({
  cores: availableParallelism(),
  cpu: cpus()[0]?.model ?? "unknown",
  node: process.version,
});

const load = () => loadavg().map((n) => round(n, 2));

/** Runs `fn` and returns its result with the 1/5/15-minute load averages before and after. */
export async function withLoad<T>(fn: () => Promise<T>): Promise<T & { machine: MachineLoad }> {
  const before = load();
  const result = await fn();
  return { ...result, machine: { loadAverageBefore: before, loadAverageAfter: load() } };
}

/** A warning when geth or PostgreSQL servers this bench did not start are running. */
export function othersWarning(when: string): string | undefined {
  const others = otherServers();
  if (others.geth.length + others.postgres.length === 0) return undefined;
  return `${when}: other geth (${others.geth.length}) / PostgreSQL (${others.postgres.length}) servers are running on this machine — figures are noisy`;
}
