import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import {
  buildSignInMessage,
  generateNonce,
  InvalidSignInParametersError,
  isUriUnderBaseUrl,
  isValidNonce,
  parseSignInMessage,
  SESSION_MAX_LIFETIME_MS,
  SignInError,
  type SignInFailureReason,
  sessionExpiry,
  verifySignIn,
} from "./siwe.ts";

const account = privateKeyToAccount(`0x${"11".repeat(32)}`);
const other = privateKeyToAccount(`0x${"22".repeat(32)}`);
const NOW = new Date("2025-06-01T12:00:00.000Z");
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000);
const NONCE = "abcDEF0123456789xyz";
const expected = { baseUrl: "http://127.0.0.1:7101", chainId: 633732 };

function message(overrides: Partial<Parameters<typeof buildSignInMessage>[0]> = {}): string {
  return buildSignInMessage({
    address: account.address.toLowerCase(),
    domain: "127.0.0.1:7101",
    uri: "http://127.0.0.1:7101",
    chainId: 633732,
    nonce: NONCE,
    issuedAt: NOW,
    expirationTime: at(600),
    statement: "Sign in to Riverside General's MedRec gatekeeper.",
    ...overrides,
  });
}

async function signIn(
  text: string,
  options: { signer?: typeof account; now?: Date; exp?: Partial<typeof expected> & { domain?: string } } = {},
) {
  const signature = await (options.signer ?? account).signMessage({ message: text });
  return verifySignIn({
    message: text,
    signature,
    expected: { ...expected, ...options.exp },
    now: options.now ?? NOW,
  });
}

async function rejects(promise: Promise<unknown>, reason: SignInFailureReason) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SignInError, String(error));
    assert.equal(error.reason, reason);
    assert.equal(error.name, "SignInError");
    return true;
  });
}

describe("verifySignIn", () => {
  test("default: a valid sign-in is accepted", async () => {
    const result = await signIn(message());
    assert.equal(result.address, account.address);
    assert.equal(result.nonce, NONCE);
    assert.equal(result.chainId, 633732);
    assert.equal(result.domain, "127.0.0.1:7101");
    assert.deepEqual(result.expirationTime, at(600));
    assert.deepEqual(result.sessionExpiresAt, at(600));
  });

  test("behavior: session lifetime capped at 1 h", async () => {
    const result = await signIn(message({ expirationTime: at(24 * 3600) }));
    assert.deepEqual(result.sessionExpiresAt, at(3600));
  });

  test("behavior: accepted edge cases", async () => {
    // issued-at exactly 60 s ahead, a passed not-before, a URI below the base path, no statement, scheme
    await signIn(message({ issuedAt: at(60), notBefore: at(-1) }));
    await signIn(message({ uri: "http://127.0.0.1:7101/v1/auth/session", statement: undefined }));
    await signIn(message({ scheme: "http" }));
    const withPath = { baseUrl: "https://gk.example.org/riverside/", domain: "gk.example.org" };
    await signIn(message({ domain: "gk.example.org", uri: "https://gk.example.org/riverside" }), {
      exp: withPath,
    });
    await signIn(message({ domain: "gk.example.org", uri: "https://gk.example.org/riverside/v1" }), {
      exp: withPath,
    });
  });

  test("error: forged signature", async () => {
    await rejects(signIn(message(), { signer: other }), "signature");
    const text = message();
    const signature = await account.signMessage({ message: text });
    const flipped = `${signature.slice(0, 10)}${signature[10] === "0" ? "1" : "0"}${signature.slice(11)}`;
    await rejects(verifySignIn({ message: text, signature: flipped, expected, now: NOW }), "signature");
    await rejects(verifySignIn({ message: text, signature: "0x1234", expected, now: NOW }), "signature");
    // a signature of another message by the same account
    const elsewhere = await account.signMessage({ message: message({ nonce: "zzzzzzzzzzzzzzzzzzzz" }) });
    await rejects(verifySignIn({ message: text, signature: elsewhere, expected, now: NOW }), "signature");
  });

  test("error: wrong domain", async () => {
    await rejects(signIn(message({ domain: "127.0.0.1:7102" })), "domain");
    await rejects(signIn(message({ domain: "localhost:7101" })), "domain");
    await rejects(signIn(message({ domain: "127.0.0.1" })), "domain");
    await rejects(signIn(message(), { exp: { domain: "gk.example.org" } }), "domain");
  });

  test("error: wrong scheme", async () => {
    await rejects(signIn(message({ scheme: "https" })), "scheme");
  });

  test("error: uri on another origin or outside the base path", async () => {
    const exp = { baseUrl: "https://a.com/v1", domain: "a.com" };
    const m = (uri: string) => message({ domain: "a.com", uri });
    await signIn(m("https://a.com/v1/auth"), { exp });
    for (const uri of [
      "https://a.com.evil/v1",
      "https://evil.com/v1",
      "http://a.com/v1",
      "https://a.com:8443/v1",
      "https://a.com/v1x",
      "https://a.com/",
      "https://a.com/v2/v1",
      "https://a.com/v1/../admin",
      "https://a.com@evil.com/v1",
      "https://user@a.com/v1",
    ])
      await rejects(signIn(m(uri), { exp }), "uri");
    await rejects(signIn(message({ uri: "http://127.0.0.1:7102" })), "uri");
  });

  test("error: wrong chain id", async () => {
    await rejects(signIn(message({ chainId: 1 })), "chain-id");
  });

  test("error: issued-at 61 s ahead", async () => {
    await rejects(signIn(message({ issuedAt: at(61) })), "issued-at");
  });

  test("error: expiration missing or past", async () => {
    const full = message();
    const noExpiry = full.replace(/\nExpiration Time: [^\n]+/, "");
    assert.notEqual(noExpiry, full);
    await rejects(signIn(noExpiry), "expiration-missing");
    await rejects(signIn(message({ expirationTime: at(-1) })), "expired");
    await rejects(signIn(message({ expirationTime: NOW })), "expired");
    await rejects(signIn(message(), { now: at(601) }), "expired");
  });

  test("error: not-before in the future", async () => {
    await rejects(signIn(message({ notBefore: at(5) })), "not-before");
  });

  test("error: short nonce", async () => {
    await rejects(signIn(message().replace(NONCE, "abcdefgh1")), "nonce");
  });

  test("error: malformed text", async () => {
    const good = message();
    const cases = [
      "",
      "hello",
      good.replace("Version: 1", "Version: 2"),
      good.replace("wants you to sign in", "wants to sign in"),
      `${good}\n`,
      `${good}\nExtra: line`,
      `junk\n${good}`,
      good.replace(/Issued At: [^\n]+/, "Issued At: yesterday"),
      good.replace(/Expiration Time: [^\n]+/, "Expiration Time: 2025-13-45T99:00:00Z"),
      good.replace("\nURI:", "\nURI: http://127.0.0.1:7101 \nURI:"),
      good.replace(/Chain ID: \d+/, "Chain ID: 0x9ab84"),
      good.replace(/0x[0-9a-fA-F]{40}/, "0x1234"),
    ];
    for (const text of cases) await rejects(signIn(text), "malformed");
    await rejects(verifySignIn({ message: 42, signature: "0x", expected, now: NOW }), "malformed");
  });
});

