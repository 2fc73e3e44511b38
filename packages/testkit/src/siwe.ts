import { apiPaths, BaseError, type BuildSignInMessageParameters, buildSignInMessage } from "@medrec/protocol";
import { fetchReply } from "./http.ts";

type Signer = { address: string; signMessage(args: { message: string }): Promise<`0x${string}`> };

/** Fields of the EIP-4361 message a test may set itself (a wrong domain, an old nonce, …). */
export type SignInOverrides = Partial<BuildSignInMessageParameters>;

export type SignInMessageParameters = SignInOverrides & {
  /** Who signs in. */
  account: { address: string };
  /** The gatekeeper's PUBLIC_URL: its host is the SIWE domain, the URL itself the uri. */
  publicUrl: string;
  chainId: number;
  /** A nonce from `GET /v1/auth/nonce`. */
  nonce: string;
};

/**
 * The EIP-4361 text a test signs to sign in to the gatekeeper at `publicUrl`: issued now, valid for
 * ten minutes, every field overridable.
 *
 * @example
 * const message = signInMessage({ account, publicUrl, chainId: 633732, nonce, statement: "x" })
 */
export function signInMessage({ account, publicUrl, chainId, nonce, ...overrides }: SignInMessageParameters) {
  const now = Date.now();
  return buildSignInMessage({
    address: account.address,
    domain: new URL(publicUrl).host,
    uri: publicUrl,
    chainId,
    nonce,
    issuedAt: new Date(now),
    expirationTime: new Date(now + 10 * 60_000),
    ...overrides,
  });
}

/**
 * The body of `POST /v1/auth/session`: {@link signInMessage} for `account`, signed by `signer`
 * (default `account`; another one tests a forged signature).
 *
 * @example
 * const body = await signInBody({ account, publicUrl: url, chainId, nonce })
 */
export async function signInBody({
  signer,
  ...parameters
}: SignInMessageParameters & { account: Signer; signer?: Signer }) {
  const message = signInMessage(parameters);
  return { message, signature: await (signer ?? parameters.account).signMessage({ message }) };
}

/**
 * {@link signInMessage} and {@link signInBody} bound to one gatekeeper, each with a fresh nonce from
 * `nonce()` unless the overrides name one.
 *
 * @example
 * const siwe = signInTo({ publicUrl: url, chainId, nonce: async () => (await call("/v1/auth/nonce")).json.nonce })
 * await call("/v1/auth/session", { body: await siwe.body(patient, { statement: "x" }) })
 */
export function signInTo({
  publicUrl,
  chainId,
  nonce,
}: {
  publicUrl: string;
  chainId: number;
  nonce: () => Promise<string>;
}) {
  return {
    message: async (account: { address: string }, overrides: SignInOverrides = {}) =>
      signInMessage({ account, publicUrl, chainId, nonce: overrides.nonce ?? (await nonce()), ...overrides }),
    body: async (account: Signer, overrides: SignInOverrides = {}, signer: Signer = account) =>
      signInBody({
        account,
        signer,
        publicUrl,
        chainId,
        nonce: overrides.nonce ?? (await nonce()),
        ...overrides,
      }),
  };
}

/** Thrown by {@link sessionToken} when the gatekeeper does not answer 200. */
export class TestSignInError extends BaseError {
  override name = "TestSignInError";
}

/**
 * Signs `account` in to the gatekeeper served at `url` (whose PUBLIC_URL is `publicUrl`, default
 * `url`) over `fetch` and returns the session token; `overrides` set message fields (a longer
 * `expirationTime` for a benchmark).
 *
 * @example
 * const token = await sessionToken({ url: gk.url, account: patient, chainId: 633732 })
 */
export async function sessionToken({
  url,
  publicUrl = url,
  account,
  chainId,
  ...overrides
}: SignInOverrides & {
  url: string;
  publicUrl?: string;
  account: Signer;
  chainId: number;
}): Promise<string> {
  const { nonce } = (await fetchReply(`${url}${apiPaths.nonce}`)).json as { nonce: string };
  const r = await fetchReply(`${url}${apiPaths.session}`, {
    body: await signInBody({ account, publicUrl, chainId, nonce, ...overrides }),
  });
  if (r.status !== 200)
    throw new TestSignInError(`Sign-in to ${url} answered ${r.status}.`, { details: r.text.slice(0, 300) });
  return (r.json as { token: string }).token;
}
