import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { verifyMessage } from "viem";
import {
  accountFromMnemonic,
  accountFromMnemonicAsync,
  generatePatientMnemonic,
  InvalidAccountIndexError,
  InvalidAddressError,
  InvalidMnemonicError,
  isValidMnemonic,
  normalizeMnemonic,
  toChecksumAddress,
  warmUpKeyDerivation,
} from "./keys.ts";

const VECTOR =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

describe("accountFromMnemonic", () => {
  test("default: docs/protocol.md test vector", () => {
    assert.equal(accountFromMnemonic(VECTOR).address, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
  });

  test("behavior: further indexes (m/44'/60'/0'/0/i)", () => {
    // Well-known addresses of the same mnemonic at indexes 1 and 2 (MetaMask / ethers).
    assert.equal(accountFromMnemonic(VECTOR, 1).address, "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0");
    assert.equal(accountFromMnemonic(VECTOR, 2).address, "0xb6716976A3ebe8D39aCEB04372f22Ff8e6802D7A");
  });

  test("behavior: whitespace and case are normalised", () => {
    const messy = `  ${VECTOR.toUpperCase().replaceAll(" ", "  \n")}  `;
    assert.equal(accountFromMnemonic(messy).address, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
  });

  test("behavior: the account signs", async () => {
    const account = accountFromMnemonic(VECTOR);
    const signature = await account.signMessage({ message: "hello" });
    assert.ok(await verifyMessage({ address: account.address, message: "hello", signature }));
  });

  test("error: invalid mnemonic", () => {
    const cases = [
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon", // checksum
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", // 11 words
      "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abut", // not a word
      "",
    ];
    for (const mnemonic of cases) {
      assert.throws(() => accountFromMnemonic(mnemonic), InvalidMnemonicError, mnemonic);
      assert.equal(isValidMnemonic(mnemonic), false);
    }
    // 24 valid words are still not a patient mnemonic
    const words24 = `${"abandon ".repeat(23)}art`;
    assert.throws(() => accountFromMnemonic(words24), /expected 12/);
    // the error never echoes the phrase
    try {
      accountFromMnemonic(cases[0] as string);
    } catch (error) {
      assert.ok(!(error as Error).message.includes("abandon"));
    }
  });

  test("error: invalid index", () => {
    for (const index of [-1, 1.5, 2 ** 31])
      assert.throws(() => accountFromMnemonic(VECTOR, index), InvalidAccountIndexError);
  });
});

describe("accountFromMnemonicAsync", () => {
  test("behavior: the same account as accountFromMnemonic (vector, indexes, fresh phrases)", async () => {
    const cases: [string, number][] = [
      [VECTOR, 0],
      [VECTOR, 1],
      [`  ${VECTOR.toUpperCase()} `, 2],
    ];
    for (let i = 0; i < 5; i++) cases.push([generatePatientMnemonic(), i]);
    for (const [mnemonic, index] of cases) {
      const sync = accountFromMnemonic(mnemonic, index);
      const async = await accountFromMnemonicAsync(mnemonic, index);
      assert.equal(async.address, sync.address);
      assert.deepEqual(async.getHdKey().privateKey, sync.getHdKey().privateKey);
    }
  });

  test("behavior: warming up the curve changes no key", async () => {
    warmUpKeyDerivation();
    assert.equal(
      (await accountFromMnemonicAsync(VECTOR)).address,
      "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
    );
  });

  test("error: invalid mnemonic or index", async () => {
    await assert.rejects(accountFromMnemonicAsync(`${VECTOR} abandon`), InvalidMnemonicError);
    await assert.rejects(accountFromMnemonicAsync(VECTOR, -1), InvalidAccountIndexError);
  });
});

describe("generatePatientMnemonic", () => {
  test("default: 12 valid words, different each time", () => {
    const a = generatePatientMnemonic();
    const b = generatePatientMnemonic();
    assert.equal(a.split(" ").length, 12);
    assert.ok(isValidMnemonic(a));
    assert.equal(normalizeMnemonic(a), a);
    assert.notEqual(a, b);
    assert.match(accountFromMnemonic(a).address, /^0x[0-9a-fA-F]{40}$/);
  });
});

describe("toChecksumAddress", () => {
  test("default: any case → EIP-55", () => {
    const expected = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
    assert.equal(toChecksumAddress(expected.toLowerCase()), expected);
    assert.equal(toChecksumAddress(`0x${expected.slice(2).toUpperCase()}`), expected);
    assert.equal(toChecksumAddress(`0X${expected.slice(2).toLowerCase()}`), expected);
    assert.equal(toChecksumAddress(expected), expected);
  });

  test("error: not an address", () => {
    for (const bad of [
      "0x1234",
      "9858EfFD232B4033E47d90003D41EC34EcaEda94",
      "0x9858EfFD232B4033E47d90003D41EC34EcaEda9g",
      "",
      42,
      null,
    ])
      assert.throws(() => toChecksumAddress(bad), InvalidAddressError, String(bad));
  });
});
