import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { accountFromMnemonic } from "@medrec/protocol";
import { DelegateKeyError, DelegateKeys } from "./client.ts";
import { ChainConfigError } from "./config.ts";

/** The BIP39 test vector of docs/protocol.md "Keys" (packages/protocol/src/keys.test.ts). */
const VECTOR =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

describe("DelegateKeys", () => {
  test("default: index i is the protocol's accountFromMnemonic(mnemonic, i) — the test vector", () => {
    const keys = new DelegateKeys(VECTOR);
    assert.equal(keys.account(0).address, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
    assert.equal(keys.account(1).address, "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0");
    assert.equal(keys.account(2).address, "0xb6716976A3ebe8D39aCEB04372f22Ff8e6802D7A");
    for (const index of [0, 1, 2, 7, 1000])
      assert.equal(keys.account(index).address, accountFromMnemonic(VECTOR, index).address, `index ${index}`);
  });

  test("behavior: whitespace and case of the mnemonic are normalised as the protocol does", () => {
    const messy = `  ${VECTOR.toUpperCase().replaceAll(" ", "  \n")}  `;
    assert.equal(new DelegateKeys(messy).account(0).address, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
  });

  test("error: an index outside 0 ≤ index < 2³¹", () => {
    const keys = new DelegateKeys(VECTOR);
    for (const index of [-1, 2 ** 31, 1.5, Number.NaN])
      assert.throws(() => keys.account(index), DelegateKeyError);
  });

  test("error: a delegate that is a forbidden account (the relayer's, the audit log's)", () => {
    const keys = new DelegateKeys(VECTOR, { forbidden: ["0x6fac4d18c912343bf86fa7049364dd4e424ab9c0"] });
    assert.equal(keys.account(0).address, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
    assert.throws(() => keys.account(1), ChainConfigError);
  });
});
