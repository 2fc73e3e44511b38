/** bench:chain's report: the JSON written to reports/chain.json and the printed table. */

import { TXPOOL_FLAGS } from "../geth-flags.ts";
import type { Summary } from "../stats.ts";
import { summarize } from "../stats.ts";
import { type BenchOptions, FEES, GWEI, PERIOD_SECONDS, SEALERS, TARGETS } from "./config.ts";
import type { LatencyResult } from "./latency.ts";
import type { ThroughputResult } from "./throughput.ts";

/** The report of one run, as written to reports/chain.json. */
export function buildReport({
  opts,
  latency,
  throughput,
  latencySenders,
  loadSenders,
  grantEstimate,
  grantGasLimit,
  environment,
  foreignAtStart,
}: {
  opts: BenchOptions;
  latency: LatencyResult;
  throughput: ThroughputResult;
  latencySenders: number;
  loadSenders: number;
  grantEstimate: bigint;
  grantGasLimit: bigint;
  environment: { geth: string; node: string; cores: number; cpu: string; platform: string };
  foreignAtStart: readonly number[];
}) {
  const lat = summarize(latency.samples);
  const round = (x: number) => Math.round(x);
  const report = {
    sealers: SEALERS,
    periodSeconds: PERIOD_SECONDS,
    inclusionMs: { p50: round(lat.p50), p99: round(lat.p99) },
    sustainedTxPerSec: Math.round(throughput.txPerSec * 10) / 10,
    targets: TARGETS,
    targetsMet: {
      inclusionP50: lat.p50 <= TARGETS.inclusionP50Ms,
      inclusionP99: lat.p99 <= TARGETS.inclusionP99Ms,
      sustainedTxPerSec: throughput.txPerSec >= TARGETS.sustainedTxPerSec,
    },
    latency: {
      sends: latency.samples.length,
      ratePerSec: opts.latencyRate,
      senders: latencySenders,
      failed: latency.failed,
      sendErrors: latency.sendErrors,
      ms: roundSummary(lat),
      blocksAfterSend: latency.blocksAfterSend,
    },
    throughput: {
      windowSeconds: throughput.windowSeconds,
      wallSeconds: Math.round(throughput.wallSeconds * 10) / 10,
      firstBlock: throughput.firstBlock,
      lastBlock: throughput.lastBlock,
      blocks: throughput.blocks,
      confirmedGrants: throughput.confirmed,
      failedGrants: throughput.failed,
      otherTxs: throughput.other,
      senders: loadSenders,
      backlogTarget: throughput.backlog,
      sentDuringRun: throughput.sent,
      sendErrors: throughput.sendErrors,
      notIncludedAfterDrain: throughput.notIncluded,
      txPerBlock: roundSummary(throughput.txPerBlock),
      gasUsedPerBlock: roundSummary(throughput.gasPerBlock),
      gasUsedPerGrant: throughput.gasPerGrant,
      baseFeeWei: throughput.baseFee,
      emptyBlocks: throughput.emptyBlocks,
      minBacklogAtBlock: throughput.minBacklog,
      inclusionUnderLoadMs: roundSummary(throughput.underLoad),
      headsAgree: throughput.headsAgree,
      reorgsSeen: throughput.reorgs,
      presigned: throughput.presigned,
      signedLive: throughput.signedLive,
      signingTxPerSec: Math.round(throughput.signRate),
      cpuPercentOfOneCore: throughput.cpu,
      blockBuildMs: roundSummary(throughput.timings.buildMs),
      blockImportMs: roundSummary(throughput.timings.importMs),
      sideChainImports: throughput.timings.sidechainImports,
    },
    chain: {
      gasLimit: Number(opts.gasLimit),
      grantGasEstimate: Number(grantEstimate),
      grantTxGasLimit: Number(grantGasLimit),
      maxGrantsPerBlockByGasLimit:
        throughput.gasPerGrant > 0
          ? Math.floor(Number(opts.gasLimit) / throughput.gasPerGrant)
          : Number(opts.gasLimit / grantEstimate),
      txpoolFlags: TXPOOL_FLAGS.join(" "),
      fees: {
        maxFeePerGasGwei: Number(FEES.maxFeePerGas / GWEI),
        maxPriorityFeePerGasGwei: Number(FEES.maxPriorityFeePerGas / GWEI),
      },
    },
    environment: {
      ...environment,
      otherGethProcessesDuringRun: Math.max(foreignAtStart.length, throughput.otherGeth),
    },
    generatedAt: new Date().toISOString(),
  };
  return { report, lat };
}

function roundSummary(s: Summary) {
  const r = (x: number) => (Number.isFinite(x) ? Math.round(x) : null);
  return {
    n: s.n,
    min: r(s.min),
    p50: r(s.p50),
    p90: r(s.p90),
    p99: r(s.p99),
    max: r(s.max),
    mean: r(s.mean),
  };
}

