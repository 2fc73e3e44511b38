import {
  createCipheriv,
  createDecipheriv,
  pbkdf2,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { bytesToHex, type Hex, hexToBytes, keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { BaseError } from "./errors.ts";

const scryptAsync = promisify(scrypt) as (
  password: string | Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;
const pbkdf2Async = promisify(pbkdf2);

/**
 * scrypt cost of a new keystore. `standard` is geth's own (N=2^18, r=8, p=1: ~1 s and 256 MiB to
 * unlock); `light` is geth's `--lightkdf` (N=2^12, p=6), for throw-away test keys only.
 */
export type ScryptStrength = "standard" | "light";
const SCRYPT: Record<ScryptStrength, { n: number; r: number; p: number }> = {
  standard: { n: 1 << 18, r: 8, p: 1 },
  light: { n: 1 << 12, r: 8, p: 6 },
};

/** An Ethereum keystore V3 file (the Web3 Secret Storage format geth reads from `--keystore`). */
export type KeystoreV3 = {
  address: string;
  crypto: {
    cipher: "aes-128-ctr";
    ciphertext: string;
    cipherparams: { iv: string };
    kdf: "scrypt" | "pbkdf2";
    kdfparams: Record<string, number | string>;
    mac: string;
  };
  id: string;
  version: 3;
};

/** Thrown when a keystore cannot be read or the password is wrong. */
export class KeystoreError extends BaseError {
  override name = "KeystoreError" as const;
}

/** Parameters of {@link createSealerKey}. */
export type CreateSealerKeyParameters = {
  /** Directory to hold `keystore/` and `password` (created 0700 if missing). */
  dir: string;
  /** Password for the keystore. Default: 32 random bytes, base64url. Never logged. */
  password?: string;
  /** scrypt cost. Default `standard`. */
  scrypt?: ScryptStrength;
};

/** What {@link createSealerKey} wrote. Holds no secret. */
export type SealerKey = {
  /** The sealer's account, EIP-55. */
  address: `0x${string}`;
  /** The keystore directory (pass as `--keystore`). */
  keystoreDir: string;
  /** The keystore file inside it. */
  keystorePath: string;
  /** The password file (pass as `--password`). */
  passwordPath: string;
};

/**
 * Creates a sealer account: a random secp256k1 key, encrypted into a keystore V3 file that geth
 * 1.13 unlocks with `--unlock <address> --password <file>`, plus that password file.
 * Directories are 0700 and files 0600; neither the key nor the password is ever printed.
 */
export async function createSealerKey(parameters: CreateSealerKeyParameters): Promise<SealerKey> {
  const { dir } = parameters;
  const password = parameters.password ?? randomBytes(32).toString("base64url");
  const privateKey = generatePrivateKey();
  const keystore = await encryptKeystore(privateKey, password, parameters.scrypt ?? "standard");
  const address = privateKeyToAccount(privateKey).address;

  const keystoreDir = join(dir, "keystore");
  await makePrivateDir(dir);
  await makePrivateDir(keystoreDir);
  // geth's own naming: UTC--<RFC3339 with - for :>--<address>
  const stamp = new Date().toISOString().replace(/:/g, "-");
  const keystorePath = join(keystoreDir, `UTC--${stamp}--${keystore.address}`);
  const passwordPath = join(dir, "password");
  await writePrivateFile(keystorePath, JSON.stringify(keystore));
  await writePrivateFile(passwordPath, password);
  return { address, keystoreDir, keystorePath, passwordPath };
}

/** Encrypts a private key into keystore V3 JSON (scrypt + aes-128-ctr, keccak-256 MAC). */
export async function encryptKeystore(
  privateKey: Hex,
  password: string,
  strength: ScryptStrength = "standard",
): Promise<KeystoreV3> {
  const { n, r, p } = SCRYPT[strength];
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = await scryptAsync(password.normalize("NFKC"), salt, 32, {
    N: n,
    r,
    p,
    maxmem: 512 * 1024 * 1024,
  });
  const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(hexToBytes(privateKey)), cipher.final()]);
  const mac = keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext]));
  return {
    address: privateKeyToAccount(privateKey).address.slice(2).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      ciphertext: ciphertext.toString("hex"),
      cipherparams: { iv: iv.toString("hex") },
      kdf: "scrypt",
      kdfparams: { dklen: 32, n, p, r, salt: salt.toString("hex") },
      mac: mac.slice(2),
    },
    id: randomUUID(),
    version: 3,
  };
}

