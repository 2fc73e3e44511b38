/**
 * Three real geth v1.13.15 providers on loopback (each a sealer with IPC only + a non-signing RPC
 * node), 1 s blocks: no endpoint can sign, sealing in turn, propagation, losing and regaining a
 * provider. No mocks.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { medrecChain } from "@medrec/protocol";
import { freePorts } from "@medrec/protocol/node";
import { eventually } from "@medrec/testkit";
import { createWalletClient, http, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  adminPeers,
  blockNumber,
  buildGenesis,
  cliqueGetSigner,
  cliqueGetSigners,
  cliqueStatus,
  createSealerKey,
  ensureNodeKey,
  findGeth,
  httpRpc,
  killGroup,
  type Network,
  nodeIdOf,
  nodeStatus,
  probeSigningSurface,
  RpcUnreachableError,
  startNetwork,
  stopNetwork,
  toArgs,
} from "../src/index.ts";
import { reapProcessAtExit, removeDirAtExit } from "../src/reaper.ts";
import { tcpListeners } from "./support/listeners.ts";

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

const addresses = () => network.state.nodes.map((n) => n.address.toLowerCase());

async function signersOf(ipcPath: string, from: bigint, to: bigint): Promise<string[]> {
  const out: string[] = [];
  for (let b = from; b <= to; b++) out.push((await cliqueGetSigner(ipcPath, b)).toLowerCase());
  return out;
}

/** Every TCP listener of the network's geth processes, by role, with the ports the launcher chose. */
async function listenersOf(net: Network) {
  return Promise.all(
    net.nodes.flatMap((provider, i) => {
      const state = net.state.nodes[i];
      assert.ok(state);
      return [
        { role: "sealer" as const, pid: provider.sealer.pid, ports: state.ports },
        { role: "rpc" as const, pid: provider.rpc.pid, ports: state.rpc.ports },
      ].map(async (n) => ({ ...n, listeners: await tcpListeners(n.pid as number) }));
    }),
  );
}

