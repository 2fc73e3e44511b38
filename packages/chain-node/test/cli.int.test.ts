/** The medrec-chain CLI end to end, as a separate process each time (like a user would run it). */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { probeSigningSurface, stopPid } from "../src/index.ts";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const root = await mkdtemp(join(tmpdir(), "medrec-cli-"));
const dir = join(root, "net");

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 150_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

after(async () => {
  // Whatever happened, no geth outlives the test.
  const state = JSON.parse(
    await readFile(join(dir, "chain-node.json"), "utf8").catch(() => '{"nodes":[]}'),
  ) as { nodes: { pid?: number; rpc?: { pid?: number } }[] };
  const pids = state.nodes.flatMap((n) => [n.pid, n.rpc?.pid]);
  await Promise.all(pids.map((pid) => (pid ? stopPid(pid, 5000) : undefined)));
  await rm(root, { recursive: true, force: true });
});

describe("medrec-chain", () => {
  test("default: init → start → status → stop", { timeout: 200_000 }, async () => {
    const init = cli("init", "--dir", dir, "--sealers", "2", "--period", "1", "--chain-id", "633734");
    assert.equal(init.code, 0, init.err);
    assert.match(init.out, /2 sealers/);

    const start = cli("start", "--dir", dir, "--timeout", "60");
    assert.equal(start.code, 0, start.err);
    assert.match(start.out, /sealer-0 {2}pid \d+ {2}http:\/\/127\.0\.0\.1:\d+/);

    const again = cli("start", "--dir", dir);
    assert.equal(again.code, 2);
    assert.match(again.err, /Already running/);

    const status = cli("status", "--dir", dir, "--json");
    assert.equal(status.code, 0, status.err);
    const parsed = JSON.parse(status.out) as {
      chainId: number;
      nodes: {
        running: boolean;
        rpcNodeRunning: boolean;
        rpcUrl: string;
        address: string;
        blockNumber: number;
        peerCount: number;
        signers: string[];
      }[];
    };
    assert.equal(parsed.chainId, 633734);
    for (const n of parsed.nodes) {
      assert.equal(n.running, true);
      assert.ok(n.blockNumber >= 1);
      assert.equal(n.rpcNodeRunning, true);
      assert.equal(n.peerCount, 3, "the other sealer and both RPC nodes");
      assert.equal(n.signers.length, 2);
      // The URL it hands out is the RPC node's, which can sign for nobody.
      const report = await probeSigningSurface(n.rpcUrl, { addresses: parsed.nodes.map((x) => x.address) });
      assert.deepEqual(report, { ok: true, violations: [] });
    }

    const stop = cli("stop", "--dir", dir);
    assert.equal(stop.code, 0, stop.err);
    assert.match(stop.out, /sealer-0: (terminated|killed) \(RPC node: (terminated|killed)\)/);
    const after = cli("status", "--dir", dir);
    assert.equal(after.code, 1);
    assert.match(after.out, /sealer-0 .* stopped/);
  });

  test("error: bad input exits 2 with a clear message", () => {
    const cases: [string[], RegExp][] = [
      [
        ["init", "--dir", join(root, "x"), "--period", "0"],
        /periodSeconds: must be an integer from 1 to 3600/,
      ],
      [["init", "--dir", join(root, "x"), "--chain-id", "1"], /mainnet/],
      [["init", "--dir", join(root, "x"), "--sealers", "two"], /--sealers must be a whole number/],
      [["init", "--dir", join(root, "x"), "--prefund", "0x12=5"], /alloc\.0x12/],
      [["status"], /--dir <network-dir> is required/],
      [["frobnicate", "--dir", root], /Unknown command: frobnicate/],
      [["status", "--dir", root, "--verbose"], /Unknown option '--verbose'/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message);
    }
  });

  test("error: a directory without a network exits 1 naming the missing file", () => {
    const r = cli("start", "--dir", join(root, "empty"));
    assert.equal(r.code, 1);
    assert.match(r.err, /No network in .*chain-node\.json is missing/);
  });

  test("default: --help", () => {
    const r = cli("--help");
    assert.equal(r.code, 0);
    assert.match(r.out, /usage: medrec-chain <command>/);
  });
});
