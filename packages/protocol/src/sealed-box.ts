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
import { type Address, bytesToHex, type Hex, hexToBytes, isHex, recoverTypedDataAddress } from "viem";
import type { HDAccount, LocalAccount } from "viem/accounts";
import { z } from "zod";
import { BaseError } from "./errors.ts";
import { accountFromMnemonic } from "./keys.ts";
import { addressSchema, httpUrlSchema, signatureSchema } from "./primitives.ts";

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
  return boxKeyOfShared(shared);
}

function boxKeyOfShared(shared: Uint8Array): Uint8Array {
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

// PKCS#8 wrapping of a raw X25519 secret key (RFC 8410), as WebCrypto imports it.
const X25519_PKCS8_PREFIX = [
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];
type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const webCryptoKeys = new WeakMap<Uint8Array, Promise<WebCryptoKey | undefined>>();

/**
 * {@link boxKey} with the platform's native X25519 (WebCrypto: Node ≥ 20, Chromium ≥ 133) when it
 * has one — about ten times faster than JavaScript, which matters when a patient's agent carries
 * thousands of strangers' relationships — else noble's. Both give the same key.
 */
async function boxKeyAsync(secretKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array> {
  let own = webCryptoKeys.get(secretKey);
  if (!own) {
    own = (async () =>
      globalThis.crypto?.subtle
        ?.importKey(
          "pkcs8",
          new Uint8Array([...X25519_PKCS8_PREFIX, ...secretKey]),
          { name: "X25519" },
          false,
          ["deriveBits"],
        )
        .catch(() => undefined))();
    webCryptoKeys.set(secretKey, own);
  }
  const key = await own;
  if (key) {
    try {
      const peer = await crypto.subtle.importKey(
        "raw",
        new Uint8Array(publicKey),
        { name: "X25519" },
        false,
        [],
      );
      return boxKeyOfShared(
        new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: peer }, key, 256)),
      );
    } catch {
      // WebCrypto refuses low-order points: noble's path below says so in the same words.
    }
  }
  return boxKey(secretKey, publicKey);
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
  const { bytes, sk } = sealedParts(sealed, secretKey);
  return openWithKey(bytes, sk, boxKey(sk, bytes.subarray(0, 32)));
}

/** {@link openSealedBox} with the platform's native X25519 when there is one (see `boxKeyAsync`). */
export async function openSealedBoxAsync(
  sealed: Uint8Array | Hex,
  secretKey: Uint8Array,
): Promise<Uint8Array> {
  const { bytes, sk } = sealedParts(sealed, secretKey);
  return openWithKey(bytes, sk, await boxKeyAsync(sk, bytes.subarray(0, 32)));
}

const publicKeys = new WeakMap<Uint8Array, Uint8Array>();
// One scalar multiplication per secret key, not per box.
function publicKeyOf(sk: Uint8Array): Uint8Array {
  let pk = publicKeys.get(sk);
  if (!pk) {
    pk = x25519.getPublicKey(sk);
    publicKeys.set(sk, pk);
  }
  return pk;
}

function sealedParts(sealed: Uint8Array | Hex, secretKey: Uint8Array) {
  if (typeof sealed === "string" && !isHex(sealed, { strict: true }))
    throw new SealedBoxError("Sealed box is not hex.");
  const bytes = typeof sealed === "string" ? hexToBytes(sealed) : sealed;
  if (bytes.length < SEALED_BOX_OVERHEAD) throw new SealedBoxError("Sealed box too short.");
  return { bytes, sk: toKeyBytes(secretKey, "secret key") };
}

