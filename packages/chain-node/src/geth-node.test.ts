import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  defaultIpcPath,
  enodeUrl,
  GethStartError,
  gethNode,
  type ResolvedGethNodeParameters,
  roleOf,
  toArgs,
  toConfigToml,
} from "./geth-node.ts";

const params: ResolvedGethNodeParameters = {
  dataDir: "/tmp/n0",
  genesisPath: "/tmp/genesis.json",
  chainId: 633732,
  nodeKeyPath: "/tmp/n0/nodekey",
  ports: { p2p: 30001, http: 30002, ws: 30003, authrpc: 30004 },
  ipcPath: "/tmp/n0/geth.ipc",
};
const sealer = {
  address: "0x1111111111111111111111111111111111111111",
  keystoreDir: "/tmp/n0/keystore",
  passwordPath: "/tmp/n0/password",
} as const;

/** The value following a flag. */
const flag = (args: string[], name: string) => args[args.indexOf(name) + 1];

describe("toArgs", () => {
  test("default: a non-sealing node on loopback with eth,net,web3 only", () => {
    const args = toArgs(params);
    assert.equal(flag(args, "--datadir"), "/tmp/n0");
    assert.equal(flag(args, "--config"), "/tmp/n0/config.toml");
    assert.equal(flag(args, "--networkid"), "633732");
    assert.equal(flag(args, "--syncmode"), "full");
    assert.equal(flag(args, "--nat"), "none");
    assert.equal(flag(args, "--ipcpath"), "/tmp/n0/geth.ipc");
    assert.equal(flag(args, "--http.addr"), "127.0.0.1");
    assert.equal(flag(args, "--http.port"), "30002");
    assert.equal(flag(args, "--http.api"), "eth,net,web3");
    assert.equal(flag(args, "--http.vhosts"), "localhost,127.0.0.1");
    assert.equal(flag(args, "--ws.addr"), "127.0.0.1");
    assert.equal(flag(args, "--ws.port"), "30003");
    assert.equal(flag(args, "--ws.api"), "eth,net,web3");
    assert.equal(flag(args, "--authrpc.addr"), "127.0.0.1");
    assert.equal(flag(args, "--authrpc.port"), "30004");
    assert.equal(flag(args, "--verbosity"), "3");
    assert.ok(args.includes("--nodiscover"));
    for (const absent of [
      "--mine",
      "--unlock",
      "--allow-insecure-unlock",
      "--http.corsdomain",
      "--ws.origins",
      "--port",
    ]) {
      assert.equal(args.includes(absent), false, absent);
    }
    assert.equal(args.join(" ").includes("personal"), false);
  });

  test("behavior: a sealer mines as, and unlocks, its account — over IPC only", () => {
    const args = toArgs({ ...params, sealer, gasLimit: 30_000_000n });
    assert.ok(args.includes("--mine"));
    assert.equal(flag(args, "--ipcpath"), "/tmp/n0/geth.ipc");
    assert.equal(flag(args, "--authrpc.addr"), "127.0.0.1");
    for (const absent of ["--allow-insecure-unlock", "--http", "--ws", "--graphql"])
      assert.equal(args.includes(absent), false, absent);
    assert.equal(
      args.some((a) => /^--(http|ws)\./.test(a)),
      false,
      "no --http.* or --ws.* flag",
    );
    assert.equal(flag(args, "--miner.etherbase"), sealer.address);
    assert.equal(flag(args, "--unlock"), sealer.address);
    assert.equal(flag(args, "--keystore"), sealer.keystoreDir);
    assert.equal(flag(args, "--password"), sealer.passwordPath);
    assert.equal(flag(args, "--miner.gaslimit"), "30000000");
  });

  test("behavior: explicit CORS origins go to both HTTP and WS", () => {
    const args = toArgs({ ...params, corsOrigins: ["http://localhost:5173"] });
    assert.equal(flag(args, "--http.corsdomain"), "http://localhost:5173");
    assert.equal(flag(args, "--ws.origins"), "http://localhost:5173");
  });

  test("error: corsOrigins * is refused", () => {
    assert.throws(() => gethNode({ ...params, corsOrigins: ["*"] }), GethStartError);
  });

  test("error: a sealer takes no CORS origins (it serves no HTTP)", () => {
    assert.throws(() => gethNode({ ...params, sealer, corsOrigins: ["http://x"] }), GethStartError);
    assert.throws(() => toArgs({ ...params, sealer, corsOrigins: ["http://x"] }), GethStartError);
  });

  test("error: an RPC node without HTTP/WS ports", () => {
    assert.throws(() => toArgs({ ...params, ports: { p2p: 1, authrpc: 2 } }), GethStartError);
  });

  test("behavior: roleOf", () => {
    assert.equal(roleOf(params), "rpc");
    assert.equal(roleOf({ sealer }), "sealer");
    assert.equal(gethNode({ ...params, sealer }).role, "sealer");
    assert.equal(gethNode({ ...params, sealer }).rpcUrl, undefined);
  });
});

