import { type Address, getAddress, type Hex, isAddressEqual, recoverMessageAddress } from "viem";
import { createSiweMessage, parseSiweMessage } from "viem/siwe";
import { BaseError } from "./errors.ts";

/** How far in the future `issued-at` may be (clock skew), in ms. */
export const ISSUED_AT_MAX_SKEW_MS = 60_000;

/** Longest session a sign-in may open, in ms (docs/protocol.md: ≤ 1 h). */
export const SESSION_MAX_LIFETIME_MS = 3_600_000;

/** Longest a nonce may stay valid after issue, in ms (docs/protocol.md: ≤ 5 min). */
export const NONCE_MAX_AGE_MS = 300_000;

/** Fewest characters of a nonce. */
export const NONCE_MIN_LENGTH = 16;

const NONCE_REGEX = /^[a-zA-Z0-9]+$/;
const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Why a sign-in was refused. Stable: gatekeepers log it and tests match it. */
export type SignInFailureReason =
  | "malformed"
  | "signature"
  | "domain"
  | "scheme"
  | "uri"
  | "chain-id"
  | "nonce"
  | "issued-at"
  | "expiration-missing"
  | "expired"
  | "not-before";

const REASON_MESSAGES: Record<SignInFailureReason, string> = {
  malformed: "The sign-in message is not a well-formed EIP-4361 message.",
  signature: "The signature does not recover the message's address.",
  domain: "The sign-in message is for another domain.",
  scheme: "The sign-in message is for another scheme.",
  uri: "The sign-in message's URI is not under this gatekeeper's base URL.",
  "chain-id": "The sign-in message is for another chain.",
  nonce: "The sign-in message's nonce is not valid.",
  "issued-at": "The sign-in message was issued in the future.",
  "expiration-missing": "The sign-in message has no expiration time.",
  expired: "The sign-in message has expired.",
  "not-before": "The sign-in message is not valid yet.",
};

/** Thrown by {@link verifySignIn}; `reason` says which rule failed. Maps to HTTP 401. */
export class SignInError extends BaseError {
  override name = "SignInError";
  /** The rule that failed. */
  readonly reason: SignInFailureReason;
  constructor({
    reason,
    details,
    cause,
  }: { reason: SignInFailureReason; details?: string; cause?: unknown }) {
    super(REASON_MESSAGES[reason], { details, cause });
    this.reason = reason;
  }
}

/** Thrown by {@link buildSignInMessage} for parameters that cannot make a valid message. */
export class InvalidSignInParametersError extends BaseError {
  override name = "InvalidSignInParametersError";
}

/** Whether `nonce` has the form docs/protocol.md requires: at least 16 alphanumerics. */
export function isValidNonce(nonce: unknown): nonce is string {
  return typeof nonce === "string" && nonce.length >= NONCE_MIN_LENGTH && NONCE_REGEX.test(nonce);
}

/**
 * A fresh nonce: 32 alphanumerics from the platform CSPRNG (≈190 bits).
 *
 * Not viem's `generateSiweNonce`, which draws from `Math.random`.
 */
export function generateNonce(length = 32): string {
  if (!Number.isInteger(length) || length < NONCE_MIN_LENGTH)
    throw new InvalidSignInParametersError(`A nonce needs at least ${NONCE_MIN_LENGTH} characters.`);
  let nonce = "";
  const bytes = new Uint8Array(length * 2);
  while (nonce.length < length) {
    crypto.getRandomValues(bytes);
    for (const byte of bytes) {
      // Rejection sampling: 248 = 4 × 62 keeps every character equally likely.
      if (byte < 248 && nonce.length < length) nonce += ALPHANUMERIC[byte % 62];
    }
  }
  return nonce;
}

