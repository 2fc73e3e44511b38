/**
 * Three real geth v1.13.15 sealers on loopback, 1 s blocks: sealing in turn, propagation,
 * losing and regaining a sealer. No mocks.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createWalletClient, defineChain, http, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  blockNumber,
  cliqueGetSigner,
  cliqueGetSigners,
  cliqueStatus,
  httpRpc,
  type Network,
  nodeStatus,
  RpcUnreachableError,
  startNetwork,
  stopNetwork,
} from "../src/index.ts";

const funder = privateKeyToAccount(generatePrivateKey());
let network: Network;

before(async () => {
  network = await startNetwork({
    sealers: 3,
    periodSeconds: 1,
    chainId: 633732,
    scrypt: "light",
    prefund: { [funder.address]: parseEther("1000").toString() },
  });
});
after(async () => {
  if (network) await stopNetwork(network, { removeDir: true });
});

/** Polls `fn` until it returns a value other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const addresses = () => network.state.nodes.map((n) => n.address.toLowerCase());

async function signersOf(ipcPath: string, from: bigint, to: bigint): Promise<string[]> {
  const out: string[] = [];
  for (let b = from; b <= to; b++) out.push((await cliqueGetSigner(ipcPath, b)).toLowerCase());
  return out;
}

describe("a 3-sealer Clique network", () => {
  test("default: every node is peered with the other two and agrees on the three signers", async () => {
    for (const [i, node] of network.nodes.entries()) {
      const s = await nodeStatus(node, { sealer: network.state.nodes[i]?.address as `0x${string}` });
      assert.equal(s.peerCount, 2);
      assert.deepEqual(s.signers, [...addresses()].sort());
      assert.equal(typeof s.inTurn, "boolean");
    }
  });

  test("behavior: all three sealers seal, in turn, and no one seals twice in a row", {
    timeout: 60_000,
  }, async () => {
    const ipc = network.nodes[0]?.ipcPath as string;
    const head = await eventually("block 9", async () => {
      const h = await blockNumber(network.nodes[0]?.rpcUrl as string);
      return h >= 9n ? h : undefined;
    });
    const signers = await signersOf(ipc, 1n, head);
    assert.deepEqual(
      new Set(signers),
      new Set(addresses()),
      `signers of blocks 1..${head}: ${signers.join(", ")}`,
    );
    // Clique: a signer may seal at most one of any floor(3/2)+1 = 2 consecutive blocks.
    for (let i = 1; i < signers.length; i++) assert.notEqual(signers[i], signers[i - 1], `block ${i + 1}`);
    const status = await cliqueStatus(ipc);
    assert.ok(status.numBlocks > 0);
    assert.deepEqual(
      new Set(Object.keys(status.sealerActivity).map((a) => a.toLowerCase())),
      new Set(addresses()),
    );
  });

  test("behavior: a transaction sent to one node is mined and seen by all three", {
    timeout: 60_000,
  }, async () => {
    const target = network.nodes[1];
    assert.ok(target);
    const chain = defineChain({
      id: network.state.chainId,
      name: "medrec-test",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [target.rpcUrl] } },
    });
    const wallet = createWalletClient({ account: funder, chain, transport: http(target.rpcUrl) });
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const hash = await wallet.sendTransaction({ to, value: parseEther("1.5") });
    for (const node of network.nodes) {
      const receipt = await eventually(`receipt on ${node.rpcUrl}`, () =>
        httpRpc<{ status: string; blockNumber: string } | null>(node.rpcUrl, "eth_getTransactionReceipt", [
          hash,
        ]).then((r) => r ?? undefined),
      );
      assert.equal(receipt.status, "0x1");
      const balance = await eventually(`balance on ${node.rpcUrl}`, () =>
        httpRpc<string>(node.rpcUrl, "eth_getBalance", [to, receipt.blockNumber]),
      );
      assert.equal(BigInt(balance), parseEther("1.5"));
    }
  });

  test("behavior: with one sealer of three stopped, the other two keep sealing", {
    timeout: 60_000,
  }, async () => {
    const stopped = network.nodes[2];
    assert.ok(stopped);
    await stopped.stop();
    assert.equal(stopped.status, "stopped");
    const rpc = network.nodes[0]?.rpcUrl as string;
    const from = await blockNumber(rpc);
    const head = await eventually("4 more blocks", async () => {
      const h = await blockNumber(rpc);
      return h >= from + 4n ? h : undefined;
    });
    const signers = await signersOf(network.nodes[0]?.ipcPath as string, from + 1n, head);
    assert.ok(!signers.includes(addresses()[2] as string), "the stopped sealer sealed nothing");
    assert.equal(new Set(signers).size, 2);
  });

  test("error: the stopped node's RPC fails fast with a clear error", async () => {
    const t = Date.now();
    await assert.rejects(
      nodeStatus(network.nodes[2] as { rpcUrl: string; ipcPath: string }, { timeoutMs: 2000 }),
      RpcUnreachableError,
    );
    assert.ok(Date.now() - t < 3000);
  });

  test("behavior: the restarted sealer catches up and seals again", { timeout: 90_000 }, async () => {
    const node = network.nodes[2];
    assert.ok(node);
    await node.start();
    const rpc0 = network.nodes[0]?.rpcUrl as string;
    const target = await blockNumber(rpc0);
    await eventually("the restarted node to catch up", async () =>
      (await blockNumber(node.rpcUrl)) >= target ? true : undefined,
    );
    const me = addresses()[2] as string;
    await eventually(
      "a block sealed by the restarted sealer",
      async () => {
        const head = await blockNumber(rpc0);
        const signers = await signersOf(network.nodes[0]?.ipcPath as string, target + 1n, head);
        return signers.includes(me) ? true : undefined;
      },
      45_000,
    );
    assert.equal((await cliqueGetSigners(node.ipcPath)).length, 3);
    assert.equal((await nodeStatus(node)).peerCount, 2);
  });
});
