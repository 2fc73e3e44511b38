#!/usr/bin/env node
/**
 * `bench:chain` — grants on a real 3-provider geth v1.13.15 Clique network on 127.0.0.1, the
 * launcher's topology (each provider a sealer with IPC only + a non-signing RPC node; load and
 * receipts go through the RPC nodes), 1 s block period, measured two ways on the same network:
 *
 *  - **relayed** (the headline: how the system sends a patient's grant) — the patient signs an
 *    EIP-712 ForwardRequest (ERC-2771) and its provider's relayer sends `MedRecForwarder.execute`;
 *  - **direct** — the patient sends `Relationship.grant` itself;
 *  - **relayed-rpc-nice** (an experiment, last) — relayed again after the RPC nodes' threads were set
 *    to nice 10, below the sealers, on the same network.
 *
 * Each mode: (a) inclusion latency: ≥ 200 grants sent one by one at a modest Poisson rate, each
 * timed from just before `eth_sendRawTransaction` to its receipt on the node it was sent to; (b)
 * sustained throughput: ≥ 60 s (by block timestamps) of a backlog kept in the pools; tx/s = grants
 * confirmed with status 1 in the window's blocks ÷ the window's seconds, every receipt checked; gas
 * per block and each kind of transaction's share of it; empty and out-of-turn blocks; reorgs from
 * every node's geth.log.
 *
 * Prints a table per mode and writes `reports/chain.json` (with its provenance: commit, load before
 * and after) at the repository root. A missed target is printed but the exit code stays 0 (1 only if
 * the benchmark itself fails). geth processes and temp dirs are removed at the end, on errors, and on Ctrl-C.
 *
 *   node bench/chain.ts [--senders 24] [--duration 60] [--latency-sends 240] [--latency-rate 5]
 *                       [--gas-limit 45000000] [--backlog N] [--presign N] [--modes relayed,direct,relayed-rpc-nice]
 *                       [--geth-arg=--flag …] [--out FILE] [--smoke]
 */
import { relative } from "node:path";
import { commandWithArgs, startReport } from "@medrec/testkit";
import { parseOptions, RPC_NICE } from "./chain/config.ts";
import { measureLatency } from "./chain/latency.ts";
import { CHAIN_NOTES } from "./chain/notes.ts";
import { cleanup, interrupted, log } from "./chain/process.ts";
import { buildReport, type ModeRun, printMode } from "./chain/report.ts";
import { reniceRpcNodes, setUp } from "./chain/setup.ts";
import { measureThroughput } from "./chain/throughput.ts";
import { TXPOOL_FLAGS } from "./geth-flags.ts";

const { opts, smoke, outPath } = parseOptions(process.argv.slice(2));

async function main(): Promise<void> {
  const provenance = startReport(commandWithArgs("./medrec run bench:chain"));
  const setup = await setUp(opts, smoke);
  const { network, rpcs } = setup;

  const runs: ModeRun[] = [];
  for (const mode of opts.modes) {
    if (runs.length > 0) await setup.resyncNonces();
    if (mode === "relayed-rpc-nice")
      log(`RPC nodes at nice ${RPC_NICE} (${await reniceRpcNodes(network, RPC_NICE)} threads)`);
    const relayed = mode !== "direct";
    const sign = relayed ? setup.signRelayedGrant : setup.signGrant;
    log(`— ${mode} grants —`);
    const latency = await measureLatency(opts, network, rpcs, setup.latencySenders, sign);
    const throughput = await measureThroughput(
      opts,
      network,
      rpcs,
      setup.loadSenders,
      sign,
      {
        target: relayed ? setup.forwarderAddress : setup.relationshipAddress,
        relationship: setup.relationshipAddress,
        forwarder: setup.forwarderAddress,
      },
      relayed ? setup.executeSteadyGas : setup.grantEstimate,
    );
    const run: ModeRun = {
      mode,
      latency,
      throughput,
      grantEstimate: relayed ? setup.executeEstimate : setup.grantEstimate,
      grantGasLimit: relayed ? setup.executeGasLimit : setup.grantGasLimit,
    };
    runs.push(run);
    printMode(run, opts);
  }

  const body = buildReport({
    opts,
    runs,
    latencySenders: setup.latencySenders.length,
    loadSenders: setup.loadSenders.length,
    environment: { geth: setup.environment.geth, platform: setup.environment.platform },
    foreignAtStart: setup.foreignAtStart,
    gethFlags: [...TXPOOL_FLAGS, ...opts.gethArgs],
    rpcFlags: opts.rpcArgs,
    notes: CHAIN_NOTES,
  });
  if (smoke) console.log("\nsmoke run: reports/chain.json not written");
  else {
    provenance.write(outPath, body);
    console.log(`\nwrote ${relative(process.cwd(), outPath)}`);
  }
}

try {
  await main();
} catch (error) {
  if (!interrupted)
    console.error(
      `bench:chain failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  process.exitCode = interrupted ? 130 : 1;
} finally {
  await cleanup();
}
// Open sockets (keep-alive, WebSocket) must not keep the process alive once geth is gone.
process.exit(process.exitCode ?? 0);
