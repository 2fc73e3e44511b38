/**
 * Causality, not timing (issue 18): on a REAL geth v1.13.15 network (one sealer and its RPC node),
 * the relays run on the RPC node, which the test cuts off from the sealer (`admin_removePeer` over
 * IPC) so that it stays behind while the sealer seals on; the client reads the sealer (over its IPC
 * socket), as a client whose own node is ahead would. A relayed request naming a block its relay's
 * node has not seen is held and relayed once the node catches up (without it, the same request is
 * refused as `wrong-nonce`); one naming a block far ahead is refused at once; a crowd of waiting
 * requests is bounded; a dependency that never arrives within the bound gets a clear 503.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { adminPeers, blockNumber, ipcRpc } from "@medrec/chain-node";
import {
  agentAbi,
  buildForwardRequest,
  forwardRequestOutcome,
  medRecForwarderAbi,
  type RelayRequestJson,
  relayAndWait,
  serializeRelayRequest,
  signForwardRequest,
  toForwardRequestData,
} from "@medrec/protocol";
import { eventually, fetchReply } from "@medrec/testkit";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  custom,
  encodeFunctionData,
  type Hex,
  type PublicClient,
} from "viem";
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { type ChainEnv, startChainEnv } from "./chain.support.ts";
import { startBareRelay } from "./relay.support.ts";
import { createTestDatabase } from "./support/postgres.ts";

/** The tight relay's bounds: a short wait and two waiting requests at most. */
const TIGHT = { maxWaitMs: 1_500, maxAheadBlocks: 16n, maxWaiting: 2 };

let env: ChainEnv;
/** The sealer, over its IPC socket: always at the head. */
let ahead: PublicClient;
let sealerIpc: string;
let rpcIpc: string;
let sealerEnode: string;
let rpcEnode: string;
let relay: Awaited<ReturnType<typeof startBareRelay>>;
let tight: Awaited<ReturnType<typeof startBareRelay>>;

const setKey = (account: Address) =>
  encodeFunctionData({
    abi: agentAbi,
    functionName: "setEncryptionKey",
    args: [account, `0x${"11".repeat(32)}`],
  });
const register = encodeFunctionData({
  abi: agentAbi,
  functionName: "register",
  args: [`0x${"22".repeat(32)}`, [], 0],
});

/** `account`'s request to call `data` on Agent, signed, built on the sealer (gas given: no estimate). */
async function signed(account: LocalAccount, data: Hex): Promise<RelayRequestJson> {
  const request = await buildForwardRequest({
    client: ahead,
    forwarder: env.contracts.Forwarder,
    from: account.address,
    to: env.contracts.Agent,
    data,
    gas: 300_000n,
  });
  const signature = await signForwardRequest(account, request, {
    chainId: env.chain.id,
    forwarder: env.contracts.Forwarder,
  });
  return serializeRelayRequest(request, signature);
}

const post = async (url: string, body: unknown) => {
  const r = await fetchReply(`${url}/v1/relay`, { body });
  return { ...r, retryAfter: r.headers.get("retry-after") };
};

/** The RPC node's head, which stays put while it is cut off. */
const rpcHead = () => blockNumber(rpcIpc);

before(async () => {
  env = await startChainEnv("relay_causality");
  const state = env.network.state.nodes[0];
  const node = env.network.nodes[0];
  if (!state || !node) throw new Error("no node");
  sealerIpc = node.ipcPath;
  rpcIpc = state.rpc.ipcPath;
  sealerEnode = state.enode;
  rpcEnode = state.rpc.enode;
  const transport = custom({
    request: ({ method, params }) => ipcRpc(sealerIpc, method, (params ?? []) as unknown[]),
  });
  ahead = createPublicClient({ chain: env.chain, transport, pollingInterval: 100 });
  relay = await startBareRelay(env.settings(), await createTestDatabase(env.pg.url, "relay_causality_a"));
  tight = await startBareRelay(env.settings(), await createTestDatabase(env.pg.url, "relay_causality_b"), {
    dependencyBounds: TIGHT,
  });

  // The relays' node is cut off from the sealer; the sealer seals on.
  await ipcRpc(rpcIpc, "admin_removePeer", [sealerEnode]);
  await ipcRpc(sealerIpc, "admin_removePeer", [rpcEnode]);
  await eventually("the RPC node has no peer", async () => (await adminPeers(rpcIpc)).length === 0, {
    timeoutMs: 10_000,
  });
  const cut = await rpcHead();
  await eventually("the sealer 2 blocks ahead", async () => (await blockNumber(sealerIpc)) >= cut + 2n, {
    timeoutMs: 20_000,
  });
});

after(async () => {
  await relay?.close();
  await tight?.close();
  await env?.stop();
});

