import { apiPaths, BaseError, type BuildSignInMessageParameters, buildSignInMessage } from "@medrec/protocol";

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

/** Thrown by {@link sessionToken} when the gatekeeper does not answer 200. */
export class TestSignInError extends BaseError {
  override name = "TestSignInError";
}

/**
 * Signs `account` in to the gatekeeper served at `url` (whose PUBLIC_URL is `publicUrl`, default
 * `url`) over `fetch` and returns the session token.
 *
 * @example
 * const token = await sessionToken({ url: gk.url, account: patient, chainId: 633732 })
 */
export async function sessionToken({
  url,
  publicUrl = url,
  account,
  chainId,
}: {
  url: string;
  publicUrl?: string;
  account: Signer;
  chainId: number;
}): Promise<string> {
  const { nonce } = (await (await fetch(`${url}${apiPaths.nonce}`)).json()) as { nonce: string };
  const res = await fetch(`${url}${apiPaths.session}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(await signInBody({ account, publicUrl, chainId, nonce })),
  });
  const text = await res.text();
  if (res.status !== 200)
    throw new TestSignInError(`Sign-in to ${url} answered ${res.status}.`, { details: text.slice(0, 300) });
  return (JSON.parse(text) as { token: string }).token;
}