export function printReport(
  report: {
    inclusionMs: { p50: number; p99: number };
    sustainedTxPerSec: number;
    latency: { sends: number; failed: number; sendErrors: number; blocksAfterSend: Record<string, number> };
    throughput: Record<string, unknown>;
    chain: {
      gasLimit: number;
      grantGasEstimate: number;
      grantTxGasLimit: number;
      maxGrantsPerBlockByGasLimit: number;
    };
    environment: {
      geth: string;
      node: string;
      cores: number;
      cpu: string;
      otherGethProcessesDuringRun: number;
    };
  },
  lat: Summary,
  t: ThroughputResult,
  opts: Pick<BenchOptions, "latencyRate" | "senders">,
) {
  const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—");
  const rows: [string, string][] = [
    [
      "network",
      `${SEALERS} Clique sealers (IPC only) + ${SEALERS} RPC nodes on 127.0.0.1, period ${PERIOD_SECONDS} s, gas limit ${n(report.chain.gasLimit)}`,
    ],
    [
      "environment",
      `geth ${report.environment.geth}, Node ${report.environment.node}, ${report.environment.cores} cores, ${report.environment.cpu}` +
        (report.environment.otherGethProcessesDuringRun > 0
          ? `; WARNING: ${report.environment.otherGethProcessesDuringRun} other geth processes were running`
          : "; no other geth running"),
    ],
    [
      "grant gas (estimate / tx limit / used)",
      `${n(report.chain.grantGasEstimate)} / ${n(report.chain.grantTxGasLimit)} / ${n(t.gasPerGrant)} → ≤ ${n(report.chain.maxGrantsPerBlockByGasLimit)} grants per block`,
    ],
    [
      "(a) grants timed (send → receipt)",
      `${n(lat.n)} at ~${opts.latencyRate}/s; ${report.latency.failed} failed, ${report.latency.sendErrors} send errors`,
    ],
    [
      "(a) inclusion p50 / p99",
      `${n(lat.p50)} ms / ${n(lat.p99)} ms   (target ≤ ${n(TARGETS.inclusionP50Ms)} / ≤ ${n(TARGETS.inclusionP99Ms)})`,
    ],
    ["(a) min / mean / p90 / max", `${n(lat.min)} / ${n(lat.mean)} / ${n(lat.p90)} / ${n(lat.max)} ms`],
    [
      "(a) included N blocks after send",
      Object.entries(report.latency.blocksAfterSend)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", "),
    ],
    [
      "(b) window",
      `blocks ${t.firstBlock}…${t.lastBlock} (${t.blocks} blocks), ${t.windowSeconds} s by timestamps, ${t.wallSeconds.toFixed(1)} s wall; mean block interval ${(t.windowSeconds / t.blocks).toFixed(2)} s`,
    ],
    ["(b) confirmed grants (status 1)", `${n(t.confirmed)}; reverted ${t.failed}; other txs ${t.other}`],
    ["(b) sustained grants/s", `${t.txPerSec.toFixed(1)}   (target ≥ ${TARGETS.sustainedTxPerSec})`],
    [
      "(b) grants per block p50 / min / max",
      `${n(t.txPerBlock.p50)} / ${n(t.txPerBlock.min)} / ${n(t.txPerBlock.max)}; empty blocks ${t.emptyBlocks}`,
    ],
    [
      "(b) gas used per block mean / max",
      `${n(t.gasPerBlock.mean)} / ${n(t.gasPerBlock.max)} (per grant ${n(t.gasPerGrant)})`,
    ],
    ["(b) base fee first → last (wei)", `${n(t.baseFee.first)} → ${n(t.baseFee.last)}`],
    [
      "(b) load",
      `${opts.senders} senders, backlog target ${n(t.backlog)}, min backlog at a block ${n(t.minBacklog)}, ${n(t.sent)} sent, ${t.sendErrors} send errors, ${t.notIncluded} not included after drain`,
    ],
    [
      "(b) inclusion under load p50 / p99",
      `${n(t.underLoad.p50)} / ${n(t.underLoad.p99)} ms (seen on rpc-0)`,
    ],
    [
      "(b) signing",
      `${n(t.presigned)} pre-signed at ${n(t.signRate)} tx/s; ${n(t.signedLive)} signed during the run`,
    ],
    [
      "(b) CPU % of one core in window",
      Object.entries(t.cpu)
        .map(([k, v]) => `${k} ${v}%`)
        .join(", "),
    ],
    [
      "(b) block build / import (geth logs)",
      `build p50 ${n(t.timings.buildMs.p50)} ms (p90 ${n(t.timings.buildMs.p90)}), import p50 ${n(t.timings.importMs.p50)} ms (p90 ${n(t.timings.importMs.p90)}); side-chain imports ${t.timings.sidechainImports}`,
    ],
    ["(b) consistency", `heads agree on all nodes: ${t.headsAgree ? "yes" : "NO"}; reorgs seen: ${t.reorgs}`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log("");
  console.log("bench:chain");
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  console.log("");
  const misses: string[] = [];
  if (!(lat.p50 <= TARGETS.inclusionP50Ms))
    misses.push(`inclusion p50 ${n(lat.p50)} ms > ${n(TARGETS.inclusionP50Ms)} ms`);
  if (!(lat.p99 <= TARGETS.inclusionP99Ms))
    misses.push(`inclusion p99 ${n(lat.p99)} ms > ${n(TARGETS.inclusionP99Ms)} ms`);
  if (!(t.txPerSec >= TARGETS.sustainedTxPerSec))
    misses.push(`sustained ${t.txPerSec.toFixed(1)} tx/s < ${TARGETS.sustainedTxPerSec} tx/s`);
  for (const m of misses) console.log(`target missed: ${m}`);
  if (misses.length === 0) console.log("all targets met");
  console.log(
    `inclusionMs p50 ${report.inclusionMs.p50}, p99 ${report.inclusionMs.p99}; sustainedTxPerSec ${report.sustainedTxPerSec}`,
  );
}
