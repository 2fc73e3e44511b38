/**
 * Provenance for every figure under `reports/`: which commit was measured, when, by which command,
 * on how many cores and under what load, with how many runs. Every bench writes its report through
 * `startReport(...).write(...)`, and `scripts/reports.test.ts` fails on a committed report without
 * these fields.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { percentile } from "./stats.ts";

/** The machine a report was measured on: cores, CPU model and the 1/5/15-minute load averages. */
export interface ReportMachine {
  cores: number;
  cpu: string;
  node: string;
  loadBefore: number[];
  loadAfter: number[];
}

/** The fields every `reports/*.json` starts with. */
export interface Provenance {
  /** The commit whose tree was measured (40 hex digits). */
  commit: string;
  /** True when the working tree differed from `commit` outside `reports/` while measuring. */
  dirty: boolean;
  /** ISO 8601, when the report was written. */
  generatedAt: string;
  /** The command that writes this report, as a person types it (e.g. `./medrec run bench:gas`). */
  command: string;
  machine: ReportMachine;
}

/** A summary of samples: n and nearest-rank percentiles (the one way every report computes them). */
export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const load = () => loadavg().map((x) => Math.round(x * 100) / 100);

/** `n`, min, nearest-rank p50/p90/p95/p99, max and mean of `samples` (NaN figures when empty). */
export function summarize(samples: readonly number[], digits = 2): Summary {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x);
  const n = samples.length;
  return {
    n,
    min: r(percentile(samples, 0)),
    p50: r(percentile(samples, 50)),
    p90: r(percentile(samples, 90)),
    p95: r(percentile(samples, 95)),
    p99: r(percentile(samples, 99)),
    max: r(percentile(samples, 100)),
    mean: r(n ? samples.reduce((a, b) => a + b, 0) / n : Number.NaN),
  };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
}

/** HEAD of the repository holding `cwd`, and whether anything outside reports/ differs from it. */
export function currentCommit(cwd: string = process.cwd()): { commit: string; dirty: boolean } {
  const commit = git(cwd, "rev-parse", "HEAD");
  const changed = git(cwd, "status", "--porcelain", "--untracked-files=no")
    .split("\n")
    .filter((line) => line.trim() !== "" && !/\breports\//.test(line));
  return { commit, dirty: changed.length > 0 };
}

/**
 * Begins a measurement: the load average is read now; `provenance()` reads it again and returns
 * the fields every report starts with; `write(file, body)` writes `{ ...provenance, ...body }`.
 *
 * @example
 * const report = startReport("./medrec run bench:chain");
 * // … measure …
 * report.write("reports/chain.json", { runs: samples.length, inclusionMs: summarize(samples) });
 */
export function startReport(command: string, cwd: string = process.cwd()) {
  const loadBefore = load();
  const { commit, dirty } = currentCommit(cwd);
  const provenance = (): Provenance => ({
    commit,
    dirty,
    generatedAt: new Date().toISOString(),
    command,
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? "unknown",
      node: process.version,
      loadBefore,
      loadAfter: load(),
    },
  });
  return {
    loadBefore,
    provenance,
    /** Writes the report (pretty JSON, trailing newline) and returns what was written. */
    write<T extends { runs: unknown }>(file: string, body: T): Provenance & T {
      const report = { ...provenance(), ...body };
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
      return report;
    },
  };
}

/**
 * `command` followed by the arguments this process was given (`--runs 3`), quoted for a POSIX
 * shell where needed: the command a report names is the one that wrote it, options included.
 *
 * @example
 * startReport(commandWithArgs("./medrec run bench:dapp")) // "./medrec run bench:dapp --runs 3"
 */
export function commandWithArgs(command: string, args: readonly string[] = process.argv.slice(2)): string {
  const quote = (a: string) => (/^[\w./=:,@+-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return [command, ...args.map(quote)].join(" ");
}

/** What is wrong with a report's provenance (empty when it has all of it). */
export function provenanceProblems(report: unknown): string[] {
  const problems: string[] = [];
  if (typeof report !== "object" || report === null) return ["not a JSON object"];
  const r = report as Record<string, unknown>;
  if (typeof r.commit !== "string" || !/^[0-9a-f]{40}$/.test(r.commit))
    problems.push("commit: not 40 hex digits");
  if (typeof r.generatedAt !== "string" || Number.isNaN(Date.parse(r.generatedAt)))
    problems.push("generatedAt: not a date");
  if (typeof r.command !== "string" || !r.command.startsWith("./medrec "))
    problems.push("command: not a ./medrec command");
  const m = r.machine as Record<string, unknown> | undefined;
  if (typeof m !== "object" || m === null) problems.push("machine: missing");
  else {
    if (typeof m.cores !== "number" || m.cores < 1) problems.push("machine.cores: missing");
    for (const k of ["loadBefore", "loadAfter"] as const)
      if (!Array.isArray(m[k]) || m[k].length !== 3 || !m[k].every((x) => typeof x === "number"))
        problems.push(`machine.${k}: not three load averages`);
  }
  const runs = r.runs;
  const runsOk =
    (typeof runs === "number" && Number.isInteger(runs) && runs >= 1) ||
    (Array.isArray(runs) && runs.length >= 1) ||
    (typeof runs === "object" && runs !== null && !Array.isArray(runs) && Object.keys(runs).length > 0);
  if (!runsOk) problems.push("runs: missing (a count ≥ 1, the list of runs, or runs per measurement)");
  return problems;
}
