/**
 * Causality, not timing: a relayed request may name what it depends on — `notBeforeBlock` (the
 * block its client saw the prerequisite in) and/or `after` (the transaction it follows). A relay
 * whose node has not seen that yet holds the request until it has, woken by the node's new heads,
 * before it checks the nonce and simulates; otherwise it would refuse a valid request as if its
 * prerequisite did not exist (a relationship "unknown", a nonce "wrong"). Bounded, so that a
 * stranger cannot park requests here:
 *
 * - `notBeforeBlock` more than `maxAheadBlocks` ahead of the node's head: refused at once
 *   (`dependency-too-far`) — a client does not see blocks that far ahead of a healthy node.
 * - more than `maxWaiting` requests already waiting: refused at once (`too-many-waiting`, 503 with
 *   Retry-After).
 * - not seen within `maxWaitMs`: refused (`dependency-timeout`, 503 with Retry-After): this relay's
 *   node is behind; another provider's relay, or this one later, can take the same signed request.
 */
import type { Hex } from "viem";
import type { ChainClient } from "../chain/client.ts";

/** How long a request may wait for its dependency. */
export const DEPENDENCY_MAX_WAIT_MS = 10_000;
/** How far `notBeforeBlock` may be ahead of the node's head (16 blocks: 16 s at the demo's 1 s period). */
export const DEPENDENCY_MAX_AHEAD_BLOCKS = 16n;
/** How many requests may wait for their dependencies at once. */
export const DEPENDENCY_MAX_WAITING = 64;
/** How often the node's head is read while requests wait (viem `watchBlockNumber` over HTTP). */
const HEAD_POLL_MS = 100;

export type DependencyBounds = { maxWaitMs: number; maxAheadBlocks: bigint; maxWaiting: number };
export const DEFAULT_DEPENDENCY_BOUNDS: DependencyBounds = {
  maxWaitMs: DEPENDENCY_MAX_WAIT_MS,
  maxAheadBlocks: DEPENDENCY_MAX_AHEAD_BLOCKS,
  maxWaiting: DEPENDENCY_MAX_WAITING,
};

export type Dependency = { notBeforeBlock?: bigint | undefined; after?: Hex | undefined };

/** Why a request's dependency was not met: the relay's `check`, a detail, a Retry-After. */
export type DependencyUnmet = {
  check: "dependency-too-far" | "dependency-timeout" | "too-many-waiting";
  detail: string;
  retryAfterSeconds?: number;
};

export type DependencyGate = {
  /**
   * Resolves once the node has block `notBeforeBlock` and the receipt of `after` (at once when it
   * has, or when there is no dependency); resolves to why not when a bound is hit. Rejects only
   * when the node does not answer.
   */
  wait(dependency: Dependency): Promise<DependencyUnmet | undefined>;
  /** Requests waiting now. */
  readonly waiting: number;
};

type Waiter = Dependency & { done: () => void };

/** The gate of one relay: one watcher of the node's head, running only while requests wait. */
export function createDependencyGate({
  client,
  bounds = DEFAULT_DEPENDENCY_BOUNDS,
}: {
  client: Pick<ChainClient, "publicClient">;
  bounds?: DependencyBounds;
}): DependencyGate {
  const pc = client.publicClient;
  const waiters = new Set<Waiter>();
  let head = -1n;
  let unwatch: (() => void) | undefined;
  let checking: Promise<void> | undefined;
  let again = false;

  const mined = (hash: Hex) =>
    pc.getTransactionReceipt({ hash }).then(
      () => true,
      () => false,
    );

  /** Whether the node at `number` meets `d` (`receipts`: per head, one lookup per transaction). */
  async function met(d: Dependency, number: bigint, receipts: Map<Hex, Promise<boolean>>) {
    if (d.notBeforeBlock !== undefined && number < d.notBeforeBlock) return false;
    if (d.after === undefined) return true;
    const seen = receipts.get(d.after) ?? mined(d.after);
    receipts.set(d.after, seen);
    return seen;
  }

  async function release(number: bigint): Promise<void> {
    const receipts = new Map<Hex, Promise<boolean>>();
    await Promise.all([...waiters].map(async (w) => (await met(w, number, receipts)) && w.done()));
  }

  function onHead(number: bigint): void {
    head = number > head ? number : head;
    if (checking) {
      again = true;
      return;
    }
    checking = release(head).finally(() => {
      checking = undefined;
      if (again) {
        again = false;
        onHead(head);
      }
    });
  }

  function watch(): void {
    unwatch ??= pc.watchBlockNumber({
      poll: true,
      pollingInterval: HEAD_POLL_MS,
      onBlockNumber: onHead,
      onError: () => undefined,
    });
  }
  function unwatchIfIdle(): void {
    if (waiters.size > 0 || !unwatch) return;
    unwatch();
    unwatch = undefined;
  }

  async function wait(d: Dependency): Promise<DependencyUnmet | undefined> {
    if (d.notBeforeBlock === undefined && d.after === undefined) return undefined;
    const now = await pc.getBlockNumber({ cacheTime: 0 });
    if (await met(d, now, new Map())) return undefined;
    const what = [
      d.notBeforeBlock === undefined ? undefined : `block ${d.notBeforeBlock}`,
      d.after === undefined ? undefined : `transaction ${d.after}`,
    ]
      .filter(Boolean)
      .join(" and ");
    if (d.notBeforeBlock !== undefined && d.notBeforeBlock > now + bounds.maxAheadBlocks)
      return {
        check: "dependency-too-far",
        detail: `\`notBeforeBlock\` (${d.notBeforeBlock}) is more than ${bounds.maxAheadBlocks} blocks ahead of this relay's node (at block ${now}); this relay does not hold requests that long. Send it to another provider's relay, or name a block your client has seen.`,
      };
    const retryAfterSeconds = Math.max(1, Math.ceil(bounds.maxWaitMs / 1000));
    if (waiters.size >= bounds.maxWaiting)
      return {
        check: "too-many-waiting",
        detail: `${waiters.size} requests are already waiting here for blocks this relay's node has not seen (at most ${bounds.maxWaiting}); send this one to another provider's relay, or again in ${retryAfterSeconds} s.`,
        retryAfterSeconds,
      };
    return new Promise<DependencyUnmet | undefined>((resolve) => {
      const finish = (outcome: DependencyUnmet | undefined) => {
        clearTimeout(timer);
        if (!waiters.delete(waiter)) return;
        unwatchIfIdle();
        resolve(outcome);
      };
      const waiter: Waiter = { ...d, done: () => finish(undefined) };
      const timer = setTimeout(
        () =>
          finish({
            check: "dependency-timeout",
            detail: `This relay's node (at block ${head > now ? head : now}) has not seen ${what} within ${bounds.maxWaitMs} ms: it is behind. Nothing was sent; send the same request to another provider's relay, or here again later.`,
            retryAfterSeconds,
          }),
        bounds.maxWaitMs,
      );
      waiters.add(waiter);
      watch();
      // A head the watcher saw while this request read its own: checked against it at once.
      if (head > now) onHead(head);
    });
  }

  return {
    wait,
    get waiting() {
      return waiters.size;
    },
  };
}