/** Parameters of {@link buildSignInMessage}. */
export type BuildSignInMessageParameters = {
  /** The patient's (or staff) account; any case. */
  address: string;
  /** The gatekeeper's host[:port], e.g. `new URL(gatekeeperUrl).host`. */
  domain: string;
  /** A URI under the gatekeeper's base URL, usually the base URL itself. */
  uri: string;
  /** The MedRec network's chain id. */
  chainId: number;
  /** The nonce from `GET /v1/auth/nonce`. */
  nonce: string;
  /** When the message was made. */
  issuedAt: Date;
  /** When the message stops being accepted (required by MedRec). */
  expirationTime: Date;
  /** Optional human-readable statement (one line). */
  statement?: string | undefined;
  /** Optional time before which the message is not accepted. */
  notBefore?: Date | undefined;
  /** Optional URI scheme of `domain`, e.g. `https`. */
  scheme?: string | undefined;
  /** Optional request id. */
  requestId?: string | undefined;
  /** Optional resource URIs. */
  resources?: string[] | undefined;
};

/**
 * Builds the EIP-4361 text the dapp asks the wallet to sign (viem's `createSiweMessage`).
 *
 * @throws {InvalidSignInParametersError} for an invalid address, domain, URI, nonce or dates.
 * @example
 * const message = buildSignInMessage({
 *   address, domain: new URL(gatekeeperUrl).host, uri: gatekeeperUrl, chainId: 633732, nonce,
 *   issuedAt: new Date(), expirationTime: new Date(Date.now() + 10 * 60_000),
 * })
 */
export function buildSignInMessage(parameters: BuildSignInMessageParameters): string {
  const { address, domain, uri, chainId, nonce, issuedAt, expirationTime, notBefore } = parameters;
  if (!isValidNonce(nonce))
    throw new InvalidSignInParametersError(`The nonce must be at least ${NONCE_MIN_LENGTH} alphanumerics.`);
  for (const [field, date] of [
    ["issuedAt", issuedAt],
    ["expirationTime", expirationTime],
    ["notBefore", notBefore],
  ] as const)
    if (date !== undefined && (!(date instanceof Date) || Number.isNaN(date.getTime())))
      throw new InvalidSignInParametersError(`${field} must be a valid Date.`);
  if (!Number.isSafeInteger(chainId) || chainId <= 0)
    throw new InvalidSignInParametersError("chainId must be a positive integer.");
  try {
    return createSiweMessage({
      address: getAddress(address.toLowerCase()),
      domain,
      uri,
      chainId,
      nonce,
      issuedAt,
      expirationTime,
      version: "1",
      ...(parameters.statement ? { statement: parameters.statement } : {}),
      ...(notBefore ? { notBefore } : {}),
      ...(parameters.scheme ? { scheme: parameters.scheme } : {}),
      ...(parameters.requestId ? { requestId: parameters.requestId } : {}),
      ...(parameters.resources ? { resources: parameters.resources } : {}),
    });
  } catch (cause) {
    throw new InvalidSignInParametersError("Cannot build the sign-in message.", { cause });
  }
}

/**
 * The whole message, line by line, as EIP-4361's ABNF lays it out. viem's parser is lenient
 * (unanchored, ignores extra lines); a message must match this before its fields are trusted.
 */
const STRICT_SIWE_REGEX = new RegExp(
  [
    "^(?:(?<scheme>[a-zA-Z][a-zA-Z0-9+\\-.]*)://)?(?<domain>[^\\s/?#@]+) wants you to sign in with your Ethereum account:\\n",
    "(?<address>0x[a-fA-F0-9]{40})\\n\\n",
    "(?:(?<statement>[^\\n]+)\\n)?\\n",
    "URI: (?<uri>[^\\s]+)\\n",
    "Version: 1\\n",
    "Chain ID: (?<chainId>[0-9]+)\\n",
    "Nonce: (?<nonce>[a-zA-Z0-9]+)\\n",
    "Issued At: (?<issuedAt>[^\\n]+)",
    "(?:\\nExpiration Time: (?<expirationTime>[^\\n]+))?",
    "(?:\\nNot Before: (?<notBefore>[^\\n]+))?",
    "(?:\\nRequest ID: (?<requestId>[^\\n]*))?",
    "(?:\\nResources:(?:\\n- [^\\s]+)*)?$",
  ].join(""),
);