describe("no endpoint but a node's own IPC socket can use a provider key", () => {
  test("security: sealers listen on p2p and the JWT-guarded engine port only, all on loopback", async () => {
    for (const n of await listenersOf(network)) {
      for (const l of n.listeners) assert.equal(l.address, "127.0.0.1", `${n.role} ${l.address}:${l.port}`);
      const ports = n.listeners.map((l) => l.port).sort();
      const expected =
        n.role === "sealer"
          ? [n.ports.p2p, n.ports.authrpc]
          : [n.ports.p2p, n.ports.authrpc, n.ports.http as number, n.ports.ws as number];
      assert.deepEqual(ports, expected.sort(), `${n.role} (pid ${n.pid}) listens on ${ports.join(", ")}`);
    }
  });

  test("security: every HTTP and WS endpoint the network opens passes probeSigningSurface", {
    timeout: 60_000,
  }, async () => {
    const sealers = addresses();
    let probed = 0;
    for (const n of await listenersOf(network)) {
      for (const l of n.listeners) {
        if (l.port === n.ports.p2p) continue; // RLPx, not HTTP
        const http = `http://127.0.0.1:${l.port}`;
        if (l.port === n.ports.authrpc) {
          // The engine API answers nothing without its JWT.
          const res = await fetch(http, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_accounts", params: [] }),
          });
          assert.ok(res.status === 401 || res.status === 403, `engine API ${http}: ${res.status}`);
          continue;
        }
        // geth serves HTTP and WS on separate ports here; probe both protocols on each port.
        const url = l.port === n.ports.ws ? `ws://127.0.0.1:${l.port}` : http;
        const report = await probeSigningSurface(url, { addresses: sealers });
        assert.deepEqual(report, { ok: true, violations: [] }, url);
        probed++;
      }
    }
    assert.equal(probed, 6, "3 RPC nodes × (HTTP + WS)");
    // The provider-facing URLs are the RPC node's.
    for (const p of network.nodes) {
      assert.equal((await probeSigningSurface(p.rpcUrl, { addresses: sealers })).ok, true);
      assert.equal((await probeSigningSurface(p.wsUrl, { addresses: sealers })).ok, true);
    }
  });

  test("defect(v2): an RPC endpoint can sign for the provider", { timeout: 90_000 }, async () => {
    // MedRec v2 ran each sealer with HTTP on and its key unlocked. Start exactly that — one geth,
    // the launcher's sealer flags plus the old `--http … --allow-insecure-unlock` — and show the
    // probe catches it; then show our launched network has no such endpoint.
    const dir = await mkdtemp(join(tmpdir(), "medrec-v2-sealer-"));
    // Spawned here, not by the launcher: still nothing left if the test process ends mid-way.
    const forgetDir = removeDirAtExit(dir);
    let forgetChild: (() => void) | undefined;
    let child: ChildProcess | undefined;
    try {
      const binary = await findGeth();
      const key = await createSealerKey({ dir: join(dir, "key"), scrypt: "light" });
      const genesisPath = join(dir, "genesis.json");
      await writeFile(
        genesisPath,
        // Funded, as a sealer that sends registry transactions is.
        JSON.stringify(
          buildGenesis({
            chainId: 633735,
            periodSeconds: 1,
            sealers: [key.address],
            alloc: { [key.address]: parseEther("10") },
          }),
        ),
      );
      const dataDir = join(dir, "data");
      execFileSync(binary, ["init", "--datadir", dataDir, genesisPath], { stdio: "ignore" });
      await writeFile(join(dataDir, "config.toml"), '[Node.P2P]\nListenAddr = "127.0.0.1:0"\n');
      await ensureNodeKey(join(dir, "nodekey"));
      const [http, authrpc] = await freePorts(2);
      const ours = toArgs({
        dataDir,
        genesisPath,
        chainId: 633735,
        nodeKeyPath: join(dir, "nodekey"),
        sealer: key,
        ipcPath: join(dir, "v2.ipc"),
        ports: { p2p: 0, authrpc: authrpc as number },
      });
      // The launcher's own RPC-node HTTP flags (--http … --http.vhosts), added to a sealer.
      const rpcArgs = toArgs({
        dataDir,
        genesisPath,
        chainId: 633735,
        nodeKeyPath: join(dir, "nodekey"),
        ipcPath: join(dir, "unused.ipc"),
        ports: { p2p: 0, authrpc: authrpc as number, http: http as number, ws: 0 },
      });
      const httpFlags = rpcArgs.slice(rpcArgs.indexOf("--http"), rpcArgs.indexOf("--ws"));
      const insecure = [...ours, ...httpFlags, "--allow-insecure-unlock"];
      child = spawn(binary, insecure, { detached: true, stdio: "ignore" });
      if (child.pid) forgetChild = reapProcessAtExit(child.pid);
      const url = `http://127.0.0.1:${http}`;
      await eventually("the v2-style sealer to mine", () =>
        httpRpc<boolean>(url, "eth_mining").then((m) => (m ? true : undefined)),
      );
      const report = await probeSigningSurface(url, { addresses: [key.address] });
      assert.equal(report.ok, false);
      const text = report.violations.join("\n");
      assert.match(
        text,
        new RegExp(`eth_accounts must be \\[\\] but returned .*${key.address.slice(2)}`, "i"),
      );
      for (const method of ["eth_sign", "eth_signTransaction", "eth_sendTransaction"])
        assert.match(text, new RegExp(`^${method} for ${key.address} succeeded`, "im"), method);
      // Nothing was usable for an address the node holds no key for.
      assert.doesNotMatch(text, new RegExp(`for 0x(?!${key.address.slice(2)})[0-9a-f]{40} succeeded`, "i"));
      // The same key through our launcher: the network's endpoints show none of this.
      for (const p of network.nodes)
        assert.deepEqual(await probeSigningSurface(p.rpcUrl, { addresses: addresses() }), {
          ok: true,
          violations: [],
        });
    } finally {
      if (child?.pid) killGroup(child.pid, "SIGKILL");
      if (child && child.exitCode === null) await new Promise((r) => child?.once("exit", r));
      await rm(dir, { recursive: true, force: true });
      forgetChild?.();
      forgetDir();
    }
  });

  test("error: the probe reports an endpoint that does not answer", async () => {
    const [port] = await freePorts(1);
    const report = await probeSigningSurface(`http://127.0.0.1:${port}`);
    assert.equal(report.ok, false);
    assert.match(report.violations[0] ?? "", /eth_chainId \(a read\) failed/);
    const ws = await probeSigningSurface(`ws://127.0.0.1:${port}`);
    assert.equal(ws.ok, false);
    assert.match(ws.violations[0] ?? "", /cannot connect/);
  });
});

describe("a 3-sealer Clique network", () => {
  test("default: every sealer is peered with the other two sealers and the three RPC nodes, and agrees on the three signers", async () => {
    for (const [i, node] of network.nodes.entries()) {
      const s = await nodeStatus(node, { sealer: network.state.nodes[i]?.address as `0x${string}` });
      assert.equal(s.peerCount, 5);
      assert.deepEqual(s.signers, [...addresses()].sort());
      assert.equal(typeof s.inTurn, "boolean");
      // Each RPC node is peered with the three sealers (and no other node is needed).
      const peers = (await adminPeers(network.state.nodes[i]?.rpc.ipcPath as string)).map((p) =>
        nodeIdOf(p.enode),
      );
      assert.deepEqual(peers.sort(), network.state.nodes.map((n) => nodeIdOf(n.enode)).sort());
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
    const { chain } = medrecChain({ chainId: network.state.chainId, rpcUrl: target.rpcUrl });
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
    // Unreachable, not a timeout: the missing socket is reported at once.
    await assert.rejects(
      nodeStatus(network.nodes[2] as { rpcUrl: string; ipcPath: string }, { timeoutMs: 60_000 }),
      RpcUnreachableError,
    );
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
      { timeoutMs: 45_000 },
    );
    assert.equal((await cliqueGetSigners(node.ipcPath)).length, 3);
    await eventually("the restarted sealer to have its 5 peers again", async () =>
      (await nodeStatus(node)).peerCount === 5 ? true : undefined,
    );
    assert.deepEqual(await probeSigningSurface(node.rpcUrl, { addresses: addresses() }), {
      ok: true,
      violations: [],
    });
  });
});
