import { validateMnemonic } from "@scure/bip39";
import { type Address, getAddress, isAddress } from "viem";
import {
  english,
  generateMnemonic,
  type HDAccount,
  HDKey,
  hdKeyToAccount,
  mnemonicToAccount,
} from "viem/accounts";
import { BaseError } from "./errors.ts";

/** Number of words of a patient mnemonic (docs/protocol.md "Keys and addresses"). */
export const MNEMONIC_WORDS = 12;

/** Thrown for a mnemonic that is not a valid 12-word BIP39 English mnemonic. */
export class InvalidMnemonicError extends BaseError {
  override name = "InvalidMnemonicError";
  constructor({ reason }: { reason: string }) {
    // Never echo the mnemonic: it is a secret.
    super("Invalid recovery phrase: expected 12 words of the BIP39 English list with a valid checksum.", {
      details: reason,
    });
  }
}

/** Thrown for an account index outside `[0, 2^31)`. */
export class InvalidAccountIndexError extends BaseError {
  override name = "InvalidAccountIndexError";
  constructor({ index }: { index: unknown }) {
    super(`Invalid account index ${String(index)}: expected an integer from 0 to 2147483647.`);
  }
}

/** Thrown for a value that is not a 20-byte hex address. */
export class InvalidAddressError extends BaseError {
  override name = "InvalidAddressError";
  constructor({ address }: { address: unknown }) {
    super(
      `Invalid address ${typeof address === "string" ? JSON.stringify(address.slice(0, 60)) : String(address)}: expected 0x followed by 40 hex digits.`,
    );
  }
}

/**
 * Normalises a mnemonic typed by a person: Unicode NFKD, lower case, single spaces.
 *
 * @throws {InvalidMnemonicError} unless it is 12 English BIP39 words with a valid checksum.
 */
export function normalizeMnemonic(mnemonic: string): string {
  if (typeof mnemonic !== "string") throw new InvalidMnemonicError({ reason: "not a string" });
  const words = mnemonic.normalize("NFKD").trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length !== MNEMONIC_WORDS)
    throw new InvalidMnemonicError({ reason: `${words.length} words, expected ${MNEMONIC_WORDS}` });
  const unknown = words.filter((word) => !english.includes(word)).length;
  if (unknown > 0) throw new InvalidMnemonicError({ reason: `${unknown} word(s) not in the English list` });
  const normalized = words.join(" ");
  if (!validateMnemonic(normalized, english)) throw new InvalidMnemonicError({ reason: "checksum mismatch" });
  return normalized;
}

/** Whether `mnemonic` is a valid 12-word BIP39 English mnemonic (after normalisation). */
export function isValidMnemonic(mnemonic: string): boolean {
  try {
    normalizeMnemonic(mnemonic);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh 12-word BIP39 English mnemonic (128 bits of entropy from the platform CSPRNG).
 *
 * @example const mnemonic = generatePatientMnemonic()
 */
export function generatePatientMnemonic(): string {
  return generateMnemonic(english, 128);
}

/**
 * The account at `m/44'/60'/0'/0/index` of a mnemonic — the path MetaMask uses.
 *
 * @throws {InvalidMnemonicError} for an invalid mnemonic.
 * @throws {InvalidAccountIndexError} for an index outside `[0, 2^31)`.
 * @example accountFromMnemonic("abandon … about").address // "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
 */
export function accountFromMnemonic(mnemonic: string, index = 0): HDAccount {
  checkIndex(index);
  return mnemonicToAccount(normalizeMnemonic(mnemonic), { addressIndex: index });
}

function checkIndex(index: number) {
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** 31)
    throw new InvalidAccountIndexError({ index });
}

/**
 * Computes the secp256k1 tables that the first key derivation of a page would otherwise compute
 * (about 100 ms of JavaScript, once per page): call it while the page waits for something else —
 * the dapp does while the browser stretches the password — so that unlocking does not wait for it.
 */
export function warmUpKeyDerivation(): void {
  HDKey.fromMasterSeed(WARM_UP_SEED);
}
const WARM_UP_SEED = new Uint8Array(32).fill(7);

/**
 * {@link accountFromMnemonic} with the BIP-39 seed (PBKDF2-HMAC-SHA512, 2,048 rounds, salt
 * "mnemonic") computed by the platform's WebCrypto instead of in JavaScript: the same account,
 * without holding a page's main thread for the 2,048 rounds.
 *
 * @throws {InvalidMnemonicError} for an invalid mnemonic.
 * @throws {InvalidAccountIndexError} for an index outside `[0, 2^31)`.
 */
export async function accountFromMnemonicAsync(mnemonic: string, index = 0): Promise<HDAccount> {
  checkIndex(index);
  const words = normalizeMnemonic(mnemonic);
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return accountFromMnemonic(words, index);
  const encoder = new TextEncoder();
  const key = await subtle.importKey("raw", encoder.encode(words), "PBKDF2", false, ["deriveBits"]);
  const seed = await subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-512", salt: encoder.encode("mnemonic"), iterations: 2048 },
    key,
    512,
  );
  return hdKeyToAccount(HDKey.fromMasterSeed(new Uint8Array(seed)), { addressIndex: index });
}

/**
 * An address in EIP-55 checksum form. Accepts any case (docs/protocol.md: addresses are accepted in
 * any case and returned checksummed).
 *
 * @throws {InvalidAddressError} unless `input` is `0x` + 40 hex digits.
 * @example toChecksumAddress("0x9858effd232b4033e47d90003d41ec34ecaeda94") // "0x9858EfFD…"
 */
export function toChecksumAddress(input: unknown): Address {
  if (typeof input !== "string" || !/^0[xX][0-9a-fA-F]{40}$/.test(input))
    throw new InvalidAddressError({ address: input });
  const lower = `0x${input.slice(2).toLowerCase()}`;
  if (!isAddress(lower, { strict: false })) throw new InvalidAddressError({ address: input });
  return getAddress(lower);
}