/** The fields of a parsed, well-formed sign-in message. */
export type SignInMessage = {
  scheme?: string;
  domain: string;
  /** EIP-55 checksummed. */
  address: Address;
  statement?: string;
  uri: string;
  chainId: number;
  nonce: string;
  issuedAt: Date;
  expirationTime?: Date;
  notBefore?: Date;
  requestId?: string;
  resources?: string[];
};

/**
 * Parses an EIP-4361 message strictly (viem's `parseSiweMessage`, checked against the full
 * grammar: nothing missing, nothing extra, valid RFC 3339 dates).
 *
 * @throws {SignInError} with reason `malformed`.
 */
export function parseSignInMessage(message: unknown): SignInMessage {
  const malformed = (details: string) => new SignInError({ reason: "malformed", details });
  if (typeof message !== "string") throw malformed("message is not a string");
  if (message.length > 4096) throw malformed("message is too long");
  const strict = STRICT_SIWE_REGEX.exec(message)?.groups;
  if (!strict) throw malformed("message does not follow the EIP-4361 layout");
  const parsed = parseSiweMessage(message);
  // The two parsers must agree on every field that is checked.
  for (const field of ["domain", "address", "uri", "nonce", "scheme", "statement", "requestId"] as const)
    if ((parsed[field] ?? undefined) !== (strict[field] || undefined)) throw malformed(`ambiguous ${field}`);
  if (parsed.version !== "1") throw malformed("version is not 1");
  const chainId = parsed.chainId;
  if (chainId === undefined || !Number.isSafeInteger(chainId) || String(chainId) !== strict.chainId)
    throw malformed("invalid chain id");
  const dates = {
    issuedAt: parsed.issuedAt,
    expirationTime: parsed.expirationTime,
    notBefore: parsed.notBefore,
  };
  for (const [field, date] of Object.entries(dates))
    if (strict[field] !== undefined && (date === undefined || Number.isNaN(date.getTime())))
      throw malformed(`${field} is not an RFC 3339 date-time`);
  if (!parsed.domain || !parsed.address || !parsed.uri || !parsed.nonce || !parsed.issuedAt)
    throw malformed("a required field is missing");
  return {
    domain: parsed.domain,
    address: getAddress(parsed.address.toLowerCase()),
    uri: parsed.uri,
    chainId,
    nonce: parsed.nonce,
    issuedAt: parsed.issuedAt,
    ...(parsed.scheme ? { scheme: parsed.scheme } : {}),
    ...(parsed.statement ? { statement: parsed.statement } : {}),
    ...(parsed.expirationTime ? { expirationTime: parsed.expirationTime } : {}),
    ...(parsed.notBefore ? { notBefore: parsed.notBefore } : {}),
    ...(parsed.requestId !== undefined ? { requestId: parsed.requestId } : {}),
    ...(parsed.resources ? { resources: parsed.resources } : {}),
  };
}

/**
 * Whether `uri` is under `baseUrl`: same origin (scheme, host, port), no user info, and a path
 * equal to the base path or below it segment-wise (`/v1` covers `/v1/x`, not `/v1x`).
 */
export function isUriUnderBaseUrl(uri: string, baseUrl: string): boolean {
  let target: URL;
  let base: URL;
  try {
    target = new URL(uri);
    base = new URL(baseUrl);
  } catch {
    return false;
  }
  if (target.username || target.password) return false;
  if (target.origin === "null" || target.origin !== base.origin) return false;
  const withSlash = (path: string) => (path.endsWith("/") ? path : `${path}/`);
  return withSlash(target.pathname).startsWith(withSlash(base.pathname));
}

/**
 * When a session opened now with a message expiring at `expirationTime` must end: the earlier
 * of the two, and never more than {@link SESSION_MAX_LIFETIME_MS} from now.
 */
export function sessionExpiry({
  expirationTime,
  now,
  maxLifetimeMs = SESSION_MAX_LIFETIME_MS,
}: {
  expirationTime: Date;
  now: Date;
  maxLifetimeMs?: number;
}): Date {
  return new Date(
    Math.min(expirationTime.getTime(), now.getTime() + Math.min(maxLifetimeMs, SESSION_MAX_LIFETIME_MS)),
  );
}