describe("extraArgs", () => {
  test("behavior: appended to the run", () => {
    const args = toArgs({ ...params, extraArgs: ["--txpool.globalslots", "50000"] });
    assert.equal(flag(args, "--txpool.globalslots"), "50000");
  });

  for (const bad of [
    "--http.api",
    "--http.addr=0.0.0.0",
    "--ws.origins",
    "--ipcdisable",
    "--authrpc.addr",
    "--allow-insecure-unlock",
    "--unlock",
    "--datadir",
  ]) {
    test(`error: ${bad} is the launcher's to set`, () => {
      assert.throws(
        () => toArgs({ ...params, extraArgs: [bad, "x"] }),
        (e: unknown) => e instanceof GethStartError && e.shortMessage.includes(bad.split("=")[0] ?? bad),
      );
    });
  }
});

describe("toConfigToml", () => {
  test("default: p2p on loopback, static peers listed", () => {
    const enode = enodeUrl("ab".repeat(64), "127.0.0.1", 30005);
    assert.equal(
      toConfigToml({ ...params, staticNodes: [enode] }),
      `[Node.P2P]\nListenAddr = "127.0.0.1:30001"\nStaticNodes = ["${enode}"]\n`,
    );
  });
  test("behavior: p2pHost", () => {
    assert.match(
      toConfigToml({ ...params, p2pHost: "0.0.0.0" }),
      /ListenAddr = "0.0.0.0:30001"\nStaticNodes = \[\]/,
    );
  });
});

describe("defaultIpcPath", () => {
  test("default: inside the data dir", () => {
    assert.equal(defaultIpcPath("/tmp/x"), "/tmp/x/geth.ipc");
  });
  test("behavior: a short temp path when the data dir is too deep for a unix socket", () => {
    const deep = `/tmp/${"d".repeat(120)}`;
    const path = defaultIpcPath(deep);
    assert.ok(path.length <= 100, path);
    assert.match(path, /medrec-[0-9a-f]{16}\.ipc$/);
    assert.equal(defaultIpcPath(deep), path);
  });
});

describe("gethNode (with a stand-in binary)", () => {
  test("error: never ready → GethStartError after startTimeoutMs with the last log lines; the process group is killed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "medrec-fake-geth-"));
    try {
      // Accepts `init`, then prints a line and hangs without ever serving RPC.
      const fake = join(dir, "geth");
      await writeFile(
        fake,
        '#!/bin/sh\n[ "$1" = init ] && exit 0\necho "INFO pretending to start"\nexec sleep 30\n',
      );
      await chmod(fake, 0o755);
      const node = gethNode({
        ...params,
        dataDir: join(dir, "data"),
        nodeKeyPath: join(dir, "nodekey"),
        ipcPath: join(dir, "g.ipc"),
        binary: fake,
        startTimeoutMs: 800,
      });
      let pid: number | undefined;
      const timer = setInterval(() => {
        pid ??= node.pid;
      }, 20);
      await assert.rejects(node.start(), (e: unknown) => {
        assert.ok(e instanceof GethStartError);
        assert.match(e.shortMessage, /not ready within 800 ms/);
        assert.match(e.message, /pretending to start/);
        return true;
      });
      clearInterval(timer);
      assert.equal(node.status, "stopped");
      assert.ok(pid);
      assert.throws(() => process.kill(pid as number, 0), /ESRCH/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