function openWithKey(bytes: Uint8Array, sk: Uint8Array, key: Uint8Array): Uint8Array {
  const epk = bytes.subarray(0, 32);
  try {
    return xsalsa20poly1305(key, sealNonce(epk, publicKeyOf(sk))).decrypt(bytes.subarray(32));
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
  return parseOpened(() => openSealedBox(sealed, secretKey));
}

/** {@link openJson} with the platform's native X25519 when there is one. */
export async function openJsonAsync(sealed: Hex | Uint8Array, secretKey: Uint8Array): Promise<unknown> {
  const opened = await openSealedBoxAsync(sealed, secretKey);
  return parseOpened(() => opened);
}

function parseOpened(open: () => Uint8Array): unknown {
  const text = new TextDecoder("utf-8", { fatal: true });
  try {
    return JSON.parse(text.decode(open()));
  } catch (cause) {
    if (cause instanceof SealedBoxError) throw cause;
    throw new SealedBoxError("The sealed box does not hold JSON.", { cause });
  }
}

/**
 * `providerDetails` of `Relationship.create`, sealed to the patient: who the provider is and where
 * its gatekeeper answers. No MRN or other identifier of the patient (a leaked patient key must not
 * reveal more than the patient already knew). `account` is the provider's AgentRegistry account, so
 * the dapp can check name and URL against the on-chain directory; `signature` is that provider's
 * EIP-712 signature over the relationship ({@link providerDetailsTypedData}, adr/0015), so that only
 * a registered provider can appear as one. Sealed to the patient, only the patient can check it.
 */
export const providerDetailsSchema = z.looseObject({
  v: z.literal(1),
  name: z.string().min(1).max(64),
  gatekeeperUrl: httpUrlSchema,
  account: addressSchema,
  signature: signatureSchema.optional(),
});
export type ProviderDetails = z.output<typeof providerDetailsSchema>;

/** What a provider signs when it links a patient: the relationship, its parties and where to go. */
export type ProviderDetailsClaim = {
  chainId: number;
  /** The Relationship contract (EIP-712 `verifyingContract`: a signature counts on one network only). */
  relationshipContract: Address;
  relationship: Hex;
  patient: Address;
  delegate: Address;
  provider: Address;
  gatekeeperUrl: string;
};

/**
 * The EIP-712 typed data of a provider's signature over a relationship. The signer is the
 * provider's audit-log account, bound to its AgentRegistry account on chain (`AuditAnchor.logOf`):
 * the gatekeeper holds that key; the registry account's own key never leaves its sealer (adr/0004).
 */
export function providerDetailsTypedData(claim: ProviderDetailsClaim) {
  return {
    domain: {
      name: "MedRec provider details",
      version: "1",
      chainId: claim.chainId,
      verifyingContract: claim.relationshipContract,
    },
    types: {
      Relationship: [
        { name: "id", type: "bytes32" },
        { name: "patient", type: "address" },
        { name: "delegate", type: "address" },
        { name: "provider", type: "address" },
        { name: "gatekeeperUrl", type: "string" },
      ],
    },
    primaryType: "Relationship",
    message: {
      id: claim.relationship,
      patient: claim.patient,
      delegate: claim.delegate,
      provider: claim.provider,
      gatekeeperUrl: claim.gatekeeperUrl,
    },
  } as const;
}

/**
 * Provider details signed for one relationship, ready for {@link sealJson}: `provider` as the dapp
 * shows it, `signer` the provider's audit-log account (see {@link providerDetailsTypedData}).
 *
 * @example
 * const details = await signProviderDetails({ signer, provider, chainId, relationshipContract, relationship, patient, delegate })
 * sealJson(details, patientEncryptionKey)
 */
export async function signProviderDetails({
  signer,
  provider,
  ...claim
}: Omit<ProviderDetailsClaim, "provider" | "gatekeeperUrl"> & {
  signer: Pick<LocalAccount, "signTypedData">;
  provider: { name: string; gatekeeperUrl: string; account: Address };
}): Promise<ProviderDetails> {
  const signature = await signer.signTypedData(
    providerDetailsTypedData({ ...claim, provider: provider.account, gatekeeperUrl: provider.gatekeeperUrl }),
  );
  return {
    v: 1,
    name: provider.name,
    gatekeeperUrl: provider.gatekeeperUrl,
    account: provider.account,
    signature,
  };
}

/**
 * The account that signed `details` for this relationship, or undefined when they carry no valid
 * signature. The caller compares it with the key the chain binds to `details.account`.
 */
export async function providerDetailsSigner(
  details: ProviderDetails,
  claim: Omit<ProviderDetailsClaim, "provider" | "gatekeeperUrl">,
): Promise<Address | undefined> {
  if (!details.signature) return undefined;
  try {
    return await recoverTypedDataAddress({
      ...providerDetailsTypedData({
        ...claim,
        provider: details.account,
        gatekeeperUrl: details.gatekeeperUrl,
      }),
      signature: details.signature,
    });
  } catch {
    return undefined;
  }
}
