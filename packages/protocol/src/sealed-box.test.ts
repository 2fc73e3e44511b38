import assert from "node:assert/strict";
import { hkdfSync } from "node:crypto";
import { describe, test } from "node:test";
import { bytesToHex, hexToBytes } from "viem";
import { accountFromMnemonic } from "./keys.ts";
import {
  encryptionKeyPairFromAccount,
  encryptionKeyPairFromMnemonic,
  encryptionKeyPairFromPrivateKey,
  encryptionPublicKey,
  generateEncryptionKeyPair,
  openJson,
  openSealedBox,
  providerDetailsSchema,
  SEALED_BOX_OVERHEAD,
  SEALED_JSON_BLOCK,
  SealedBoxError,
  sealBox,
  sealJson,
} from "./sealed-box.ts";

const VECTOR =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const utf8 = (s: string) => new TextEncoder().encode(s);

// Made with libsodium 1.0.18 (crypto_box_keypair, crypto_box_seal) through Python ctypes; the second
// box was sealed by this module and opened by libsodium's crypto_box_seal_open.
const SODIUM = {
  secretKey: "0x6fb76fd6dd24089d00e291667881cf9a8d7d4c096d9fca500cc329d4f09ed1e5",
  publicKey: "0xf8bfd1a85369668f3175eeec5958eaaaff50550083dfff15ecda037387ff8b78",
  sealedBySodium:
    "0x52bc57c23c830f07eded6cecc9d08fc85697ec7216eb901507902f30983aaf4e37a93acfd82658b1f307801a72199fac7af0d283869ade941c4f9054e91a3027eaee6eee238bb674",
  sealedForSodium:
    "0x964c258fbbb70f7f297a08c0b206f1a084db13b910667054f5e1bff2a6356059e4afe04636e5fbad8c4d68261559e8ff414a282c348789ab4d351ca46e904046d9590f564e9fb4",
} as const;

describe("sealBox / openSealedBox", () => {
  test("default: round trip", () => {
    const { secretKey, publicKey } = generateEncryptionKeyPair();
    const sealed = sealBox(utf8("hello"), publicKey);
    assert.equal(sealed.length, 5 + SEALED_BOX_OVERHEAD);
    assert.equal(new TextDecoder().decode(openSealedBox(sealed, secretKey)), "hello");
    assert.equal(openSealedBox(bytesToHex(sealBox(new Uint8Array(), publicKey)), secretKey).length, 0);
  });

  test("behavior: interoperates with libsodium crypto_box_seal", () => {
    const sk = hexToBytes(SODIUM.secretKey);
    assert.equal(encryptionPublicKey(sk), SODIUM.publicKey);
    assert.equal(
      new TextDecoder().decode(openSealedBox(SODIUM.sealedBySodium, sk)),
      "MedRec sealed box vector",
    );
    assert.equal(
      new TextDecoder().decode(openSealedBox(SODIUM.sealedForSodium, sk)),
      "from noble to libsodium",
    );
  });

  test("behavior: every seal uses a fresh ephemeral key", () => {
    const { publicKey } = generateEncryptionKeyPair();
    assert.notDeepEqual(sealBox(utf8("x"), publicKey), sealBox(utf8("x"), publicKey));
  });

  test("error: any flipped bit is detected", () => {
    const { secretKey, publicKey } = generateEncryptionKeyPair();
    const sealed = sealBox(utf8("grant details"), publicKey);
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Uint8Array.from(sealed);
      tampered[i] = (tampered[i] as number) ^ 0x01;
      assert.throws(() => openSealedBox(tampered, secretKey), SealedBoxError, `byte ${i}`);
    }
  });

  test("error: wrong key, truncated, not hex, bad keys", () => {
    const a = generateEncryptionKeyPair();
    const b = generateEncryptionKeyPair();
    const sealed = sealBox(utf8("for a"), a.publicKey);
    assert.throws(() => openSealedBox(sealed, b.secretKey), SealedBoxError);
    assert.throws(() => openSealedBox(sealed.subarray(0, 47), a.secretKey), /too short/);
    assert.throws(() => openSealedBox("0xzz", a.secretKey), /not hex/);
    assert.throws(() => sealBox(utf8("x"), "0x1234"), /public key/);
    // Low-order points (all-zero shared secret) are refused, as libsodium does.
    assert.throws(() => sealBox(utf8("x"), new Uint8Array(32)), SealedBoxError);
  });
});

describe("encryption key derivation", () => {
  test("default: HKDF-SHA256 of the index-0 account key, as documented", () => {
    const privateKey = accountFromMnemonic(VECTOR).getHdKey().privateKey as Uint8Array;
    const expected = new Uint8Array(
      hkdfSync("sha256", privateKey, utf8("medrec"), utf8("medrec:x25519-encryption-key:v1"), 32),
    );
    const pair = encryptionKeyPairFromMnemonic(VECTOR);
    assert.deepEqual(pair.secretKey, expected);
    assert.deepEqual(encryptionKeyPairFromPrivateKey(bytesToHex(privateKey)), pair);
    // Pinned so that a change of derivation cannot go unnoticed (every patient's key would change).
    assert.equal(pair.publicKey, PINNED_PUBLIC_KEY);
  });

  test("behavior: other indexes give other keys; normalised mnemonics the same", () => {
    assert.notEqual(encryptionKeyPairFromMnemonic(VECTOR, 1).publicKey, PINNED_PUBLIC_KEY);
    assert.equal(encryptionKeyPairFromMnemonic(`  ${VECTOR.toUpperCase()} `).publicKey, PINNED_PUBLIC_KEY);
    assert.equal(encryptionKeyPairFromAccount(accountFromMnemonic(VECTOR)).publicKey, PINNED_PUBLIC_KEY);
  });

  test("behavior: a patient opens what was sealed to the published key", () => {
    const { publicKey, secretKey } = encryptionKeyPairFromMnemonic(VECTOR);
    const details = {
      v: 1,
      name: "Riverside General",
      gatekeeperUrl: "http://127.0.0.1:7101",
      account: "0x9858effd232b4033e47d90003d41ec34ecaeda94",
    };
    const parsed = providerDetailsSchema.parse(openJson(sealJson(details, publicKey), secretKey));
    assert.equal(parsed.account, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
  });
});

describe("sealJson", () => {
  test("behavior: padded so that lengths do not tell short names apart", () => {
    const { publicKey } = generateEncryptionKeyPair();
    const short = sealJson({ name: "A" }, publicKey);
    const longer = sealJson({ name: "A much longer hospital name" }, publicKey);
    assert.equal(short.length, longer.length);
    assert.equal((short.length - 2) / 2, SEALED_JSON_BLOCK + SEALED_BOX_OVERHEAD);
  });

  test("error: content that is not JSON", () => {
    const { publicKey, secretKey } = generateEncryptionKeyPair();
    assert.throws(() => openJson(sealBox(utf8("{nope"), publicKey), secretKey), /does not hold JSON/);
  });
});

const PINNED_PUBLIC_KEY = "0xf4f776d81ea349f3ef2c9208d9984ed1f2fa101f2f19d11d1ba095d9bbbbcf5c";
