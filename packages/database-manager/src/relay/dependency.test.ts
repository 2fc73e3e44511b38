import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Hex } from "viem";
import type { ChainClient } from "../chain/client.ts";
import { createDependencyGate, type DependencyBounds } from "./dependency.ts";

const TX = `0x${"ab".repeat(32)}` as Hex;

/** A node whose head and mined transactions the test moves; counts the watchers it has. */
function fakeNode(start: bigint) {
  let head = start;
  const mined = new Set<Hex>();
  const listeners = new Set<(n: bigint) => void>();
  const publicClient = {
    getBlockNumber: async () => head,
    getTransactionReceipt: async ({ hash }: { hash: Hex }) => {
      if (!mined.has(hash)) throw new Error("not found");
      return {};
    },
    watchBlockNumber: ({ onBlockNumber }: { onBlockNumber: (n: bigint) => void }) => {
      listeners.add(onBlockNumber);
      return () => listeners.delete(onBlockNumber);
    },
  };
  return {
    client: { publicClient } as unknown as Pick<ChainClient, "publicClient">,
    advance(to: bigint) {
      head = to;
      for (const l of listeners) l(to);
    },
    mine(hash: Hex) {
      mined.add(hash);
    },
    get watchers() {
      return listeners.size;
    },
  };
}

const bounds: DependencyBounds = { maxWaitMs: 300, maxAheadBlocks: 16n, maxWaiting: 2 };

describe("relay dependency gate", () => {
  test("default: no dependency, or one the node has, passes at once without a watcher", async () => {
    const node = fakeNode(10n);
    const gate = createDependencyGate({ client: node.client, bounds });
    assert.equal(await gate.wait({}), undefined);
    assert.equal(await gate.wait({ notBeforeBlock: 10n }), undefined);
    node.mine(TX);
    assert.equal(await gate.wait({ notBeforeBlock: 3n, after: TX }), undefined);
    assert.equal(node.watchers, 0);
  });

  test("behavior: a request waits for its block, released by the node's new head", async () => {
    const node = fakeNode(10n);
    const gate = createDependencyGate({ client: node.client, bounds });
    const waiting = gate.wait({ notBeforeBlock: 12n });
    await new Promise((r) => setImmediate(r));
    assert.equal(gate.waiting, 1);
    node.advance(11n);
    await new Promise((r) => setImmediate(r));
    assert.equal(gate.waiting, 1, "block 11 is not block 12");
    node.advance(12n);
    assert.equal(await waiting, undefined);
    assert.equal(gate.waiting, 0);
    assert.equal(node.watchers, 0, "the head is no longer watched once nobody waits");
  });

  test("behavior: `after` waits for the transaction's receipt", async () => {
    const node = fakeNode(10n);
    const gate = createDependencyGate({ client: node.client, bounds });
    const waiting = gate.wait({ after: TX });
    await new Promise((r) => setImmediate(r));
    node.advance(11n);
    await new Promise((r) => setImmediate(r));
    assert.equal(gate.waiting, 1);
    node.mine(TX);
    node.advance(12n);
    assert.equal(await waiting, undefined);
  });

  test("error: far ahead and too many waiting are refused at once; not seen in time times out", async () => {
    const node = fakeNode(10n);
    const gate = createDependencyGate({ client: node.client, bounds });
    const far = await gate.wait({ notBeforeBlock: 27n });
    assert.equal(far?.check, "dependency-too-far");
    assert.match(String(far?.detail), /more than 16 blocks ahead .*\(at block 10\)/);
    const started = Date.now();
    const held = [gate.wait({ notBeforeBlock: 26n }), gate.wait({ after: TX })];
    await new Promise((r) => setImmediate(r));
    const crowded = await gate.wait({ notBeforeBlock: 11n });
    assert.equal(crowded?.check, "too-many-waiting");
    assert.equal(crowded?.retryAfterSeconds, 1);
    for (const outcome of await Promise.all(held)) {
      assert.equal(outcome?.check, "dependency-timeout");
      assert.match(String(outcome?.detail), /has not seen (block 26|transaction 0xabab).* within 300 ms/);
    }
    assert.ok(Date.now() - started >= 290);
    assert.equal(gate.waiting, 0);
    assert.equal(node.watchers, 0);
  });
});
