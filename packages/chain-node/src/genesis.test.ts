import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { buildGenesis, GenesisParametersError, sealersFromExtraData } from "./genesis.ts";

const A = "0x2222222222222222222222222222222222222222";
const B = "0x1111111111111111111111111111111111111111";
const C = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"; // not a valid checksum: mixed case is taken as-is (non-strict)
const base = { chainId: 633732, periodSeconds: 1, sealers: [A] };

function issueOf(fn: () => unknown): { field: string; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(
      error instanceof GenesisParametersError,
      `expected GenesisParametersError, got ${String(error)}`,
    );
    assert.equal(error.name, "GenesisParametersError");
    const first = error.issues[0];
    assert.ok(first);
    return first;
  }
  assert.fail("expected an error");
}

describe("buildGenesis", () => {
  test("default: extraData = 32 zero bytes ‖ sealers sorted ascending ‖ 65 zero bytes", () => {
    const g = buildGenesis({ ...base, sealers: [A, B] });
    assert.equal(
      g.extraData,
      `0x${"00".repeat(32)}1111111111111111111111111111111111111111${"22".repeat(20)}${"00".repeat(65)}`,
    );
    assert.equal(g.extraData.length, 2 + 2 * (32 + 2 * 20 + 65));
    assert.deepEqual(sealersFromExtraData(g.extraData), [B, A]);
  });

  test("behavior: sorts by value regardless of input case", () => {
    const g = buildGenesis({ ...base, sealers: [C, A] });
    assert.ok(g.extraData.includes(`${"22".repeat(20)}abcdef0123456789abcdef0123456789abcdef01`));
  });

  test("behavior: Clique, all forks up to Gray Glacier at 0, nothing post-merge", () => {
    const g = buildGenesis({ ...base, periodSeconds: 5 });
    assert.deepEqual(g.config.clique, { period: 5, epoch: 30000 });
    for (const fork of [
      "homesteadBlock",
      "eip150Block",
      "eip155Block",
      "eip158Block",
      "byzantiumBlock",
      "constantinopleBlock",
      "petersburgBlock",
      "istanbulBlock",
      "muirGlacierBlock",
      "berlinBlock",
      "londonBlock",
      "arrowGlacierBlock",
      "grayGlacierBlock",
    ]) {
      assert.equal((g.config as Record<string, unknown>)[fork], 0, fork);
    }
    for (const absent of [
      "shanghaiTime",
      "cancunTime",
      "terminalTotalDifficulty",
      "terminalTotalDifficultyPassed",
      "daoForkBlock",
    ]) {
      assert.equal(absent in g.config, false, absent);
    }
    assert.equal(g.config.chainId, 633732);
    assert.equal(g.difficulty, "0x1");
    assert.equal(g.gasLimit, "0x1c9c380"); // 30 000 000
  });

  test("behavior: alloc accepts decimal, hex and bigint balances and keys them lower-case without 0x", () => {
    const g = buildGenesis({
      ...base,
      alloc: { [A]: "1000", [B]: "0xff", [C]: 10n ** 18n },
      epoch: 100,
      gasLimit: 8_000_000,
    });
    assert.deepEqual(g.alloc, {
      [A.slice(2)]: { balance: "0x3e8" },
      [B.slice(2)]: { balance: "0xff" },
      [C.slice(2).toLowerCase()]: { balance: "0xde0b6b3a7640000" },
    });
    assert.equal(g.config.clique.epoch, 100);
    assert.equal(g.gasLimit, "0x7a1200");
  });

  test("behavior: deterministic (pure)", () => {
    assert.deepEqual(buildGenesis({ ...base, sealers: [A, B] }), buildGenesis({ ...base, sealers: [B, A] }));
  });

  test("error: no sealers", () => {
    assert.equal(issueOf(() => buildGenesis({ ...base, sealers: [] })).field, "sealers");
  });
  test("error: invalid sealer address", () => {
    const i = issueOf(() => buildGenesis({ ...base, sealers: [A, "0x1234"] }));
    assert.equal(i.field, "sealers[1]");
    assert.match(i.message, /not a 20-byte hex address/);
  });
  test("error: duplicate sealer (case-insensitive)", () => {
    const i = issueOf(() => buildGenesis({ ...base, sealers: [C, C.toLowerCase()] }));
    assert.equal(i.field, "sealers[1]");
    assert.match(i.message, /duplicates/);
  });
  test("error: chainId 1 (mainnet)", () => {
    assert.match(issueOf(() => buildGenesis({ ...base, chainId: 1 })).message, /mainnet/);
  });
  for (const chainId of [0, -5, 1.5, Number.NaN]) {
    test(`error: chainId ${chainId}`, () => {
      assert.equal(issueOf(() => buildGenesis({ ...base, chainId })).field, "chainId");
    });
  }
  test("error: period 0 (seal-on-demand)", () => {
    const i = issueOf(() => buildGenesis({ ...base, periodSeconds: 0 }));
    assert.equal(i.field, "periodSeconds");
    assert.match(i.message, /on demand/);
  });
  for (const periodSeconds of [3601, 1.5, -1]) {
    test(`error: period ${periodSeconds}`, () => {
      assert.equal(issueOf(() => buildGenesis({ ...base, periodSeconds })).field, "periodSeconds");
    });
  }
  for (const gasLimit of [4_999_999, 2n ** 63n, 1.5]) {
    test(`error: gasLimit ${gasLimit}`, () => {
      assert.equal(issueOf(() => buildGenesis({ ...base, gasLimit })).field, "gasLimit");
    });
  }
  test("behavior: gasLimit bounds are inclusive", () => {
    assert.equal(buildGenesis({ ...base, gasLimit: 5_000_000 }).gasLimit, "0x4c4b40");
    assert.equal(buildGenesis({ ...base, gasLimit: 2n ** 63n - 1n }).gasLimit, "0x7fffffffffffffff");
  });
  for (const balance of ["1e18", "-1", "0x", "", `0x1${"0".repeat(64)}`]) {
    test(`error: alloc balance ${JSON.stringify(balance)}`, () => {
      const i = issueOf(() => buildGenesis({ ...base, alloc: { [A]: balance } }));
      assert.equal(i.field, `alloc.${A}`);
      assert.match(i.message, /decimal or 0x-hex/);
    });
  }
  test("error: alloc address", () => {
    assert.equal(issueOf(() => buildGenesis({ ...base, alloc: { nobody: "1" } })).field, "alloc.nobody");
  });
  test("error: epoch", () => {
    assert.equal(issueOf(() => buildGenesis({ ...base, epoch: 0 })).field, "epoch");
  });
  test("error: lists every problem at once", () => {
    try {
      buildGenesis({ chainId: 1, periodSeconds: 0, sealers: [] });
      assert.fail("expected an error");
    } catch (error) {
      assert.ok(error instanceof GenesisParametersError);
      assert.deepEqual(
        error.issues.map((i) => i.field),
        ["chainId", "periodSeconds", "sealers"],
      );
      assert.match(error.message, /chainId: .*\n.*periodSeconds/s);
    }
  });
});

describe("sealersFromExtraData", () => {
  test("error: wrong layout", () => {
    assert.throws(() => sealersFromExtraData("0x1234"), GenesisParametersError);
  });
});
