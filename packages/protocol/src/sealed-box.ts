/**
 * Sealed boxes: anonymous public-key encryption to an X25519 key, byte-compatible with libsodium's
 * `crypto_box_seal` (ephemeral X25519 + XSalsa20-Poly1305, nonce = BLAKE2b-192(ephemeralPk ‖ pk)).
 * Output: `ephemeralPk (32) ‖ tag (16) ‖ ciphertext` — 48 bytes more than the plaintext.
 *
 * Used for what lives only in event logs: `providerDetails` (encrypted to the patient's key from
 * `AgentRegistered`/`EncryptionKeyChanged`) and `viewerDetails` (to the viewer's key).
 *
 * Key derivation (MedRec v1, documented for every client): the X25519 secret key of an Ethereum
 * account is `HKDF-SHA256(ikm = its 32-byte secp256k1 private key, salt = "medrec",
 * info = "medrec:x25519-encryption-key:v1", length = 32)`; for a patient that is the account at
 * `m/44'/60'/0'/0/0` of the 12-word mnemonic (docs/protocol.md "Keys and addresses"). HKDF keeps the two curves'
 * keys independent (MetaMask's `eth_getEncryptionPublicKey` reuses the secp256k1 key directly).
 */
import { hsalsa, xsalsa20poly1305 } from "@noble/ciphers/salsa";
import { x25519 } from "@noble/curves/ed25519";
import { blake2b } from "@noble/hashes/blake2";
import { hkdf } from "@noble/hashes/hkdf";
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, type Hex, hexToBytes, isHex } from "viem";
import type { HDAccount } from "viem/accounts";
import { z } from "zod";
import { BaseError } from "./errors.ts";
import { accountFromMnemonic } from "./keys.ts";
import { addressSchema, httpUrlSchema } from "./primitives.ts";

/** Bytes a sealed box adds to its plaintext (ephemeral public key + Poly1305 tag). */
export const SEALED_BOX_OVERHEAD = 48;

const HKDF_SALT = new TextEncoder().encode("medrec");
const HKDF_INFO = new TextEncoder().encode("medrec:x25519-encryption-key:v1");
// "expand 32-byte k" as little-endian words (the Salsa20 constant).
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

/** Thrown when a sealed box cannot be opened (wrong key, tampered, truncated) or a key is malformed. */
export class SealedBoxError extends BaseError {
  override name = "SealedBoxError";
}

/** An X25519 key pair: `publicKey` as the bytes32 published on chain. */
export type EncryptionKeyPair = { secretKey: Uint8Array; publicKey: Hex };

function toKeyBytes(key: Hex | Uint8Array, what: string): Uint8Array {
  if (key instanceof Uint8Array) {
    if (key.length !== 32) throw new SealedBoxError(`Invalid ${what}: expected 32 bytes.`);
    return key;
  }
  if (!isHex(key, { strict: true }) || key.length !== 66)
    throw new SealedBoxError(`Invalid ${what}: expected 0x followed by 64 hex digits.`);
  return hexToBytes(key);
}

function toWords(bytes: Uint8Array): Uint32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Uint32Array.from({ length: bytes.length / 4 }, (_, i) => view.getUint32(4 * i, true));
}

/** libsodium `crypto_box_beforenm`: HSalsa20(X25519(sk, pk), 0¹²⁸). Refuses low-order points. */
function boxKey(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, publicKey);
  } catch (cause) {
    throw new SealedBoxError("Invalid X25519 public key.", { cause });
  }
  // A low-order public key gives the all-zero secret: libsodium refuses it, so do we.
  if (shared.every((b) => b === 0)) throw new SealedBoxError("Invalid X25519 public key (low order).");
  const out = new Uint32Array(8);
  hsalsa(SIGMA, toWords(shared), new Uint32Array(4), out);
  const key = new Uint8Array(32);
  const view = new DataView(key.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(4 * i, out[i] as number, true);
  shared.fill(0);
  return key;
}

const sealNonce = (ephemeralPk: Uint8Array, recipientPk: Uint8Array) =>
  blake2b(new Uint8Array([...ephemeralPk, ...recipientPk]), { dkLen: 24 });

/** The X25519 public key (bytes32 hex) of a secret key. */
export function encryptionPublicKey(secretKey: Uint8Array): Hex {
  return bytesToHex(x25519.getPublicKey(toKeyBytes(secretKey, "secret key")));
}

/** A fresh random X25519 key pair (e.g. for a viewer without a MedRec seed, or for tests). */
export function generateEncryptionKeyPair(): EncryptionKeyPair {
  const secretKey = x25519.utils.randomPrivateKey();
  return { secretKey, publicKey: encryptionPublicKey(secretKey) };
}

/**
 * The X25519 key pair of an Ethereum account, from its secp256k1 private key (see the module doc).
 *
 * @throws {SealedBoxError} unless `privateKey` is 32 bytes.
 */
export function encryptionKeyPairFromPrivateKey(privateKey: Hex | Uint8Array): EncryptionKeyPair {
  const ikm = toKeyBytes(privateKey, "private key");
  const secretKey = hkdf(sha256, ikm, HKDF_SALT, HKDF_INFO, 32);
  return { secretKey, publicKey: encryptionPublicKey(secretKey) };
}

