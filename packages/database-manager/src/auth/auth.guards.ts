import { createHash, timingSafeEqual } from "node:crypto";
import type { RequestHandler, Response } from "express";
import { type Address, isAddressEqual } from "viem";
import { ProblemError } from "../errors.ts";
import type { Caller, Guards } from "../seams.ts";
import type { AuthService } from "./auth.service.ts";

export type GuardSettings = {
  /** Staff accounts (STAFF_ACCOUNTS): their SIWE sessions are staff. Never the provider's (sealer's) account. */
  staffAccounts: readonly Address[];
  /** The operator key (header `X-Operator-Key`); unset → the header is never accepted. */
  operatorKey?: string | undefined;
};

const BEARER = /^Bearer ([^\s]+)$/;
const NO_SESSION = "Sign in first: send Authorization: Bearer <token> from POST /v1/auth/session.";
const BAD_SESSION = "The session token is invalid, expired or ended. Sign in again.";
const BAD_OPERATOR_KEY = "The operator key is not valid.";
const NOT_STAFF = "Only this provider's staff may do this.";

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** The caller set by a guard (`res.locals.caller`). */
export function callerOf(res: Response): Caller {
  const caller = res.locals.caller as Caller | undefined;
  // A route reached without its guard is a wiring bug: refuse rather than serve.
  if (!caller) throw new ProblemError("unauthorized", NO_SESSION);
  return caller;
}

/** The token hash of the session that authenticated this request (set by `requireSession`). */
export function sessionTokenHashOf(res: Response): string {
  const hash = res.locals.sessionTokenHash as string | undefined;
  if (!hash) throw new ProblemError("unauthorized", NO_SESSION);
  return hash;
}

function unauthorized(res: Response, detail: string): ProblemError {
  res.setHeader("WWW-Authenticate", 'Bearer realm="medrec"');
  return new ProblemError("unauthorized", detail);
}

/** `requireSession` and `requireStaff` (seams.ts `Guards`). */
export function createGuards(service: AuthService, settings: GuardSettings): Guards {
  const operatorKey = settings.operatorKey === undefined ? undefined : digest(settings.operatorKey);

  const sessionOf = async (res: Response, header: string | undefined) => {
    if (header === undefined) throw unauthorized(res, NO_SESSION);
    const token = BEARER.exec(header)?.[1];
    const session = token === undefined ? undefined : await service.session(token);
    if (!session) throw unauthorized(res, BAD_SESSION);
    return session;
  };

  const requireSession: RequestHandler = async (req, res, next) => {
    const session = await sessionOf(res, req.headers.authorization);
    res.locals.caller = { kind: "session", address: session.address } satisfies Caller;
    res.locals.sessionTokenHash = session.tokenHash;
    next();
  };

  const requireStaff: RequestHandler = async (req, res, next) => {
    const key = req.headers["x-operator-key"];
    if (key !== undefined) {
      // Hashing first gives equal lengths, so the comparison takes the same time for any key.
      const ok =
        operatorKey !== undefined && typeof key === "string" && timingSafeEqual(digest(key), operatorKey);
      if (!ok) throw unauthorized(res, BAD_OPERATOR_KEY);
      res.locals.caller = { kind: "operator" } satisfies Caller;
      next();
      return;
    }
    const session = await sessionOf(res, req.headers.authorization);
    if (!settings.staffAccounts.some((a) => isAddressEqual(a, session.address)))
      throw new ProblemError("forbidden", NOT_STAFF);
    res.locals.caller = { kind: "session", address: session.address } satisfies Caller;
    res.locals.sessionTokenHash = session.tokenHash;
    next();
  };

  return { requireSession, requireStaff };
}
