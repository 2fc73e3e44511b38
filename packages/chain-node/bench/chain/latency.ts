/** (a) Inclusion latency: grants sent one by one at a Poisson rate, each timed to its receipt. */

import { summarize } from "@medrec/testkit";
import type { Hex } from "viem";
import type { Network } from "../../src/index.ts";
import { type Head, type Receipt, type Rpc, sleep, watchHeads } from "../rpc.ts";
import type { Sender, SignedTx } from "../txs.ts";
import { type BenchOptions, SEALERS } from "./config.ts";
import { ignoreWhenStopping, log } from "./process.ts";

export async function measureLatency(
  opts: Pick<BenchOptions, "latencySends" | "latencyRate">,
  network: Network,
  rpcs: Rpc[],
  senders: Sender[],
  signGrant: (s: Sender) => Promise<SignedTx>,
) {
  type Entry = {
    tx: SignedTx;
    sentAt: number;
    receiptAt?: number;
    block?: bigint;
    headAtSend: bigint;
    ok?: boolean;
  };
  const txs: SignedTx[] = [];
  for (let i = 0; i < opts.latencySends; i++)
    txs.push(await signGrant(senders[i % senders.length] as Sender));
  const pending = network.nodes.map(() => new Map<string, Entry>());
  const done: Entry[] = [];
  const heads = await Promise.all(rpcs.map(async (r) => BigInt(await r.call<Hex>("eth_blockNumber"))));
  const busy = network.nodes.map(() => false);
  const again = network.nodes.map(() => false);
  let sendErrors = 0;

  const check = async (k: number): Promise<void> => {
    if (busy[k]) {
      again[k] = true;
      return;
    }
    busy[k] = true;
    try {
      do {
        again[k] = false;
        const list = [...(pending[k] as Map<string, Entry>).values()];
        if (list.length === 0) break;
        const replies = await (rpcs[k] as Rpc).batch<Receipt | null>(
          list.map((e) => ({ method: "eth_getTransactionReceipt", params: [e.tx.hash] })),
        );
        const now = performance.now();
        replies.forEach((r, i) => {
          const e = list[i] as Entry;
          if (!r.result) return;
          e.receiptAt = now;
          e.block = BigInt(r.result.blockNumber);
          e.ok = r.result.status === "0x1";
          pending[k]?.delete(e.tx.hash);
          done.push(e);
        });
      } while (again[k]);
    } finally {
      busy[k] = false;
    }
  };
  const watchers = await Promise.all(
    network.nodes.map((n, k) =>
      watchHeads(n.wsUrl, (h: Head) => {
        heads[k] = h.number;
        check(k).catch(ignoreWhenStopping);
      }),
    ),
  );
  // Backstop for a missed notification: poll every node's pending receipts twice a second.
  const backstop = setInterval(() => {
    for (let k = 0; k < network.nodes.length; k++) check(k).catch(ignoreWhenStopping);
  }, 500);

  log(
    `(a) latency: ${txs.length} grants at ~${opts.latencyRate}/s (Poisson), ${senders.length} senders over ${SEALERS} RPC nodes`,
  );
  const start = performance.now();
  let due = start;
  const sends: Promise<void>[] = [];
  for (const tx of txs) {
    due += (-Math.log(1 - Math.random()) / opts.latencyRate) * 1000;
    await sleep(Math.max(0, due - performance.now()));
    const k = tx.sender.node;
    const entry: Entry = { tx, sentAt: performance.now(), headAtSend: heads[k] as bigint };
    pending[k]?.set(tx.hash, entry);
    sends.push(
      (rpcs[k] as Rpc).call("eth_sendRawTransaction", [tx.raw]).then(
        () => undefined,
        (e: unknown) => {
          sendErrors++;
          pending[k]?.delete(tx.hash);
          console.error(`send failed: ${(e as Error).message}`);
        },
      ),
    );
  }
  await Promise.all(sends);
  const deadline = performance.now() + 30_000;
  while (pending.some((p) => p.size > 0) && performance.now() < deadline) await sleep(100);
  clearInterval(backstop);
  for (const w of watchers) w.close();
  const lost = pending.reduce((a, p) => a + p.size, 0);
  if (lost > 0) console.error(`${lost} latency transactions had no receipt after 30 s`);
  const samples = done.filter((e) => e.ok).map((e) => (e.receiptAt as number) - e.sentAt);
  const blocksAfterSend: Record<string, number> = {};
  for (const e of done) {
    const d = String((e.block as bigint) - e.headAtSend);
    blocksAfterSend[d] = (blocksAfterSend[d] ?? 0) + 1;
  }
  const s = summarize(samples);
  log(`(a) done: p50 ${Math.round(s.p50)} ms, p99 ${Math.round(s.p99)} ms over ${samples.length} receipts`);
  return { samples, failed: done.filter((e) => !e.ok).length + lost, sendErrors, blocksAfterSend };
}

/** What {@link measureLatency} found. */
export type LatencyResult = Awaited<ReturnType<typeof measureLatency>>;