/**
 * Decrypts keystore V3 JSON (scrypt or pbkdf2-hmac-sha256) and returns the private key.
 *
 * @throws {KeystoreError} on a wrong password (MAC mismatch) or an unsupported file.
 */
export async function decryptKeystore(keystore: KeystoreV3, password: string): Promise<Hex> {
  const c = keystore.crypto;
  if (keystore.version !== 3 || c?.cipher !== "aes-128-ctr") {
    throw new KeystoreError("Unsupported keystore: expected version 3 with aes-128-ctr.");
  }
  const kp = c.kdfparams;
  const salt = Buffer.from(String(kp.salt), "hex");
  const dklen = Number(kp.dklen);
  let derived: Buffer;
  if (c.kdf === "scrypt") {
    const [N, r, p] = [Number(kp.n), Number(kp.r), Number(kp.p)];
    derived = await scryptAsync(password.normalize("NFKC"), salt, dklen, {
      N,
      r,
      p,
      maxmem: 128 * r * (N + p + 2) + 32 * 1024 * 1024,
    });
  } else if (c.kdf === "pbkdf2" && kp.prf === "hmac-sha256") {
    derived = await pbkdf2Async(password, salt, Number(kp.c), dklen, "sha256");
  } else {
    throw new KeystoreError(`Unsupported keystore key derivation: ${String(c.kdf)}.`);
  }
  const ciphertext = Buffer.from(c.ciphertext, "hex");
  const mac = hexToBytes(keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])));
  const expected = Buffer.from(c.mac, "hex");
  if (expected.length !== mac.length || !timingSafeEqual(mac, expected)) {
    throw new KeystoreError("Could not decrypt the keystore: wrong password.");
  }
  const decipher = createDecipheriv(
    "aes-128-ctr",
    derived.subarray(0, 16),
    Buffer.from(c.cipherparams.iv, "hex"),
  );
  return bytesToHex(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
}

/** Reads and decrypts a keystore file. */
export async function readKeystore(path: string, password: string): Promise<Hex> {
  let json: KeystoreV3;
  try {
    json = JSON.parse(await readFile(path, "utf8")) as KeystoreV3;
  } catch (cause) {
    throw new KeystoreError(`Could not read the keystore file ${path}.`, { cause });
  }
  return decryptKeystore(json, password);
}

/** A p2p node key and the enode id it gives. */
export type NodeKey = {
  /** The key file (64 hex chars, as geth's `--nodekey` reads it), 0600. */
  path: string;
  /** The node id: the uncompressed public key without its 04 prefix, 128 hex chars. */
  nodeId: string;
};

/**
 * Creates a node's p2p identity up front so every peer's `enode://` URL is known before any geth
 * starts (static peering needs it). Reuses an existing key file.
 */
export async function ensureNodeKey(path: string): Promise<NodeKey> {
  let hex: string;
  try {
    hex = (await readFile(path, "utf8")).trim();
  } catch {
    hex = generatePrivateKey().slice(2);
    await writePrivateFile(path, hex);
  }
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new KeystoreError(`Invalid node key file ${path}.`);
  return { path, nodeId: privateKeyToAccount(`0x${hex}`).publicKey.slice(4) };
}

/** `mkdir -p` then chmod 0700 (the mode given to mkdir is filtered by the umask). */
export async function makePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

/** Writes a new file readable only by its owner; refuses to overwrite. */
export async function writePrivateFile(path: string, data: string): Promise<void> {
  await writeFile(path, data, { mode: 0o600, flag: "wx" });
  await chmod(path, 0o600);
}
