/**
 * A minimal gatekeeper client: SIWE sign-in and JSON calls that turn a problem+json answer into a
 * typed error. One implementation for the run command, the tests and (later) the dapp.
 */
import type { Address, Hex } from "viem";
import { apiPaths, nonceResponseSchema, type Problem, problemSchema, sessionResponseSchema } from "./api.ts";
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

/**
 * `GET` or `POST` JSON at a gatekeeper path; resolves to the parsed body of a 2xx answer.
 *
 * @throws {GatekeeperRequestError} for any other status, with the problem+json when there is one.
 */
export async function gatekeeperJson<T = unknown>(
  gatekeeperUrl: string,
  path: string,
  {
    method = "GET",
    body,
    token,
    headers = {},
    fetch = globalThis.fetch,
  }: {
    method?: string;
    body?: unknown;
    token?: string;
    headers?: Record<string, string>;
    fetch?: typeof globalThis.fetch;
  } = {},
): Promise<T> {
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
  return json as T;
}

/**
 * Signs in to a gatekeeper with SIWE (PROTOCOL.md "Sign-in"): nonce, EIP-4361 message for this
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