describe("POST /v1/relay waits for what a request depends on", () => {
  test("error: notBeforeBlock far ahead of the relay's node is refused at once (dependency-too-far)", async () => {
    const body = await signed(privateKeyToAccount(generatePrivateKey()), register);
    const head = await rpcHead();
    const started = performance.now();
    const r = await post(relay.url, { ...body, notBeforeBlock: String(head + 1_000n) });
    assert.ok(performance.now() - started < 2_000, "refused at once, not after the wait");
    assert.equal(r.status, 422, JSON.stringify(r.json));
    assert.match(r.type, /application\/problem\+json/);
    assert.equal(r.json.check, "dependency-too-far");
    assert.equal(r.json.type, "https://medrec.dev/problems/relay/dependency-too-far");
    assert.match(String(r.json.detail), new RegExp(`more than 16 blocks ahead .*at block ${head}`));
    assert.equal(relay.relay.waiting(), 0);
  });

  test("error: beyond the waiting requests' bound 503 + Retry-After (too-many-waiting); a dependency not seen in time 503 (dependency-timeout)", async () => {
    const notBeforeBlock = String((await rpcHead()) + 1n);
    const unknownTx = `0x${"ee".repeat(32)}`;
    const held = [
      post(tight.url, {
        ...(await signed(privateKeyToAccount(generatePrivateKey()), register)),
        notBeforeBlock,
      }),
      post(tight.url, {
        ...(await signed(privateKeyToAccount(generatePrivateKey()), register)),
        after: unknownTx,
      }),
    ];
    await eventually("two requests waiting", () => tight.relay.waiting() === 2, {
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    const crowded = await post(tight.url, {
      ...(await signed(privateKeyToAccount(generatePrivateKey()), register)),
      notBeforeBlock,
    });
    assert.equal(crowded.status, 503, JSON.stringify(crowded.json));
    assert.equal(crowded.json.check, "too-many-waiting");
    assert.equal(crowded.retryAfter, "2");
    assert.match(String(crowded.json.detail), /2 requests are already waiting here .*at most 2/);
    const [byBlock, byTx] = await Promise.all(held);
    for (const [r, what] of [
      [byBlock, `block ${notBeforeBlock}`],
      [byTx, `transaction ${unknownTx}`],
    ] as const) {
      assert.equal(r?.status, 503, JSON.stringify(r?.json));
      assert.match(String(r?.type), /application\/problem\+json/);
      assert.equal(r?.json.check, "dependency-timeout");
      assert.equal(r?.retryAfter, "2");
      assert.match(String(r?.json.detail), new RegExp(`has not seen ${what} within 1500 ms: it is behind`));
    }
    assert.equal(tight.relay.waiting(), 0);
  });

  test("behavior: a request whose prerequisite the relay's node has not seen is held, then relayed once the node catches up", async () => {
    const patient = privateKeyToAccount(generatePrivateKey());
    // The prerequisite: the patient's agent, registered on the sealer (the deployer pays, as a relay would).
    const wallet = createWalletClient({ account: env.deployer, chain: env.chain, transport: custom(ahead) });
    const { receipt: registered } = await relayAndWait({
      client: ahead,
      forwarder: env.contracts.Forwarder,
      account: patient,
      to: env.contracts.Agent,
      data: register,
      submit: ({ request, signature }) =>
        wallet.writeContract({
          address: env.contracts.Forwarder,
          abi: medRecForwarderAbi,
          functionName: "execute",
          args: [toForwardRequestData(request, signature)],
        }),
    });
    assert.ok(registered.blockNumber > (await rpcHead()), "the relays' node has not seen the registration");

    // Without its dependency, the relay judges the next request by its stale node: refused.
    const stale = await post(relay.url, await signed(patient, setKey(patient.address)));
    assert.equal(stale.status, 409, JSON.stringify(stale.json));
    assert.equal(stale.json.check, "wrong-nonce");

    // relayAndWait names the block it built the request on: the relay holds it ...
    const started = performance.now();
    let settled = false;
    const relayed = relayAndWait({
      client: ahead,
      forwarder: env.contracts.Forwarder,
      account: patient,
      to: env.contracts.Agent,
      data: setKey(patient.address),
      gatekeeperUrl: relay.url,
    }).finally(() => {
      settled = true;
    });
    await eventually("the request waiting", () => relay.relay.waiting() === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(settled, false, "held while the node is behind");
    assert.equal(relay.relay.waiting(), 1);

    // ... until its node is back among its peers and has the block.
    await ipcRpc(sealerIpc, "admin_addPeer", [rpcEnode]);
    await ipcRpc(rpcIpc, "admin_addPeer", [sealerEnode]);
    const { receipt, request } = await relayed;
    const heldMs = performance.now() - started;
    assert.ok(heldMs >= 1_000, `held ${Math.round(heldMs)} ms`);
    assert.equal(receipt.status, "success");
    assert.equal(
      forwardRequestOutcome(receipt, { forwarder: env.contracts.Forwarder, request }),
      "success",
      "the forwarder executed it",
    );
    assert.equal(relay.relay.waiting(), 0);
  });
});
