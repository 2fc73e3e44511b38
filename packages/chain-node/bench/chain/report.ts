/** bench:chain's report: the JSON written to reports/chain.json and the printed table. */

import { type Summary, summarize } from "@medrec/testkit";
import { TXPOOL_FLAGS } from "../geth-flags.ts";
import {
  type BenchOptions,
  FEES,
  GWEI,
  type Mode,
  PERIOD_SECONDS,
  RPC_NICE,
  SEALERS,
  TARGETS,
} from "./config.ts";
import type { LatencyResult } from "./latency.ts";
import type { ThroughputResult } from "./throughput.ts";

/** What one mode measured, and the gas of its grant transaction. */
export type ModeRun = {
  mode: Mode;
  latency: LatencyResult;
  throughput: ThroughputResult;
  grantEstimate: bigint;
  grantGasLimit: bigint;
};

const RELAYED =
  "patients sign EIP-712 ForwardRequests for Relationship.grant; one relayer per provider sends MedRecForwarder.execute(request) through its own provider's RPC node (what a gatekeeper's POST /v1/relay sends)";
const WHAT: Record<Mode, string> = {
  relayed: RELAYED,
  direct: "patients send Relationship.grant themselves through their own provider's RPC node",
  "relayed-rpc-nice": `${RELAYED} — after the RPC nodes' threads were set to nice ${RPC_NICE} (below the sealers), on the same network: an experiment, not the launcher's setting`,
};
/** Keys of the modes in reports/chain.json. */
const KEY: Record<Mode, string> = {
  relayed: "relayed",
  direct: "direct",
  "relayed-rpc-nice": `relayedRpcNice${RPC_NICE}`,
};

/** One mode's figures as written to reports/chain.json. */
function modeReport(opts: BenchOptions, run: ModeRun, latencySenders: number, loadSenders: number) {
  const { latency, throughput } = run;
  const lat = summarize(latency.samples, 0);
  return {
    what: WHAT[run.mode],
    sustainedTxPerSec: Math.round(throughput.txPerSec * 10) / 10,
    inclusionMs: { p50: lat.p50, p99: lat.p99 },
    targetsMet: {
      inclusionP50: lat.p50 <= TARGETS.inclusionP50Ms,
      inclusionP99: lat.p99 <= TARGETS.inclusionP99Ms,
      sustainedTxPerSec: throughput.txPerSec >= TARGETS.sustainedTxPerSec,
    },
    grantGas: {
      estimate: Number(run.grantEstimate),
      txGasLimit: Number(run.grantGasLimit),
      usedMean: throughput.gasPerGrant,
      maxPerBlockByGasLimit:
        throughput.gasPerGrant > 0
          ? Math.floor(Number(opts.gasLimit) / throughput.gasPerGrant)
          : Number(opts.gasLimit / run.grantEstimate),
    },
    latency: {
      sends: latency.samples.length,
      ratePerSec: opts.latencyRate,
      senders: latencySenders,
      failed: latency.failed,
      sendErrors: latency.sendErrors,
      ms: lat,
      blocksAfterSend: latency.blocksAfterSend,
    },
    throughput: {
      windowSeconds: throughput.windowSeconds,
      wallSeconds: Math.round(throughput.wallSeconds * 10) / 10,
      firstBlock: throughput.firstBlock,
      lastBlock: throughput.lastBlock,
      blocks: throughput.blocks,
      emptyBlocks: throughput.emptyBlocks,
      outOfTurnBlocks: throughput.outOfTurnBlocks,
      reorgsByNode: throughput.reorgsByNode,
      reorgsMax: Math.max(0, ...Object.values(throughput.reorgsByNode).map((r) => r.reorgs)),
      reorgsSeenOnRpc0Heads: throughput.reorgs,
      sideChainImportsOnSealers: throughput.timings.sidechainImports,
      blockIntervalSeconds: throughput.blockIntervalSeconds,
      confirmedGrants: throughput.confirmed,
      failedGrants: throughput.failed,
      otherTxs: throughput.other,
      txPerBlock: throughput.txPerBlock,
      gasUsedPerBlock: throughput.gasPerBlock,
      gasShare: throughput.gasShare,
      baseFeeWei: throughput.baseFee,
      senders: loadSenders,
      backlogTarget: throughput.backlog,
      minBacklogAtBlock: throughput.minBacklog,
      sentDuringRun: throughput.sent,
      sendErrors: throughput.sendErrors,
      notIncludedAfterDrain: throughput.notIncluded,
      inclusionUnderLoadMs: throughput.underLoad,
      headsAgree: throughput.headsAgree,
      presigned: throughput.presigned,
      signedLive: throughput.signedLive,
      signingTxPerSec: Math.round(throughput.signRate),
      cpuPercentOfOneCore: throughput.cpu,
      cpuMsPerBlock: throughput.cpuMsPerBlock,
      blockBuildMs: throughput.timings.buildMs,
      blockImportMs: throughput.timings.importMs,
      otherGethProcesses: throughput.otherGeth,
    },
  };
}

