/**
 * Minimal JSON-RPC for the benchmark: single calls and batches over HTTP (keep-alive fetch), and
 * `newHeads` over WebSocket. Loopback only; every call has a timeout.
 */
import { eventually } from "@medrec/testkit";

export type RpcError = { code: number; message: string };
export type RpcReply<T = unknown> = { result?: T; error?: RpcError };
export type RpcCall = { method: string; params: readonly unknown[] };

let nextId = 1;

/** JSON-RPC over HTTP to one node. */
export class Rpc {
  readonly url: string;
  constructor(url: string) {
    if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`refusing non-loopback RPC URL ${url}`);
    this.url = url;
  }

  /** One call; throws on a JSON-RPC error. */
  async call<T>(method: string, params: readonly unknown[] = [], timeoutMs = 10_000): Promise<T> {
    const [reply] = await this.batch([{ method, params }], timeoutMs);
    if (!reply || reply.error)
      throw new Error(`${method} on ${this.url}: ${reply?.error?.message ?? "no reply"}`);
    return reply.result as T;
  }

  /** A JSON-RPC batch; replies in call order (a missing reply becomes an error entry). */
  async batch<T = unknown>(calls: readonly RpcCall[], timeoutMs = 20_000): Promise<RpcReply<T>[]> {
    if (calls.length === 0) return [];
    const first = nextId;
    nextId += calls.length;
    const body = calls.map((c, i) => ({ jsonrpc: "2.0", id: first + i, method: c.method, params: c.params }));
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const json = (await response.json()) as unknown;
    const replies = Array.isArray(json) ? json : [json];
    const out: RpcReply<T>[] = calls.map(() => ({ error: { code: -1, message: "no reply in batch" } }));
    for (const r of replies as { id?: number; result?: T; error?: RpcError }[]) {
      const i = (r.id ?? -1) - first;
      if (i >= 0 && i < out.length) out[i] = r.error ? { error: r.error } : { result: r.result as T };
      else if (r.error && replies.length === 1) out.fill({ error: r.error }); // whole batch refused
    }
    return out;
  }
}

export type Head = { number: bigint; hash: `0x${string}`; timestamp: bigint; gasUsed: bigint };

/**
 * Subscribes to `newHeads` on a node's WebSocket. `onHead` gets each head with the local time
 * (`performance.now()`) the notification arrived. Resolves once the subscription is active.
 */
export async function watchHeads(
  wsUrl: string,
  onHead: (head: Head, receivedAt: number) => void,
  timeoutMs = 10_000,
): Promise<{ close(): void }> {
  if (!/^ws:\/\/127\.0\.0\.1:\d+$/.test(wsUrl)) throw new Error(`refusing non-loopback WS URL ${wsUrl}`);
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no newHeads subscription on ${wsUrl}`)), timeoutMs);
    ws.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error(`WebSocket ${wsUrl} failed`));
    });
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    });
    ws.addEventListener("message", (event) => {
      const receivedAt = performance.now();
      const msg = JSON.parse(String(event.data)) as {
        id?: number;
        result?: string;
        error?: RpcError;
        params?: { result: { number: string; hash: `0x${string}`; timestamp: string; gasUsed: string } };
      };
      if (msg.id === 1) {
        clearTimeout(timer);
        if (msg.error) reject(new Error(`eth_subscribe on ${wsUrl}: ${msg.error.message}`));
        else resolve();
        return;
      }
      const h = msg.params?.result;
      if (h)
        onHead(
          {
            number: BigInt(h.number),
            hash: h.hash,
            timestamp: BigInt(h.timestamp),
            gasUsed: BigInt(h.gasUsed),
          },
          receivedAt,
        );
    });
  });
  return {
    close() {
      ws.close();
    },
  };
}

/** Polls until every hash has a receipt (batches of 500); returns them by hash. */
export async function waitForReceipts(
  rpc: Rpc,
  hashes: readonly `0x${string}`[],
  timeoutMs = 60_000,
): Promise<Map<string, Receipt>> {
  const found = new Map<string, Receipt>();
  await eventually(
    `receipts of ${hashes.length} transactions`,
    async () => {
      const missing = hashes.filter((h) => !found.has(h));
      for (let i = 0; i < missing.length; i += 500) {
        const chunk = missing.slice(i, i + 500);
        const replies = await rpc.batch<Receipt | null>(
          chunk.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
        );
        replies.forEach((r, j) => {
          if (r.result) found.set(chunk[j] as string, r.result);
        });
      }
      return found.size === hashes.length;
    },
    { timeoutMs, intervalMs: 200 },
  );
  return found;
}

export type Receipt = {
  transactionHash: `0x${string}`;
  blockNumber: `0x${string}`;
  status: `0x${string}`;
  gasUsed: `0x${string}`;
  to: `0x${string}` | null;
  from: `0x${string}`;
  contractAddress: `0x${string}` | null;
};

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
