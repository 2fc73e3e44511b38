/** bench:chain's fixed parameters and its command-line options. */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Fees } from "../txs.ts";

export const SEALERS = 3;
/**
 * What a run measures, in order: grants relayed (the headline), sent directly, and relayed again
 * once the RPC nodes run below the sealers' CPU priority (nice {@link RPC_NICE}; set for the rest
 * of the run, so it comes last).
 */
export const MODES = ["relayed", "direct", "relayed-rpc-nice"] as const;
export type Mode = (typeof MODES)[number];
export const RPC_NICE = 10;
export const PERIOD_SECONDS = 1;
export const TARGETS = { inclusionP50Ms: 1500, inclusionP99Ms: 3000, sustainedTxPerSec: 300 } as const;
export const MIN = { latencySends: 200, durationSeconds: 60 } as const;
export const GWEI = 10n ** 9n;
/**
 * Grants: a fee cap far above the base fee. London starts at 1 gwei; the base fee falls 12.5 % a
 * block while blocks are under half full and rises 12.5 % a block above, so a window of full
 * blocks multiplies it by up to 1.125^n — 1000 gwei leaves room for ~90 full blocks. (A grant's
 * maximum fee, ~0.07 ether, stays under geth's 1 ether `--rpc.txfeecap`.)
 */
export const FEES: Fees = { maxFeePerGas: 1000n * GWEI, maxPriorityFeePerGas: 2n * GWEI };
/** Setup transactions (the deployment is ~3.4 M gas, so a lower cap keeps it under the 1 ether RPC fee cap). */
export const SETUP_FEES: Fees = { maxFeePerGas: 100n * GWEI, maxPriorityFeePerGas: 2n * GWEI };
/**
 * Block gas limit 45 M. A grant with 160 B of details uses ~61,300 gas, so 300 grants/s at one
 * block a second needs ≥ 18.4 M gas per block; 45 M holds 734 grants (2.4× the target). Each block
 * is built by one sealer and then imported by the others before the next can be built, all on the
 * same cores; on the 2-core reference machine a full 45 M block takes ~230 ms to build and ~220 ms
 * to import (p50), so blocks keep the 1 s period. Bigger limits measured there (quiet machine):
 * 60 M → mean interval 1.19 s, 792 grants/s; 80 M → 1.76 s, 723/s; 100 M → ~3 s, 444/s, with
 * forks — the period no longer holds and latency climbs. (EIP-1559's target is half the limit,
 * ~367 grants/s: above it the base fee rises 12.5 % a block, which FEES allows for.)
 */
export const BENCH_GAS_LIMIT = 45_000_000n;
export const PREFUND = 10n ** 24n; // 1,000,000 ether per account

/** What one run measures and how long: the parsed command line. */
export type BenchOptions = ReturnType<typeof parseOptions>["opts"];

/** Parses the command line; prints usage and exits on `--help` (0) or a bad value (2). */
export function parseOptions(args: string[]) {
  const { values: flags } = parseArgs({
    args,
    options: {
      senders: { type: "string" },
      duration: { type: "string" },
      "latency-sends": { type: "string" },
      "latency-rate": { type: "string" },
      "gas-limit": { type: "string" },
      backlog: { type: "string" },
      presign: { type: "string" },
      warmup: { type: "string" },
      modes: { type: "string" },
      "geth-arg": { type: "string", multiple: true },
      "rpc-arg": { type: "string", multiple: true },
      out: { type: "string" },
      smoke: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (flags.help) {
    console.log(
      "usage: node bench/chain.ts [--senders 24] [--duration 60] [--latency-sends 240] [--latency-rate 5]\n" +
        "                           [--gas-limit 45000000] [--backlog N] [--presign N] [--warmup 5]\n" +
        "                           [--modes relayed,direct] [--geth-arg=--flag ...] [--out reports/chain.json] [--smoke]\n" +
        "--modes: what to measure, in order: relayed (the headline), direct, and relayed-rpc-nice (relayed again\n" +
        "         after the RPC nodes' threads were set to nice 10, below the sealers: an experiment). Default: all three.\n" +
        "--geth-arg: an extra geth flag for every node (repeat it; e.g. --geth-arg=--cache.noprefetch) — for experiments.\n" +
        "--rpc-arg: the same for the RPC nodes only (e.g. --rpc-arg=--txpool.nolocals).\n" +
        "--smoke: a short run (30 latency sends, 15 s window) that prints figures but writes no report.",
    );
    process.exit(0);
  }
  function intFlag(name: string, value: string | undefined, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) {
      console.error(`--${name} must be an integer ≥ ${min}, got ${value}`);
      process.exit(2);
    }
    return n;
  }
  const smoke = flags.smoke === true;
  const modes = (flags.modes ?? MODES.join(",")).split(",").map((m) => m.trim());
  if (modes.length === 0 || modes.some((m) => !(MODES as readonly string[]).includes(m))) {
    console.error(`--modes takes ${MODES.join(", ")}, got ${flags.modes}`);
    process.exit(2);
  }
  const opts = {
    senders: intFlag("senders", flags.senders, 24, SEALERS),
    durationSeconds: intFlag("duration", flags.duration, smoke ? 15 : 60, smoke ? 5 : MIN.durationSeconds),
    latencySends: intFlag(
      "latency-sends",
      flags["latency-sends"],
      smoke ? 30 : 240,
      smoke ? 5 : MIN.latencySends,
    ),
    latencyRate: Number(flags["latency-rate"] ?? 5),
    gasLimit: BigInt(intFlag("gas-limit", flags["gas-limit"], Number(BENCH_GAS_LIMIT), 5_000_000)),
    backlog: flags.backlog === undefined ? undefined : intFlag("backlog", flags.backlog, 0, 100),
    presign: flags.presign === undefined ? undefined : intFlag("presign", flags.presign, 0, 0),
    warmupSeconds: intFlag("warmup", flags.warmup, 5, 1),
    modes: modes as Mode[],
    gethArgs: flags["geth-arg"] ?? [],
    rpcArgs: flags["rpc-arg"] ?? [],
  };
  if (!(opts.latencyRate > 0 && opts.latencyRate <= 20)) {
    console.error("--latency-rate must be in (0, 20] sends per second");
    process.exit(2);
  }
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
  const outPath = resolve(flags.out ?? join(repoRoot, "reports", "chain.json"));
  return { opts, smoke, outPath };
}