/** The body of reports/chain.json (the provenance is added by `startReport(...).write`). */
export function buildReport({
  opts,
  runs,
  latencySenders,
  loadSenders,
  environment,
  foreignAtStart,
  gethFlags,
  rpcFlags,
  notes,
}: {
  opts: BenchOptions;
  runs: readonly ModeRun[];
  latencySenders: number;
  loadSenders: number;
  environment: { geth: string; platform: string };
  foreignAtStart: readonly number[];
  gethFlags: readonly string[];
  rpcFlags: readonly string[];
  notes: readonly string[];
}) {
  const modes = Object.fromEntries(
    runs.map((run) => [KEY[run.mode], modeReport(opts, run, latencySenders, loadSenders)]),
  );
  return {
    runs: Object.fromEntries(
      runs.map((r) => [
        r.mode,
        { latencySends: r.latency.samples.length, throughputBlocks: r.throughput.blocks },
      ]),
    ),
    headline: "relayed",
    topology: `${SEALERS} providers, each a Clique sealer (IPC only) + a non-signing RPC node (the launcher's), on 127.0.0.1; load and receipts go through the RPC nodes`,
    sealers: SEALERS,
    rpcNodes: SEALERS,
    periodSeconds: PERIOD_SECONDS,
    targets: TARGETS,
    ...modes,
    chain: {
      gasLimit: Number(opts.gasLimit),
      txpoolFlags: TXPOOL_FLAGS.join(" "),
      gethExtraFlags: gethFlags.join(" "),
      rpcNodeExtraFlags: rpcFlags.join(" "),
      fees: {
        maxFeePerGasGwei: Number(FEES.maxFeePerGas / GWEI),
        maxPriorityFeePerGasGwei: Number(FEES.maxPriorityFeePerGas / GWEI),
      },
    },
    environment: {
      ...environment,
      otherGethProcessesDuringRun: Math.max(
        foreignAtStart.length,
        ...runs.map((r) => r.throughput.otherGeth),
      ),
    },
    notes,
  };
}

/** Prints one mode's figures as a table and says which targets it missed. */
export function printMode(run: ModeRun, opts: Pick<BenchOptions, "latencyRate" | "senders" | "gasLimit">) {
  const { throughput: t } = run;
  const lat: Summary = summarize(run.latency.samples, 0);
  const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
  const reorgs = Object.entries(t.reorgsByNode)
    .map(([k, v]) => `${k} ${v.reorgs}`)
    .join(", ");
  const rows: [string, string][] = [
    [
      "grant gas (estimate / tx limit / used)",
      `${n(Number(run.grantEstimate))} / ${n(Number(run.grantGasLimit))} / ${n(t.gasPerGrant)} → ≤ ${n(t.gasPerGrant ? Number(opts.gasLimit) / t.gasPerGrant : Number.NaN)} per block`,
    ],
    [
      "(a) inclusion p50 / p99",
      `${n(lat.p50)} / ${n(lat.p99)} ms over ${n(lat.n)} at ~${opts.latencyRate}/s; ${run.latency.failed} failed, ${run.latency.sendErrors} send errors (target ≤ ${n(TARGETS.inclusionP50Ms)} / ≤ ${n(TARGETS.inclusionP99Ms)})`,
    ],
    [
      "(a) included N blocks after send",
      Object.entries(run.latency.blocksAfterSend)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", "),
    ],
    [
      "(b) window",
      `blocks ${t.firstBlock}…${t.lastBlock} (${t.blocks}), ${t.windowSeconds} s by timestamps; interval p50 ${t.blockIntervalSeconds.p50} s, mean ${t.blockIntervalSeconds.mean} s`,
    ],
    [
      "(b) sustained grants/s",
      `${t.txPerSec.toFixed(1)} (${n(t.confirmed)} confirmed, ${t.failed} reverted, ${t.other} other; target ≥ ${TARGETS.sustainedTxPerSec})`,
    ],
    [
      "(b) per block",
      `grants p50 ${n(t.txPerBlock.p50)} (max ${n(t.txPerBlock.max)}); gas mean ${n(t.gasPerBlock.mean)} = ${(t.gasShare.gasUsedOfGasLimit * 100).toFixed(1)} % of the limit; share of gas used ${JSON.stringify(t.gasShare.ofGasUsed)}`,
    ],
    [
      "(b) empty / out-of-turn blocks, reorgs",
      `${t.emptyBlocks} / ${t.outOfTurnBlocks} of ${t.blocks}; reorgs (geth logs) ${reorgs}; side-chain imports ${t.timings.sidechainImports}`,
    ],
    [
      "(b) inclusion under load p50 / p99",
      `${n(t.underLoad.p50)} / ${n(t.underLoad.p99)} ms (seen on rpc-0)`,
    ],
    [
      "(b) load",
      `${opts.senders} patients, backlog ${n(t.backlog)} (min at a block ${n(t.minBacklog)}), ${n(t.sent)} sent, ${t.sendErrors} send errors, ${t.notIncluded} not included after drain`,
    ],
    [
      "(b) CPU % of one core",
      Object.entries(t.cpu)
        .map(([k, v]) => `${k} ${v}%`)
        .join(", "),
    ],
    [
      "(b) CPU ms per block",
      Object.entries(t.cpuMsPerBlock)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ],
    [
      "(b) block build / import (sealer logs)",
      `build p50 ${n(t.timings.buildMs.p50)} ms (p90 ${n(t.timings.buildMs.p90)}), import p50 ${n(t.timings.importMs.p50)} ms (p90 ${n(t.timings.importMs.p90)})`,
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log("");
  console.log(`bench:chain — ${run.mode}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  const misses: string[] = [];
  if (!(lat.p50 <= TARGETS.inclusionP50Ms)) misses.push(`inclusion p50 ${n(lat.p50)} ms`);
  if (!(lat.p99 <= TARGETS.inclusionP99Ms)) misses.push(`inclusion p99 ${n(lat.p99)} ms`);
  if (!(t.txPerSec >= TARGETS.sustainedTxPerSec)) misses.push(`${t.txPerSec.toFixed(1)} tx/s`);
  console.log(misses.length ? `  target missed (${run.mode}): ${misses.join(", ")}` : "  all targets met");
}
