/** gethNode against the real geth v1.13.15: start-up failures are fast, clear and carry geth's log. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  buildGenesis,
  createSealerKey,
  type GethNode,
  GethStartError,
  gethNode,
  httpRpc,
  nodeStatus,
  type ProviderNode,
  type SealerKey,
  startNetwork,
  stopNetwork,
} from "../src/index.ts";

let dir: string;
let genesisPath: string;
let key: SealerKey;
const started: GethNode[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "medrec-gethnode-"));
  key = await createSealerKey({ dir: join(dir, "key"), password: "right", scrypt: "light" });
  genesisPath = join(dir, "genesis.json");
  await writeFile(
    genesisPath,
    JSON.stringify(buildGenesis({ chainId: 633733, periodSeconds: 1, sealers: [key.address] })),
  );
});
after(async () => {
  await Promise.allSettled(started.map((n) => n.stop()));
  await rm(dir, { recursive: true, force: true });
});

function node(name: string, overrides: Partial<Parameters<typeof gethNode>[0]> = {}): GethNode {
  const n = gethNode({
    dataDir: join(dir, name),
    genesisPath,
    chainId: 633733,
    nodeKeyPath: join(dir, `${name}.nodekey`),
    sealer: key,
    startTimeoutMs: 30_000,
    ...overrides,
  });
  started.push(n);
  return n;
}

describe("gethNode", () => {
  test("default: a lone sealer starts with IPC only, seals, and stops", async () => {
    const n = node("ok");
    await n.start();
    assert.equal(n.status, "started");
    assert.equal(n.role, "sealer");
    assert.equal(n.rpcUrl, undefined);
    assert.equal(n.wsUrl, undefined);
    assert.ok(n.logs().some((l) => l.includes("IPC endpoint opened")));
    // Its only HTTP server is the JWT-guarded engine API on loopback; no JSON-RPC over HTTP or WS.
    const servers = n.logs().filter((l) => /HTTP server started|WebSocket enabled/.test(l));
    assert.ok(servers.length > 0);
    for (const l of servers) {
      assert.ok(l.includes(`127.0.0.1:${n.parameters?.ports.authrpc}`), l);
      if (l.includes("HTTP server started")) assert.match(l, /auth=true/);
    }
    assert.ok(n.enode?.startsWith("enode://"));
    await new Promise((r) => setTimeout(r, 2500));
    const s = await nodeStatus(n, { sealer: key.address });
    assert.ok(s.blockNumber >= 1n, `block ${s.blockNumber}`);
    assert.deepEqual(s.signers, [key.address.toLowerCase()]);
    assert.equal(s.inTurn, true);
    const pid = n.pid as number;
    await n.stop();
    assert.equal(n.status, "stopped");
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  test("default: an RPC node holds no key and serves eth,net,web3 only; personal is not there", async () => {
    const sealer = node("rpc-sealer");
    await sealer.start();
    const rpc = gethNode({
      dataDir: join(dir, "rpc"),
      genesisPath,
      chainId: 633733,
      nodeKeyPath: join(dir, "rpc.nodekey"),
      staticNodes: [sealer.enode as string],
      startTimeoutMs: 30_000,
    });
    started.push(rpc);
    await rpc.start();
    assert.equal(rpc.role, "rpc");
    assert.match(rpc.rpcUrl as string, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await httpRpc(rpc.rpcUrl as string, "eth_accounts"), []);
    await assert.rejects(
      httpRpc(rpc.rpcUrl as string, "personal_listAccounts"),
      /does not exist|not available/,
    );
    await assert.rejects(httpRpc(rpc.rpcUrl as string, "eth_sign", [key.address, "0x00"]), /unknown account/);
    await Promise.all([rpc.stop(), sealer.stop()]);
  });

  test("error: an RPC node refuses to start with a key in its data directory", async () => {
    const rpcDir = join(dir, "rpc-with-key");
    await createSealerKey({ dir: rpcDir, scrypt: "light" });
    const rpc = gethNode({
      dataDir: rpcDir,
      genesisPath,
      chainId: 633733,
      nodeKeyPath: join(dir, "rpc-with-key.nodekey"),
      startTimeoutMs: 30_000,
    });
    started.push(rpc);
    await assert.rejects(rpc.start(), (e: unknown) => {
      assert.ok(e instanceof GethStartError);
      assert.match(e.shortMessage, /an RPC node must hold no key/);
      return true;
    });
    assert.equal(rpc.pid, undefined);
  });

  test("error: a wrong keystore password fails fast with geth's own log lines", async () => {
    const pw = join(dir, "wrong-password");
    await writeFile(pw, "wrong", { mode: 0o600 });
    const n = node("badpw", { sealer: { ...key, passwordPath: pw } });
    await assert.rejects(n.start(), (e: unknown) => {
      assert.ok(e instanceof GethStartError);
      assert.equal(e.name, "GethStartError");
      // Fails fast: geth's exit is noticed, not the start-up timeout ("not ready within").
      assert.match(e.shortMessage, /exited during start-up/);
      assert.match(e.message, /geth's last log lines/);
      assert.match(e.message, /could not decrypt key with given password/);
      return true;
    });
    assert.equal(n.status, "stopped");
  });

  test("error: an invalid genesis fails in geth init with a clear error", async () => {
    const bad = join(dir, "bad-genesis.json");
    await writeFile(bad, "{ not json");
    await assert.rejects(node("badgenesis", { genesisPath: bad }).start(), /`geth init` failed/);
  });
});

describe("keys", () => {
  test("behavior: geth unlocks a standard-strength (scrypt N=2^18) key and seals with it", {
    timeout: 90_000,
  }, async () => {
    const network = await startNetwork({ sealers: 1, periodSeconds: 1 });
    try {
      const s = await nodeStatus(network.nodes[0] as ProviderNode);
      assert.ok(s.blockNumber >= 2n);
    } finally {
      await stopNetwork(network, { removeDir: true });
    }
  });
});
