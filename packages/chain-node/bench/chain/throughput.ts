/**
 * (b) Sustained throughput: a backlog of grants kept in the pools for a window of block time;
 * every receipt of the window checked afterwards.
 */
import { join } from "node:path";
import { eventually, summarize } from "@medrec/testkit";
import type { Hex } from "viem";
import type { Network } from "../../src/index.ts";
import { blockTimings, otherGethProcesses, reorgsInLogs } from "../diagnostics.ts";
import { type Head, type Receipt, type Rpc, sleep, watchHeads } from "../rpc.ts";
import { processCpuSeconds } from "../stats.ts";
import type { Sender, SignedTx } from "../txs.ts";
import type { BenchOptions } from "./config.ts";
import { log } from "./process.ts";

type BlockSeen = {
  number: bigint;
  hash: Hex;
  timestamp: bigint;
  arrivedAt: number;
  ours: number;
  backlog: number;
};

export async function measureThroughput(
  opts: Pick<BenchOptions, "gasLimit" | "warmupSeconds" | "durationSeconds" | "backlog" | "presign">,
  network: Network,
  rpcs: Rpc[],
  senders: Sender[],
  signGrant: (s: Sender) => Promise<SignedTx>,
  /** Where the grants go: the Relationship (direct) or the forwarder (relayed); the other is told apart. */
  contracts: { target: `0x${string}`; relationship: `0x${string}`; forwarder: `0x${string}` },
  grantGas: bigint,
) {
  const lanes = network.nodes.map((_, k) => ({
    node: k,
    senders: senders.filter((s) => s.node === k),
    queue: [] as SignedTx[],
    next: 0,
    rr: 0,
    sent: 0,
    included: 0,
  }));
  // Pre-sign enough for the whole run at up to the gas limit's capacity, capped to keep signing short.
  // A block holds gas limit ÷ gas *used* grants: geth charges the block's gas pool what a
  // transaction used, not its gas limit.
  const perBlockCap = Number(opts.gasLimit / grantGas);
  const runSeconds = opts.warmupSeconds + opts.durationSeconds + 2;
  // Backlog: about three blocks' worth, so every sealer always has a full block waiting in its pool.
  const backlog = opts.backlog ?? Math.min(6000, Math.max(500, 3 * perBlockCap));
  const presign = opts.presign ?? perBlockCap * runSeconds + backlog;
  log(`(b) pre-signing ${presign.toLocaleString("en-US")} grants from ${senders.length} senders…`);
  const signStart = performance.now();
  for (let i = 0; i < presign; i++) {
    const lane = lanes[i % lanes.length] as (typeof lanes)[number];
    const s = lane.senders[lane.rr++ % lane.senders.length] as Sender;
    lane.queue.push(await signGrant(s));
    if (i % 2000 === 1999) await sleep(0);
  }
  const signRate = presign / ((performance.now() - signStart) / 1000);
  log(
    `(b) signed ${presign.toLocaleString("en-US")} in ${((performance.now() - signStart) / 1000).toFixed(1)} s (${Math.round(signRate)} tx/s)`,
  );

  const inflight = new Map<string, { lane: number; sentAt: number }>();
  const blocks: BlockSeen[] = [];
  const underLoadAll: { sentAt: number; includedAt: number; block: bigint }[] = [];
  let reorgs = 0;
  let lastHead = 0n;
  let sendErrors = 0;
  const sendErrorKinds = new Map<string, number>();
  let signedLive = 0;
  let feeding = true;

  // Observer: every head of node 0 → its transaction hashes → included counts per lane.
  let chain = Promise.resolve();
  const onHead = (h: Head, arrivedAt: number) => {
    chain = chain.then(async () => {
      if (h.number <= lastHead) reorgs++;
      lastHead = h.number;
      const block = await (rpcs[0] as Rpc).call<{ transactions: Hex[] }>("eth_getBlockByHash", [
        h.hash,
        false,
      ]);
      let ours = 0;
      for (const hash of block.transactions) {
        const e = inflight.get(hash);
        if (!e) continue;
        ours++;
        inflight.delete(hash);
        (lanes[e.lane] as (typeof lanes)[number]).included++;
        underLoadAll.push({ sentAt: e.sentAt, includedAt: arrivedAt, block: h.number });
      }
      blocks.push({
        number: h.number,
        hash: h.hash,
        timestamp: h.timestamp,
        arrivedAt,
        ours,
        backlog: inflight.size,
      });
    });
    chain = chain.catch((e: unknown) => console.error(`observer: ${(e as Error).message}`));
  };
  const watcher = await watchHeads(network.nodes[0]?.wsUrl as string, onHead);

  const feed = async (lane: (typeof lanes)[number]) => {
    const rpc = rpcs[lane.node] as Rpc;
    const target = Math.ceil(backlog / lanes.length);
    while (feeding) {
      const deficit = target - (lane.sent - lane.included);
      if (deficit < 25) {
        await sleep(20);
        continue;
      }
      const batch: SignedTx[] = [];
      while (batch.length < Math.min(deficit, 250)) {
        if (lane.next < lane.queue.length) batch.push(lane.queue[lane.next++] as SignedTx);
        else {
          batch.push(await signGrant(lane.senders[lane.rr++ % lane.senders.length] as Sender));
          signedLive++;
        }
      }
      const sentAt = performance.now();
      for (const tx of batch) inflight.set(tx.hash, { lane: lane.node, sentAt });
      lane.sent += batch.length;
      const replies = await rpc.batch(
        batch.map((t) => ({ method: "eth_sendRawTransaction", params: [t.raw] })),
      );
      replies.forEach((r, i) => {
        if (!r.error) return;
        sendErrors++;
        const kind = r.error.message.replace(/0x[0-9a-f]+/gi, "0x…").slice(0, 80);
        sendErrorKinds.set(kind, (sendErrorKinds.get(kind) ?? 0) + 1);
        if (inflight.delete((batch[i] as SignedTx).hash)) lane.sent--;
      });
    }
  };

  log(
    `(b) throughput: feeding a backlog of ~${backlog} grants; ${opts.warmupSeconds} s warm-up, then ≥ ${opts.durationSeconds} s window`,
  );
  const feeders = lanes.map((l) => feed(l));
  await sleep(opts.warmupSeconds * 1000);
  await eventually("a block", () => blocks.length > 0, { timeoutMs: 30_000, intervalMs: 20 });
  const startBlock = blocks[blocks.length - 1] as BlockSeen;
  // Sealers first, then their RPC nodes (index i + n).
  const cpuPids = [...network.nodes.map((n) => n.sealer.pid), ...network.nodes.map((n) => n.rpc.pid)];
  const cpuBefore = await Promise.all(cpuPids.map((p) => (p ? processCpuSeconds(p) : undefined)));
  const othersAtOpen = await otherGethProcesses(cpuPids);
  const selfBefore = process.cpuUsage();
  const wallBefore = performance.now();
  log(`(b) window opens after block ${startBlock.number} (timestamp ${startBlock.timestamp})`);
  let lastCount = blocks.length;
  await eventually(
    "the window's last block",
    () => {
      if (blocks.length !== lastCount) {
        lastCount = blocks.length;
        const b = blocks[blocks.length - 1] as BlockSeen;
        if (Number(b.number) % 10 === 0)
          log(
            `    block ${b.number}: ${b.ours} grants, backlog ${b.backlog}, +${Number(b.timestamp - startBlock.timestamp)} s`,
          );
      }
      const last = blocks[blocks.length - 1] as BlockSeen;
      return last.timestamp - startBlock.timestamp >= BigInt(opts.durationSeconds);
    },
    { timeoutMs: (opts.durationSeconds + 60) * 1000, intervalMs: 20 },
  );
  const endBlock = blocks[blocks.length - 1] as BlockSeen;
  const wallSeconds = (endBlock.arrivedAt - startBlock.arrivedAt) / 1000;
  const cpuAfter = await Promise.all(cpuPids.map((p) => (p ? processCpuSeconds(p) : undefined)));
  const othersAtClose = await otherGethProcesses(cpuPids);
  const selfAfter = process.cpuUsage(selfBefore);
  const wallCpu = (performance.now() - wallBefore) / 1000;
  feeding = false;
  await Promise.all(feeders);
  log(`(b) window closed at block ${endBlock.number}; draining ${inflight.size} in-flight grants…`);
  const drainDeadline = performance.now() + 30_000;
  while (inflight.size > 0 && performance.now() < drainDeadline) await sleep(200);
  await chain;
  watcher.close();
  const notIncluded = inflight.size;
  const sent = lanes.reduce((a, l) => a + l.sent, 0);

  // Verify on the canonical chain: every block of the window, every receipt.
  const numbers: bigint[] = [];
  for (let n = startBlock.number + 1n; n <= endBlock.number; n++) numbers.push(n);
  const rpc0 = rpcs[0] as Rpc;
  type Block = {
    number: Hex;
    hash: Hex;
    timestamp: Hex;
    gasUsed: Hex;
    baseFeePerGas: Hex;
    difficulty: Hex;
    transactions: Hex[];
  };
  const canonical: Block[] = [];
  for (let i = 0; i < numbers.length; i += 20) {
    const replies = await rpc0.batch<Block>(
      numbers
        .slice(i, i + 20)
        .map((n) => ({ method: "eth_getBlockByNumber", params: [`0x${n.toString(16)}`, false] })),
    );
    for (const r of replies) {
      if (!r.result) throw new Error(`eth_getBlockByNumber: ${r.error?.message}`);
      canonical.push(r.result);
    }
  }
  const startCanonical = await rpc0.call<Block>("eth_getBlockByNumber", [
    `0x${startBlock.number.toString(16)}`,
    false,
  ]);
  let confirmed = 0;
  let failed = 0;
  let other = 0;
  let grantGasSum = 0n;
  const target = contracts.target.toLowerCase();
  const kindOf = (to: string | null) =>
    to?.toLowerCase() === contracts.forwarder.toLowerCase()
      ? "relayedGrant"
      : to?.toLowerCase() === contracts.relationship.toLowerCase()
        ? "directGrant"
        : "other";
  const gasByKind: Record<string, number> = {};
  for (const b of canonical) {
    const receipts = await blockReceipts(rpc0, b);
    for (const r of receipts) {
      const kind = kindOf(r.to);
      gasByKind[kind] = (gasByKind[kind] ?? 0) + Number(BigInt(r.gasUsed));
      if (r.to?.toLowerCase() !== target) other++;
      else if (r.status === "0x1") {
        confirmed++;
        grantGasSum += BigInt(r.gasUsed);
      } else failed++;
    }
  }
  const gasInWindow = canonical.reduce((a, b) => a + Number(BigInt(b.gasUsed)), 0);
  const gasLimitInWindow = Number(opts.gasLimit) * canonical.length;
  const firstTs = BigInt(startCanonical.timestamp);
  const lastTs = BigInt((canonical[canonical.length - 1] as Block).timestamp);
  const windowSeconds = Number(lastTs - firstTs);
  const heads = await Promise.all(
    rpcs.map((r) => r.call<Block>("eth_getBlockByNumber", [`0x${endBlock.number.toString(16)}`, false])),
  );
  const headsAgree = heads.every((h) => h.hash === heads[0]?.hash);
  const timings = await blockTimings(
    network.state.nodes.map((n) => join(n.dataDir, "geth.log")),
    startBlock.number + 1n,
    endBlock.number,
  );
  const reorgsByNode = await reorgsInLogs(
    Object.fromEntries(
      network.state.nodes.flatMap((n, k) => [
        [`sealer-${k}`, join(n.dataDir, "geth.log")],
        [`rpc-${k}`, join(n.rpc.dataDir, "geth.log")],
      ]),
    ),
    startBlock.number + 1n,
    endBlock.number,
  );
  const timestamps = [startCanonical, ...canonical].map((b) => Number(BigInt(b.timestamp)));
  const intervals = timestamps.slice(1).map((t, i) => t - (timestamps[i] as number));

  const inWindow = new Set(numbers);
  const underLoad = underLoadAll.filter((x) => inWindow.has(x.block)).map((x) => x.includedAt - x.sentAt);
  const windowSeen = blocks.filter((b) => inWindow.has(b.number));
  const cpu: Record<string, number> = {};
  // CPU time per block of the window: the work each process does, whatever else shares the cores.
  const cpuMsPerBlock: Record<string, number> = {};
  cpuPids.forEach((_, i) => {
    const a = cpuBefore[i];
    const b = cpuAfter[i];
    const n = network.nodes.length;
    const name = i < n ? `sealer-${i}` : `rpc-${i - n}`;
    if (a !== undefined && b !== undefined) {
      cpu[name] = Math.round(((b - a) / wallCpu) * 100);
      cpuMsPerBlock[name] = Math.round(((b - a) * 1000) / Math.max(1, canonical.length));
    }
  });
  cpu["bench (node)"] = Math.round(((selfAfter.user + selfAfter.system) / 1e6 / wallCpu) * 100);
  if (sendErrorKinds.size > 0) for (const [k, v] of sendErrorKinds) console.error(`send error ×${v}: ${k}`);

  return {
    txPerSec: windowSeconds > 0 ? confirmed / windowSeconds : 0,
    windowSeconds,
    wallSeconds,
    firstBlock: Number(startBlock.number + 1n),
    lastBlock: Number(endBlock.number),
    blocks: canonical.length,
    confirmed,
    failed,
    other,
    sent,
    sendErrors,
    notIncluded,
    txPerBlock: summarize(canonical.map((b) => b.transactions.length)),
    gasPerBlock: summarize(canonical.map((b) => Number(BigInt(b.gasUsed)))),
    gasPerGrant: confirmed > 0 ? Number(grantGasSum / BigInt(confirmed)) : 0,
    /** Each kind's share of the gas the window's blocks used, and the blocks' share of their gas limit. */
    gasShare: {
      ofGasUsed: Object.fromEntries(
        Object.entries(gasByKind).map(([k, v]) => [k, gasInWindow > 0 ? round3(v / gasInWindow) : 0]),
      ),
      gasUsedOfGasLimit: gasLimitInWindow > 0 ? round3(gasInWindow / gasLimitInWindow) : 0,
    },
    blockIntervalSeconds: summarize(intervals),
    /** Blocks sealed out of turn (difficulty 1): the in-turn sealer's block was late. */
    outOfTurnBlocks: canonical.filter((b) => BigInt(b.difficulty) === 1n).length,
    reorgsByNode,
    baseFee: {
      first: Number(BigInt((canonical[0] as Block).baseFeePerGas)),
      last: Number(BigInt((canonical[canonical.length - 1] as Block).baseFeePerGas)),
    },
    emptyBlocks: canonical.filter((b) => b.transactions.length === 0).length,
    minBacklog: windowSeen.length ? Math.min(...windowSeen.map((b) => b.backlog)) : 0,
    underLoad: summarize(underLoad),
    headsAgree,
    reorgs,
    presigned: presign,
    backlog,
    signedLive,
    signRate,
    cpu,
    cpuMsPerBlock,
    timings,
    otherGeth: Math.max(othersAtOpen.length, othersAtClose.length),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function blockReceipts(rpc: Rpc, block: { number: Hex; transactions: Hex[] }): Promise<Receipt[]> {
  if (block.transactions.length === 0) return [];
  const [r] = await rpc.batch<Receipt[]>(
    [{ method: "eth_getBlockReceipts", params: [block.number] }],
    60_000,
  );
  if (r?.result) return r.result;
  // Fallback: one receipt per transaction, batched.
  const out: Receipt[] = [];
  for (let i = 0; i < block.transactions.length; i += 500) {
    const replies = await rpc.batch<Receipt>(
      block.transactions.slice(i, i + 500).map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
    );
    for (const x of replies) if (x.result) out.push(x.result);
  }
  return out;
}

/** What {@link measureThroughput} found. */
export type ThroughputResult = Awaited<ReturnType<typeof measureThroughput>>;