/** Parameters of {@link verifySignIn}. */
export type VerifySignInParameters = {
  /** The EIP-4361 text from `POST /v1/auth/session`. */
  message: unknown;
  /** Its signature, `0x…`. */
  signature: unknown;
  expected: {
    /** The gatekeeper's base URL (its `gatekeeperUrl`). */
    baseUrl: string;
    /** Its host[:port]; defaults to `new URL(baseUrl).host`. */
    domain?: string | undefined;
    /** The network's chain id. */
    chainId: number;
  };
  /** The current time. */
  now: Date;
};

/** A verified sign-in. The caller still has to consume `nonce` (single use). */
export type VerifySignInReturnType = SignInMessage & {
  /** The signer, EIP-55. */
  address: Address;
  expirationTime: Date;
  /** When the session must end (≤ 1 h from `now`, ≤ `expirationTime`). */
  sessionExpiresAt: Date;
};

/**
 * Checks a sign-in against every rule of docs/protocol.md "Signing in" except nonce bookkeeping, which
 * is the gatekeeper's (the nonce must have been issued there, be unexpired and unused, and be
 * consumed even when this throws). Pure: no I/O, time passed in.
 *
 * @throws {SignInError} whose `reason` names the first rule that failed.
 * @example
 * const { address, nonce, sessionExpiresAt } = await verifySignIn({
 *   message, signature, expected: { baseUrl: config.publicUrl, chainId }, now: new Date(),
 * })
 */
export async function verifySignIn({
  message,
  signature,
  expected,
  now,
}: VerifySignInParameters): Promise<VerifySignInReturnType> {
  const fields = parseSignInMessage(message);
  const text = message as string;

  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{128}(?:[0-9a-fA-F]{2})?$/.test(signature))
    throw new SignInError({ reason: "signature", details: "signature is not 64 or 65 hex bytes" });
  let signer: Address;
  try {
    signer = await recoverMessageAddress({ message: text, signature: signature as Hex });
  } catch (cause) {
    throw new SignInError({ reason: "signature", cause });
  }
  if (!isAddressEqual(signer, fields.address)) throw new SignInError({ reason: "signature" });

  let base: URL;
  try {
    base = new URL(expected.baseUrl);
  } catch (cause) {
    // A misconfigured gatekeeper, not a bad client: fail closed all the same.
    throw new SignInError({ reason: "uri", details: "the expected base URL is invalid", cause });
  }
  const domain = expected.domain ?? base.host;
  if (fields.domain !== domain) throw new SignInError({ reason: "domain", details: `expected ${domain}` });
  if (fields.scheme !== undefined && `${fields.scheme.toLowerCase()}:` !== base.protocol)
    throw new SignInError({ reason: "scheme", details: `expected ${base.protocol.slice(0, -1)}` });
  if (!isUriUnderBaseUrl(fields.uri, expected.baseUrl))
    throw new SignInError({ reason: "uri", details: `expected a URI under ${expected.baseUrl}` });
  if (fields.chainId !== expected.chainId)
    throw new SignInError({ reason: "chain-id", details: `expected ${expected.chainId}` });
  if (!isValidNonce(fields.nonce))
    throw new SignInError({
      reason: "nonce",
      details: `expected at least ${NONCE_MIN_LENGTH} alphanumerics`,
    });

  const nowMs = now.getTime();
  // An invalid clock makes every comparison false; refuse rather than accept.
  if (Number.isNaN(nowMs)) throw new SignInError({ reason: "expired", details: "invalid current time" });
  if (fields.issuedAt.getTime() - nowMs > ISSUED_AT_MAX_SKEW_MS)
    throw new SignInError({ reason: "issued-at" });
  if (fields.expirationTime === undefined) throw new SignInError({ reason: "expiration-missing" });
  if (fields.expirationTime.getTime() <= nowMs) throw new SignInError({ reason: "expired" });
  if (fields.notBefore !== undefined && fields.notBefore.getTime() > nowMs)
    throw new SignInError({ reason: "not-before" });

  return {
    ...fields,
    address: getAddress(signer),
    expirationTime: fields.expirationTime,
    sessionExpiresAt: sessionExpiry({ expirationTime: fields.expirationTime, now }),
  };
}