describe("parseSignInMessage", () => {
  test("default: fields", () => {
    const parsed = parseSignInMessage(message({ requestId: "r1", resources: ["https://medrec.dev/a"] }));
    assert.equal(parsed.address, account.address);
    assert.equal(parsed.statement, "Sign in to Riverside General's MedRec gatekeeper.");
    assert.equal(parsed.requestId, "r1");
    assert.deepEqual(parsed.resources, ["https://medrec.dev/a"]);
    assert.deepEqual(parsed.issuedAt, NOW);
  });
});

describe("buildSignInMessage", () => {
  test("default: EIP-4361 text", () => {
    assert.equal(
      message({ statement: undefined }),
      [
        "127.0.0.1:7101 wants you to sign in with your Ethereum account:",
        account.address,
        "",
        "",
        "URI: http://127.0.0.1:7101",
        "Version: 1",
        "Chain ID: 633732",
        `Nonce: ${NONCE}`,
        "Issued At: 2025-06-01T12:00:00.000Z",
        "Expiration Time: 2025-06-01T12:10:00.000Z",
      ].join("\n"),
    );
  });

  test("error: invalid parameters", () => {
    assert.throws(() => message({ nonce: "short1" }), InvalidSignInParametersError);
    assert.throws(() => message({ nonce: "has-a-dash-0123456789" }), InvalidSignInParametersError);
    assert.throws(() => message({ address: "0x1234" }), InvalidSignInParametersError);
    assert.throws(() => message({ statement: "two\nlines" }), InvalidSignInParametersError);
    assert.throws(() => message({ expirationTime: new Date(Number.NaN) }), InvalidSignInParametersError);
    assert.throws(() => message({ chainId: 1.5 }), InvalidSignInParametersError);
  });
});

describe("nonces", () => {
  test("default: generated nonces are valid and distinct", () => {
    const nonces = new Set(Array.from({ length: 200 }, () => generateNonce()));
    assert.equal(nonces.size, 200);
    for (const nonce of nonces) {
      assert.equal(nonce.length, 32);
      assert.ok(isValidNonce(nonce));
    }
  });

  test("behavior: isValidNonce", () => {
    assert.equal(isValidNonce("a".repeat(16)), true);
    assert.equal(isValidNonce("a".repeat(15)), false);
    assert.equal(isValidNonce(`${"a".repeat(16)}-`), false);
    assert.equal(isValidNonce(16), false);
  });

  test("error: too short", () => {
    assert.throws(() => generateNonce(8), InvalidSignInParametersError);
  });
});

describe("helpers", () => {
  test("isUriUnderBaseUrl", () => {
    assert.equal(isUriUnderBaseUrl("http://h:1/", "http://h:1"), true);
    assert.equal(isUriUnderBaseUrl("HTTP://H:1/x", "http://h:1"), true);
    assert.equal(isUriUnderBaseUrl("https://h/", "https://h:443/"), true);
    assert.equal(isUriUnderBaseUrl("not a url", "http://h"), false);
    assert.equal(isUriUnderBaseUrl("data:text/plain,x", "data:text/plain,x"), false);
  });

  test("sessionExpiry", () => {
    assert.deepEqual(sessionExpiry({ expirationTime: at(10), now: NOW }), at(10));
    assert.deepEqual(
      sessionExpiry({ expirationTime: at(7200), now: NOW }),
      at(SESSION_MAX_LIFETIME_MS / 1000),
    );
    assert.deepEqual(sessionExpiry({ expirationTime: at(7200), now: NOW, maxLifetimeMs: 60_000 }), at(60));
    assert.deepEqual(
      sessionExpiry({ expirationTime: at(99999), now: NOW, maxLifetimeMs: 10 * 3600_000 }),
      at(3600),
    );
  });
});
