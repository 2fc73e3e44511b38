/**
 * A minimal gatekeeper client: SIWE sign-in and JSON calls that turn a problem+json answer into a
 * typed error. One implementation for the run command, the tests and (later) the dapp.
 */
import type { Address, Hex } from "viem";
import {
  AUDIT_PAGE_MAX,
  type AuditEntry,
  apiPaths,
  auditConsistencyResponseSchema,
  auditResponseSchema,
  nonceResponseSchema,
  type Problem,
  problemSchema,
  sessionResponseSchema,
} from "./api.ts";
import { BaseError } from "./errors.ts";
import { buildSignInMessage } from "./siwe.ts";

/** Anything that signs an EIP-191 message: a viem account (local or HD). */
export type MessageSigner = { address: Address; signMessage(args: { message: string }): Promise<Hex> };

/** A gatekeeper answered with an error (its problem+json is in `problem`), or not with JSON. */
export class GatekeeperRequestError extends BaseError {
  override name = "GatekeeperRequestError" as const;
  readonly status: number;
  readonly problem: Problem | undefined;
  constructor(status: number, problem: Problem | undefined, what: string) {
    super(`${what} failed with ${status}${problem ? `: ${problem.title} — ${problem.detail ?? ""}` : ""}`);
    this.status = status;
    this.problem = problem;
  }
}

export type GatekeeperSession = { token: string; address: Address; expiresAt: string };

export type SignInParameters = {
  /** The gatekeeper's base URL (its `gatekeeperUrl`). */
  gatekeeperUrl: string;
  account: MessageSigner;
  chainId: number;
  /** Lifetime asked of the signed message. Default 10 minutes. */
  validForMs?: number;
  fetch?: typeof globalThis.fetch;
};

/** Base URL without a trailing slash, so that `base + apiPaths.x` is always one slash. */
function base(url: string): string {
  return url.replace(/\/+$/, "");
}

export type GatekeeperRequestOptions = {
  method?: string;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  fetch?: typeof globalThis.fetch;
};

/**
 * `GET` or `POST` JSON at a gatekeeper path; resolves to the parsed body of a 2xx answer and its
 * headers (e.g. `Link` for the next page).
 *
 * @throws {GatekeeperRequestError} for any other status, with the problem+json when there is one.
 */
export async function gatekeeperRequest<T = unknown>(
  gatekeeperUrl: string,
  path: string,
  { method = "GET", body, token, headers = {}, fetch = globalThis.fetch }: GatekeeperRequestOptions = {},
): Promise<{ body: T; headers: Headers }> {
  const response = await fetch(`${base(gatekeeperUrl)}${path}`, {
    method,
    headers: {
      accept: "application/json",
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const problem = problemSchema.safeParse(json);
    throw new GatekeeperRequestError(
      response.status,
      problem.success ? problem.data : undefined,
      `${method} ${path}`,
    );
  }
  return { body: json as T, headers: response.headers };
}

/** {@link gatekeeperRequest}, the body only. */
export async function gatekeeperJson<T = unknown>(
  gatekeeperUrl: string,
  path: string,
  options: GatekeeperRequestOptions = {},
): Promise<T> {
  return (await gatekeeperRequest<T>(gatekeeperUrl, path, options)).body;
}

/** The target of a `Link: <…>; rel="next"` header, as a path under the gatekeeper's base URL. */
export function nextLink(headers: Headers, gatekeeperUrl: string): string | undefined {
  const link = headers.get("link");
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part.trim());
    if (!match?.[1]) continue;
    const target = new URL(match[1], `${base(gatekeeperUrl)}/`);
    const prefix = new URL(`${base(gatekeeperUrl)}/`).pathname.replace(/\/$/, "");
    return `${target.pathname.slice(prefix.length)}${target.search}`;
  }
  return undefined;
}

/**
 * Every audit entry of a relationship (or those after `after`), following the pages
 * (`?after=&limit=`, `Link: rel="next"`).
 * Stops after `maxPages` so that a gatekeeper that never ends its list cannot hang the caller.
 */
export async function fetchAuditEntries({
  gatekeeperUrl,
  relationship,
  token,
  after,
  limit = AUDIT_PAGE_MAX,
  maxPages = 1000,
  fetch = globalThis.fetch,
}: {
  gatekeeperUrl: string;
  relationship: string;
  token: string;
  /** Only the entries after the one with this hash (what a client has already read). */
  after?: string;
  limit?: number;
  maxPages?: number;
  fetch?: typeof globalThis.fetch;
}): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  const start = after === undefined ? "" : `after=${encodeURIComponent(after)}&`;
  let path: string | undefined = `${apiPaths.audit(relationship)}?${start}limit=${limit}`;
  for (let page = 0; path !== undefined; page++) {
    if (page >= maxPages)
      throw new GatekeeperRequestError(0, undefined, `audit list longer than ${maxPages} pages`);
    const { body, headers } = await gatekeeperRequest(gatekeeperUrl, path, { token, fetch });
    entries.push(...auditResponseSchema.parse(body));
    path = nextLink(headers, gatekeeperUrl);
  }
  return entries;
}

/**
 * The RFC 9162 consistency proof between two sizes of a gatekeeper's audit log
 * (`GET /v1/audit/consistency`): what `verifyAuditEntries` asks for between anchored heads.
 */
export async function fetchAuditConsistencyProof({
  gatekeeperUrl,
  token,
  from,
  to,
  fetch = globalThis.fetch,
}: {
  gatekeeperUrl: string;
  token: string;
  from: number;
  to: number;
  fetch?: typeof globalThis.fetch;
}): Promise<string[]> {
  const body = await gatekeeperJson(gatekeeperUrl, `${apiPaths.auditConsistency}?from=${from}&to=${to}`, {
    token,
    fetch,
  });
  return auditConsistencyResponseSchema.parse(body).proof;
}

/**
 * Signs in to a gatekeeper with SIWE (docs/protocol.md "Signing in"): nonce, EIP-4361 message for this
 * gatekeeper's host and chain, signature, session.
 *
 * @example
 * const { token } = await signIn({ gatekeeperUrl, account: privateKeyToAccount(key), chainId })
 */
export async function signIn({
  gatekeeperUrl,
  account,
  chainId,
  validForMs = 10 * 60_000,
  fetch = globalThis.fetch,
}: SignInParameters): Promise<GatekeeperSession> {
  const { nonce } = nonceResponseSchema.parse(await gatekeeperJson(gatekeeperUrl, apiPaths.nonce, { fetch }));
  const url = base(gatekeeperUrl);
  const message = buildSignInMessage({
    address: account.address,
    domain: new URL(url).host,
    uri: url,
    chainId,
    nonce,
    issuedAt: new Date(),
    expirationTime: new Date(Date.now() + validForMs),
  });
  const signature = await account.signMessage({ message });
  return sessionResponseSchema.parse(
    await gatekeeperJson(gatekeeperUrl, apiPaths.session, {
      method: "POST",
      body: { message, signature },
      fetch,
    }),
  );
}