/**
 * The patient's X25519 key pair from the 12-word mnemonic: of the account at `m/44'/60'/0'/0/index`
 * (index 0 is the key registered with the patient's agent).
 *
 * @throws {InvalidMnemonicError} for an invalid mnemonic.
 */
export function encryptionKeyPairFromMnemonic(mnemonic: string, index = 0): EncryptionKeyPair {
  return encryptionKeyPairFromAccount(accountFromMnemonic(mnemonic, index));
}

/**
 * The X25519 key pair of an account derived from a mnemonic ({@link encryptionKeyPairFromMnemonic}
 * for an account already at hand: no second derivation).
 *
 * @throws {SealedBoxError} if the account has no private key.
 */
export function encryptionKeyPairFromAccount(account: HDAccount): EncryptionKeyPair {
  const privateKey = account.getHdKey().privateKey;
  if (!privateKey) throw new SealedBoxError("The mnemonic's account has no private key.");
  return encryptionKeyPairFromPrivateKey(privateKey);
}

/**
 * Encrypts `plaintext` to `recipientPublicKey` (libsodium `crypto_box_seal`). Only the holder of the
 * matching secret key can open it; the sender is anonymous (a fresh ephemeral key each time).
 *
 * @throws {SealedBoxError} for a malformed or low-order public key.
 */
export function sealBox(plaintext: Uint8Array, recipientPublicKey: Hex | Uint8Array): Uint8Array {
  const pk = toKeyBytes(recipientPublicKey, "public key");
  const esk = x25519.utils.randomPrivateKey();
  const epk = x25519.getPublicKey(esk);
  const key = boxKey(esk, pk);
  esk.fill(0);
  const boxed = xsalsa20poly1305(key, sealNonce(epk, pk)).encrypt(plaintext);
  key.fill(0);
  const out = new Uint8Array(SEALED_BOX_OVERHEAD - 16 + boxed.length);
  out.set(epk, 0);
  out.set(boxed, 32);
  return out;
}

/**
 * Opens a sealed box with the recipient's secret key (libsodium `crypto_box_seal_open`).
 *
 * @throws {SealedBoxError} if it is truncated, tampered with, or sealed to another key.
 */
export function openSealedBox(sealed: Uint8Array | Hex, secretKey: Uint8Array): Uint8Array {
  if (typeof sealed === "string" && !isHex(sealed, { strict: true }))
    throw new SealedBoxError("Sealed box is not hex.");
  const bytes = typeof sealed === "string" ? hexToBytes(sealed) : sealed;
  if (bytes.length < SEALED_BOX_OVERHEAD) throw new SealedBoxError("Sealed box too short.");
  const sk = toKeyBytes(secretKey, "secret key");
  const pk = x25519.getPublicKey(sk);
  const epk = bytes.subarray(0, 32);
  const key = boxKey(sk, epk);
  try {
    return xsalsa20poly1305(key, sealNonce(epk, pk)).decrypt(bytes.subarray(32));
  } catch (cause) {
    throw new SealedBoxError("Cannot open the sealed box: wrong key or tampered content.", { cause });
  } finally {
    key.fill(0);
  }
}

/** Plaintexts are padded to a multiple of this, so a ciphertext's length does not tell names apart. */
export const SEALED_JSON_BLOCK = 128;

/**
 * Seals a JSON value, padded with trailing spaces to a multiple of {@link SEALED_JSON_BLOCK} bytes
 * (JSON ignores them), as the hex `bytes` a contract call takes.
 */
export function sealJson(value: unknown, recipientPublicKey: Hex | Uint8Array): Hex {
  const json = new TextEncoder().encode(JSON.stringify(value));
  const padded = new Uint8Array(Math.ceil((json.length + 1) / SEALED_JSON_BLOCK) * SEALED_JSON_BLOCK).fill(
    0x20,
  );
  padded.set(json, 0);
  return bytesToHex(sealBox(padded, recipientPublicKey));
}

/**
 * Opens what {@link sealJson} sealed and parses it.
 *
 * @throws {SealedBoxError} if it cannot be opened or is not JSON.
 */
export function openJson(sealed: Hex | Uint8Array, secretKey: Uint8Array): unknown {
  const text = new TextDecoder("utf-8", { fatal: true });
  try {
    return JSON.parse(text.decode(openSealedBox(sealed, secretKey)));
  } catch (cause) {
    if (cause instanceof SealedBoxError) throw cause;
    throw new SealedBoxError("The sealed box does not hold JSON.", { cause });
  }
}

/**
 * `providerDetails` of `Relationship.create`, sealed to the patient: who the provider is and where
 * its gatekeeper answers. No MRN or other identifier of the patient (a leaked patient key must not
 * reveal more than the patient already knew). `account` is the provider's AgentRegistry account, so
 * the dapp can check name and URL against the on-chain directory and hide impostors.
 */
export const providerDetailsSchema = z.looseObject({
  v: z.literal(1),
  name: z.string().min(1).max(64),
  gatekeeperUrl: httpUrlSchema,
  account: addressSchema,
});
export type ProviderDetails = z.output<typeof providerDetailsSchema>;
