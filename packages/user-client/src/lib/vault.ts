/**
 * The vault: the patient's 12 words encrypted under their password, with WebCrypto only.
 *
 * - Key: PBKDF2-SHA256 over the password, a random 16-byte salt, at least 600,000 iterations
 *   (OWASP's 2023 figure for PBKDF2-HMAC-SHA256) → a non-extractable AES-256-GCM key.
 * - Cipher: AES-256-GCM, a random 12-byte IV per encryption; the stored address is bound as
 *   additional data, so a vault cannot be re-labelled with another account's address.
 * - Stored: only the parameters, the ciphertext and the public address — never the password,
 *   the words or a key.
 */
import { z } from "zod";

/** The least PBKDF2 iteration count this dapp writes or accepts. */
export const MIN_PBKDF2_ITERATIONS = 600_000;
/** What new vaults use. */
export const PBKDF2_ITERATIONS = 600_000;
const SALT_BYTES = 16;
const IV_BYTES = 12;

const base64Schema = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/);

export const vaultRecordSchema = z.object({
  version: z.literal(1),
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  kdf: z.object({
    name: z.literal("PBKDF2"),
    hash: z.literal("SHA-256"),
    iterations: z.number().int().min(MIN_PBKDF2_ITERATIONS),
    salt: base64Schema,
  }),
  cipher: z.object({ name: z.literal("AES-GCM"), iv: base64Schema }),
  ciphertext: base64Schema,
  createdAt: z.string(),
});

/** What the vault stores: public parameters, the address, the ciphertext. */
export type VaultRecord = z.output<typeof vaultRecordSchema>;

/** The password did not open the vault (or the vault was altered). */
export class WrongPasswordError extends Error {
  override name = "WrongPasswordError";
  constructor() {
    super("That password does not open this wallet. Check it and try again.");
  }
}

/** A stored vault that this dapp cannot read (damaged, or weaker than it accepts). */
export class InvalidVaultError extends Error {
  override name = "InvalidVaultError";
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function deriveKey(
  password: string,
  salt: Uint8Array<ArrayBuffer>,
  iterations: number,
  whileStretching?: () => void,
) {
  const material = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password.normalize("NFKC")),
    "PBKDF2",
    false,
    ["deriveKey"],
  );
  const key = crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
  // The browser stretches the password off the main thread (a few hundred ms): time for other work.
  whileStretching?.();
  return key;
}

/** Encrypts `secret` (the 12 words) under `password`, labelled with the account's `address`. */
export async function sealVault({
  secret,
  password,
  address,
  iterations = PBKDF2_ITERATIONS,
}: {
  secret: string;
  password: string;
  address: string;
  iterations?: number;
}): Promise<VaultRecord> {
  if (iterations < MIN_PBKDF2_ITERATIONS)
    throw new InvalidVaultError(`PBKDF2 needs at least ${MIN_PBKDF2_ITERATIONS} iterations.`);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await deriveKey(password, salt, iterations);
  const plaintext = new TextEncoder().encode(secret);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(address.toLowerCase()) },
      key,
      plaintext,
    ),
  );
  plaintext.fill(0);
  return {
    version: 1,
    address,
    kdf: { name: "PBKDF2", hash: "SHA-256", iterations, salt: toBase64(salt) },
    cipher: { name: "AES-GCM", iv: toBase64(iv) },
    ciphertext: toBase64(ciphertext),
    createdAt: new Date().toISOString(),
  };
}

/**
 * Decrypts a vault with `password`.
 *
 * @throws {WrongPasswordError} the password is wrong (or the record was altered).
 * @throws {InvalidVaultError} the record is not a vault this dapp accepts.
 */
export async function openVault(
  record: unknown,
  password: string,
  /** Runs on the main thread while the browser stretches the password. */
  whileStretching?: () => void,
): Promise<string> {
  const parsed = vaultRecordSchema.safeParse(record);
  if (!parsed.success)
    throw new InvalidVaultError(
      "The wallet saved in this browser is damaged or too weakly protected. Restore it from your 12 words.",
    );
  const vault = parsed.data;
  const key = await deriveKey(password, fromBase64(vault.kdf.salt), vault.kdf.iterations, whileStretching);
  try {
    const plaintext = new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: fromBase64(vault.cipher.iv),
          additionalData: new TextEncoder().encode(vault.address.toLowerCase()),
        },
        key,
        fromBase64(vault.ciphertext),
      ),
    );
    const secret = new TextDecoder().decode(plaintext);
    plaintext.fill(0);
    return secret;
  } catch {
    throw new WrongPasswordError();
  }
}

/** How strong a password looks, for a hint (not a gate beyond the minimum length). */
export type PasswordStrength = { score: 0 | 1 | 2 | 3 | 4; label: string; hint: string; acceptable: boolean };

/** The least password length accepted. */
export const MIN_PASSWORD_LENGTH = 10;

/** A plain-language strength hint: length and variety, with a nudge towards pass-phrases. */
export function passwordStrength(password: string): PasswordStrength {
  if (password.length === 0)
    return {
      score: 0,
      label: "Empty",
      hint: `Use at least ${MIN_PASSWORD_LENGTH} characters.`,
      acceptable: false,
    };
  if (password.length < MIN_PASSWORD_LENGTH)
    return {
      score: 1,
      label: "Too short",
      hint: `Add ${MIN_PASSWORD_LENGTH - password.length} more character${MIN_PASSWORD_LENGTH - password.length === 1 ? "" : "s"}.`,
      acceptable: false,
    };
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(password)).length;
  const words = password.trim().split(/\s+/).length;
  const repeated = /(.)\1{3,}/.test(password) || /^(?:password|123456|qwerty)/i.test(password);
  let score =
    (password.length >= 16 ? 2 : 1) + (classes >= 3 || words >= 4 ? 1 : 0) + (password.length >= 20 ? 1 : 0);
  if (repeated) score = Math.min(score, 1);
  const clamped = Math.max(1, Math.min(4, score)) as 1 | 2 | 3 | 4;
  const labels = { 1: "Weak", 2: "Fair", 3: "Good", 4: "Strong" } as const;
  const hints = {
    1: "Avoid repeated characters and common passwords. A few unrelated words work well.",
    2: "Longer is stronger: try four unrelated words.",
    3: "Good. A few more characters would make it strong.",
    4: "Hard to guess — a good choice.",
  } as const;
  return { score: clamped, label: labels[clamped], hint: hints[clamped], acceptable: clamped >= 2 };
}
