import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GenesisParametersError } from "./genesis.ts";
import { initNetwork, inTurnSigner, NetworkError } from "./network.ts";

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
