import { createHash, randomBytes } from "node:crypto";
import {
  generateNonce,
  NONCE_MAX_AGE_MS,
  parseSignInMessage,
  SignInError,
  sessionRequestSchema,
  verifySignIn,
} from "@medrec/protocol";
import type { Address } from "viem";
import { getAddress } from "viem";
import { ProblemError } from "../errors.ts";
import type { AuthRepository } from "./auth.repository.knex.ts";

/** What sign-in needs to know about this gatekeeper. */
export type AuthSettings = {
  /** The gatekeeper's base URL: SIWE `domain` must be its host[:port], `uri` under it. */
  publicUrl: string;
  /** The network's chain id. */
  chainId: number;
  /** Session lifetime cap in seconds (≤ 3600; never beyond the message's expiration-time). */
  sessionTtlSeconds: number;
  /**
   * How long a verified token is trusted from memory before the database is asked again (ms).
   * Bounds how long a session ended by another process stays usable here; ending it in this
   * process takes effect at once.
   */
  sessionCacheMs?: number;
};

export type Session = { address: Address; expiresAt: Date };

/** 32 random bytes, base64url (43 characters). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const NONCE_TTL_SECONDS = Math.floor(NONCE_MAX_AGE_MS / 1000);
const MAX_CACHED_SESSIONS = 50_000;
const PURGE_EVERY_MS = 60_000;

/** SHA-256 (hex) of a bearer token: the only form in which a token is stored. */
export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("hex");

const refused = (detail: string) => new ProblemError("unauthorized", detail);
const MALFORMED = new SignInError({ reason: "malformed" }).shortMessage;
const BAD_NONCE = new SignInError({ reason: "nonce" }).shortMessage;

/**
 * The nonces a sign-in attempt names, so they can be consumed whatever the attempt's outcome:
 * the strictly parsed one, or, for a malformed message, any `Nonce:` line it carries.
 */
function noncesOf(message: unknown): { nonces: string[]; wellFormed: boolean } {
  try {
    return { nonces: [parseSignInMessage(message).nonce], wellFormed: true };
  } catch {
    if (typeof message !== "string") return { nonces: [], wellFormed: false };
    const nonces = [...message.slice(0, 8192).matchAll(/^Nonce: ([A-Za-z0-9]{16,128})$/gm)]
      .slice(0, 4)
      .map((m) => m[1] as string);
    return { nonces, wellFormed: false };
  }
}

export type AuthService = ReturnType<typeof createAuthService>;

/** Nonces, SIWE sign-in and sessions. Every refusal is a 401 ProblemError with a stable detail. */
export function createAuthService({
  repository,
  settings,
  clock = () => new Date(),
}: {
  repository: AuthRepository;
  settings: AuthSettings;
  clock?: () => Date;
}) {
  const domain = new URL(settings.publicUrl).host;
  const cacheMs = settings.sessionCacheMs ?? 2000;
  // token hash → session and when the database last confirmed it (monotonic ms).
  const cache = new Map<string, Session & { confirmedAt: number }>();
  let lastPurge = 0;

  const purgeNowAndThen = () => {
    const t = performance.now();
    if (t - lastPurge < PURGE_EVERY_MS) return;
    lastPurge = t;
    // Housekeeping only: its failure must not fail a request (nor crash the process).
    repository.purgeExpired(clock()).catch(() => undefined);
  };

  return {
    /** A fresh single-use nonce, valid for 5 minutes, stored in the database. */
    async issueNonce(): Promise<string> {
      purgeNowAndThen();
      const nonce = generateNonce();
      await repository.insertNonce(nonce, NONCE_TTL_SECONDS);
      return nonce;
    },

    /**
     * Opens a session for a signed EIP-4361 message when every docs/protocol.md rule holds. The
     * nonce is consumed first, so a failed attempt burns it too.
     *
     * @throws {ProblemError} 401 naming the rule that failed (never the values).
     */
    async signIn(body: unknown): Promise<{ token: string; address: Address; expiresAt: Date }> {
      const message = (body as { message?: unknown } | undefined)?.message;
      const { nonces, wellFormed } = noncesOf(message);
      const consumed = await Promise.all(nonces.map((n) => repository.consumeNonce(n)));
      const parsed = sessionRequestSchema.safeParse(body);
      if (!parsed.success || !wellFormed) throw refused(MALFORMED);
      if (!consumed.includes(true)) throw refused(BAD_NONCE);

      const now = clock();
      let verified: Awaited<ReturnType<typeof verifySignIn>>;
      try {
        verified = await verifySignIn({
          message: parsed.data.message,
          signature: parsed.data.signature,
          expected: { baseUrl: settings.publicUrl, domain, chainId: settings.chainId },
          now,
        });
      } catch (error) {
        if (error instanceof SignInError) throw refused(error.shortMessage);
        throw error;
      }
      const expiresAt = new Date(
        Math.min(verified.sessionExpiresAt.getTime(), now.getTime() + settings.sessionTtlSeconds * 1000),
      );
      const token = randomBytes(32).toString("base64url");
      await repository.insertSession({ tokenHash: tokenHash(token), address: verified.address, expiresAt });
      return { token, address: verified.address, expiresAt };
    },

    /** The live session of a bearer token, or undefined. */
    async session(token: string): Promise<(Session & { tokenHash: string }) | undefined> {
      if (!TOKEN.test(token)) return undefined;
      const hash = tokenHash(token);
      const now = clock().getTime();
      const t = performance.now();
      const cached = cache.get(hash);
      if (cached && t - cached.confirmedAt < cacheMs) {
        if (cached.expiresAt.getTime() > now) return { ...cached, tokenHash: hash };
        cache.delete(hash);
        return undefined;
      }
      const row = await repository.findSession(hash);
      if (!row || row.expiresAt.getTime() <= now) {
        cache.delete(hash);
        return undefined;
      }
      const session = { address: getAddress(row.address), expiresAt: row.expiresAt };
      cache.delete(hash);
      if (cache.size >= MAX_CACHED_SESSIONS) cache.delete(cache.keys().next().value as string);
      cache.set(hash, { ...session, confirmedAt: t });
      return { ...session, tokenHash: hash };
    },

    /** Ends a session (here at once; in other processes within `sessionCacheMs`). */
    async endSession(hash: string): Promise<void> {
      cache.delete(hash);
      await repository.deleteSession(hash);
      cache.delete(hash);
    },
  };
}
