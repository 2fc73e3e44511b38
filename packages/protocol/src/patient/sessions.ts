/**
 * One SIWE session per gatekeeper, signed in on first use and again when it is about to expire.
 * Shared by the records, the access log and the notifications so that each provider sees one
 * sign-in, not one per call.
 */
import { type GatekeeperSession, signIn } from "../client.ts";
import type { PatientContext } from "./network.ts";

/** Sign in again this long before a session expires. */
const RENEW_BEFORE_MS = 60_000;

export type PatientSessions = {
  /** A current session at `gatekeeperUrl` (signs in when there is none or it is about to expire). */
  token(gatekeeperUrl: string): Promise<string>;
  /** Forgets the session at `gatekeeperUrl` (after a 401, say). */
  forget(gatekeeperUrl: string): void;
};

/** A session cache for `ctx.account`. */
export function createPatientSessions(ctx: PatientContext): PatientSessions {
  const sessions = new Map<string, Promise<GatekeeperSession>>();
  const key = (url: string) => url.replace(/\/+$/, "");
  return {
    async token(gatekeeperUrl) {
      const k = key(gatekeeperUrl);
      const cached = sessions.get(k);
      if (cached) {
        try {
          const session = await cached;
          if (Date.parse(session.expiresAt) - Date.now() > RENEW_BEFORE_MS) return session.token;
        } catch {
          // signed in badly before: try again below
        }
      }
      const fresh = signIn({
        gatekeeperUrl: k,
        account: ctx.account,
        chainId: ctx.network.chainId,
        ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
      });
      sessions.set(k, fresh);
      try {
        return (await fresh).token;
      } catch (error) {
        if (sessions.get(k) === fresh) sessions.delete(k);
        throw error;
      }
    },
    forget(gatekeeperUrl) {
      sessions.delete(key(gatekeeperUrl));
    },
  };
}
