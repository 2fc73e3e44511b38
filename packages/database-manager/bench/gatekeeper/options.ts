/**
 * bench:gatekeeper's command line. Every measured window runs `runs` times (at least 3; the
 * report gives the median and the spread).
 */
import { parseArgs } from "node:util";

export const USAGE =
  "usage: node bench/gatekeeper.ts [--duration 6] [--runs 3] [--concurrency N | --sweep 16,24,32]\n" +
  "                                [--sweep-duration 3] [--cycles 30] [--growth-duration 4]\n" +
  "                                [--ingest-runs 3] [--no-peer] [--out FILE] [--time-limit-min 40] [--smoke]";

export type BenchOptions = {
  durationS: number;
  runs: number;
  concurrency: number | undefined;
  sweep: number[];
  sweepDurationS: number;
  cycles: number;
  growthDurationS: number;
  ingestRuns: number;
  peer: boolean;
  timeLimitMin: number;
  smoke: boolean;
  out: string | undefined;
};

const MIN = { durationS: 5, runs: 3, cycles: 30 } as const;

export function parseOptions(argv = process.argv.slice(2)): BenchOptions {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string" },
      runs: { type: "string" },
      concurrency: { type: "string" },
      sweep: { type: "string" },
      "sweep-duration": { type: "string" },
      cycles: { type: "string" },
      "growth-duration": { type: "string" },
      "ingest-runs": { type: "string" },
      "no-peer": { type: "boolean", default: false },
      out: { type: "string" },
      "time-limit-min": { type: "string" },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (flags.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, value: string | undefined, fallback: number, min: number, max: number) => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
      console.error(`--${name} must be an integer from ${min} to ${max}`);
      process.exit(2);
    }
    return n;
  };
  const smoke = flags.smoke;
  return {
    durationS: int("duration", flags.duration, smoke ? 1 : 6, smoke ? 1 : MIN.durationS, 600),
    runs: int("runs", flags.runs, smoke ? 1 : MIN.runs, smoke ? 1 : MIN.runs, 20),
    concurrency:
      flags.concurrency === undefined ? undefined : int("concurrency", flags.concurrency, 16, 1, 1024),
    sweep: (flags.sweep ?? (smoke ? "16" : "16,24,32"))
      .split(",")
      .map((s) => int("sweep", s.trim(), 16, 1, 1024)),
    sweepDurationS: int("sweep-duration", flags["sweep-duration"], smoke ? 1 : 3, 1, 60),
    cycles: int("cycles", flags.cycles, smoke ? 3 : MIN.cycles, smoke ? 1 : MIN.cycles, 1000),
    growthDurationS: int("growth-duration", flags["growth-duration"], smoke ? 1 : 4, 1, 600),
    ingestRuns: int("ingest-runs", flags["ingest-runs"], smoke ? 1 : MIN.runs, 1, 20),
    peer: !flags["no-peer"],
    timeLimitMin: int("time-limit-min", flags["time-limit-min"], 40, 1, 240),
    smoke,
    out: flags.out,
  };
}
