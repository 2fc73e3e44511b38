import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { GenesisParametersError } from "./genesis.ts";
import type { ScryptStrength } from "./keys.ts";
import { initNetwork, inTurnSigner, NetworkError, providerParameters } from "./network.ts";
import { tracked } from "./reaper.ts";

describe("inTurnSigner", () => {
  const signers = [
    "0xcc00000000000000000000000000000000000000",
    "0xAA00000000000000000000000000000000000000",
    "0xbb00000000000000000000000000000000000000",
  ];
  test("default: signers sorted ascending, index = block % n", () => {
    assert.equal(inTurnSigner(signers, 0n), signers[1]);
    assert.equal(inTurnSigner(signers, 1n), signers[2]);
    assert.equal(inTurnSigner(signers, 2n), signers[0]);
    assert.equal(inTurnSigner(signers, 3n), signers[1]);
  });
  test("behavior: no signers", () => {
    assert.equal(inTurnSigner([], 5n), undefined);
  });
});

describe("initNetwork", () => {
  test("error: sealer count", async () => {
    await assert.rejects(initNetwork({ sealers: 0 }), NetworkError);
  });
  test("error: invalid chain parameters are rejected before anything is written", async () => {
    await assert.rejects(
      initNetwork({ sealers: 1, dataDir: "/nonexistent/never-created", periodSeconds: 0 }),
      GenesisParametersError,
    );
  });
});

describe("initNetwork that fails part-way (after its directory was made)", () => {
  // An unknown keystore strength fails in the first sealer's key, after the directory exists.
  const failing = { sealers: 2, scrypt: "unknown" as ScryptStrength };

  test("error: the temp directory it made is removed", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "medrec-init-test-"));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      await assert.rejects(initNetwork(failing));
      assert.deepEqual(await readdir(tmp), []);
      assert.deepEqual(tracked().directories, []);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      await rm(tmp, { recursive: true, force: true });
    }
  });

  test("error: a dataDir it created is removed; one that existed before is kept", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "medrec-init-test-"));
    try {
      const fresh = join(tmp, "fresh");
      await assert.rejects(initNetwork({ ...failing, dataDir: fresh }));
      assert.equal(existsSync(fresh), false);
      const existing = join(tmp, "existing");
      await mkdir(existing);
      await assert.rejects(initNetwork({ ...failing, dataDir: existing }));
      assert.equal(existsSync(existing), true);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});

describe("providerParameters", () => {
  test("behavior: rpcExtraArgs go to the RPC node only, after extraArgs", async () => {
    const tmp = await mkdtemp(join(tmpdir(), "medrec-params-"));
    try {
      const { state } = await initNetwork({ sealers: 1, dataDir: join(tmp, "net"), scrypt: "light" });
      const node = state.nodes[0];
      assert.ok(node);
      const { sealer, rpc } = providerParameters(state, node, {
        extraArgs: ["--txpool.globalslots", "50000"],
        rpcExtraArgs: ["--txpool.nolocals"],
      });
      assert.deepEqual(sealer.extraArgs, ["--txpool.globalslots", "50000"]);
      assert.deepEqual(rpc.extraArgs, ["--txpool.globalslots", "50000", "--txpool.nolocals"]);
      assert.deepEqual(providerParameters(state, node, {}).rpc.extraArgs, undefined);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
