import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { isValidNonce, sessionResponseSchema } from "@medrec/protocol";
import { fetchReply, type ReplyInit, type SignInOverrides, signInTo } from "@medrec/testkit";
import { Router } from "express";
import { pino } from "pino";
import { type Address, getAddress } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { createAuth } from "../src/auth/index.ts";
import { loadConfig } from "../src/config.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import type { Guards } from "../src/seams.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

const PUBLIC_URL = "http://gatekeeper.test:7101";
const CHAIN_ID = 633732;
const OPERATOR_KEY = "op-key-0123456789abcdef0123456789abcdef";
const provider = privateKeyToAccount(generatePrivateKey());
const staffMember = privateKeyToAccount(generatePrivateKey());
const patient = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());

/** Test-only routes that echo what a guard decided. */
function probeModule(guards: Guards) {
  const router = Router();
  router.get("/test/session", guards.requireSession, (_req, res) => {
    res.json(res.locals.caller);
  });
  router.get("/test/staff", guards.requireStaff, (_req, res) => {
    res.json(res.locals.caller);
  });
  return { router, paths: {} };
}

let server: TestPostgres;
let gk: Gatekeeper;
let url: string;
let dbUrl: string;
let clockOffsetMs = 0;

before(async () => {
  server = await startTestPostgres();
  dbUrl = await createTestDatabase(server.url, "auth");
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: dbUrl,
    PUBLIC_URL,
    OPERATOR_KEY,
    SESSION_TTL_SECONDS: "3600",
    STAFF_ACCOUNTS: staffMember.address,
  });
  gk = await startGatekeeper({
    chain: false,
    config,
    logger: pino({ level: "silent" }),
    modules: (db) => {
      const auth = createAuth({
        config,
        db,
        chainId: CHAIN_ID,
        providerAccount: provider.address,
        clock: () => new Date(Date.now() + clockOffsetMs),
      });
      return [auth.module, probeModule(auth.guards)];
    },
  });
  url = gk.url;
});
after(async () => {
  await gk?.stop();
  await server?.stop();
});

const call = (path: string, init: ReplyInit = {}) => fetchReply(`${url}${path}`, init);

const nonce = async (): Promise<string> => (await call("/v1/auth/nonce")).json.nonce;

const { message, body } = signInTo({ publicUrl: PUBLIC_URL, chainId: CHAIN_ID, nonce });

const signIn = async (account: PrivateKeyAccount, options: SignInOverrides = {}, signer = account) =>
  call("/v1/auth/session", { body: await body(account, options, signer) });

async function tokenOf(account: PrivateKeyAccount): Promise<string> {
  const r = await signIn(account);
  assert.equal(r.status, 200, r.text);
  return r.json.token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function assertRefused(r: Awaited<ReturnType<typeof call>>, detail: RegExp) {
  assert.equal(r.status, 401, r.text);
  assert.match(r.type, /^application\/problem\+json/);
  assert.deepEqual(Object.keys(r.json).sort(), ["detail", "status", "title", "type"]);
  assert.match(r.json.detail, detail);
}

describe("GET /v1/auth/nonce", () => {
  test("default: ≥ 16 alphanumerics, fresh every time, stored with an expiry ≤ 5 min", async () => {
    const a = await call("/v1/auth/nonce");
    assert.equal(a.status, 200);
    assert.equal(a.headers.get("cache-control"), "no-store");
    const b = await nonce();
    assert.ok(isValidNonce(a.json.nonce) && isValidNonce(b));
    assert.notEqual(a.json.nonce, b);
    const row = await gk.db("auth_nonces").where({ nonce: b }).first();
    const ttl = row.expires_at.getTime() - row.issued_at.getTime();
    assert.ok(ttl > 0 && ttl <= 300_000, String(ttl));
    assert.equal(row.used_at, null);
  });
});

describe("POST /v1/auth/session", () => {
  test("default: a valid sign-in opens a session of ≤ 1 h; only the token's SHA-256 is stored", async () => {
    const lower = privateKeyToAccount(generatePrivateKey());
    const text = (await message(lower)).replace(lower.address, lower.address.toLowerCase());
    const r = await call("/v1/auth/session", {
      method: "POST",
      body: { message: text, signature: await lower.signMessage({ message: text }) },
    });
    assert.equal(r.status, 200, r.text);
    const session = sessionResponseSchema.parse(r.json);
    assert.equal(r.json.address, getAddress(lower.address));
    assert.equal(Buffer.from(session.token, "base64url").length, 32);
    const lifetime = Date.parse(session.expiresAt) - Date.now();
    assert.ok(lifetime > 9 * 60_000 && lifetime <= 10 * 60_000, "capped by the message's expiration-time");
    const rows = await gk.db("auth_sessions").where({ address: lower.address });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].token_hash, createHash("sha256").update(session.token).digest("hex"));
    const dump = JSON.stringify(await gk.db("auth_sessions").select());
    assert.ok(!dump.includes(session.token));
    const me = await call("/test/session", { headers: bearer(session.token) });
    assert.deepEqual(me.json, { kind: "session", address: getAddress(lower.address) });
  });

  test("behavior: the session never outlives SESSION_TTL_SECONDS (1 h) even for a long message", async () => {
    const r = await signIn(patient, { expirationTime: new Date(Date.now() + 24 * 3600_000) });
    assert.equal(r.status, 200, r.text);
    const lifetime = Date.parse(r.json.expiresAt) - Date.now();
    assert.ok(lifetime > 3590_000 && lifetime <= 3600_000, String(lifetime));
  });

  test("behavior: a nonce issued by another instance on the same database works (stored, not in memory)", async () => {
    const config = loadConfig({ DATABASE_URL: dbUrl, PUBLIC_URL });
    const other = createAuth({ config, db: gk.db, chainId: CHAIN_ID });
    const n = await other.service.issueNonce();
    const r = await signIn(patient, { nonce: n });
    assert.equal(r.status, 200, r.text);
  });

  const refusals: [string, () => Promise<Awaited<ReturnType<typeof call>>>, RegExp][] = [
    ["forged signature", () => signIn(patient, {}, stranger), /signature does not recover/],
    [
      "expired message",
      () =>
        signIn(patient, {
          issuedAt: new Date(Date.now() - 20 * 60_000),
          expirationTime: new Date(Date.now() - 60_000),
        }),
      /has expired/,
    ],
    [
      "issued-at more than 60 s in the future",
      () =>
        signIn(patient, {
          issuedAt: new Date(Date.now() + 120_000),
          expirationTime: new Date(Date.now() + 10 * 60_000),
        }),
      /issued in the future/,
    ],
    [
      "missing expiration-time",
      async () => {
        const text = (await message(patient)).replace(/\nExpiration Time: [^\n]+/, "");
        assert.ok(!text.includes("Expiration Time"));
        return call("/v1/auth/session", {
          method: "POST",
          body: { message: text, signature: await patient.signMessage({ message: text }) },
        });
      },
      /no expiration time/,
    ],
    ["wrong domain", () => signIn(patient, { domain: "evil.test:7101" }), /another domain/],
    ["wrong domain port", () => signIn(patient, { domain: "gatekeeper.test:7102" }), /another domain/],
    [
      "uri not under the base URL",
      () => signIn(patient, { uri: "http://evil.test:7101/" }),
      /URI is not under/,
    ],
    ["wrong chain id", () => signIn(patient, { chainId: 1 }), /another chain/],
    [
      "unknown nonce (never issued here)",
      () => signIn(patient, { nonce: "A1b2C3d4E5f6G7h8J9k0" }),
      /nonce is not valid/,
    ],
    [
      "reused nonce",
      async () => {
        const n = await nonce();
        assert.equal((await signIn(patient, { nonce: n })).status, 200);
        return signIn(patient, { nonce: n });
      },
      /nonce is not valid/,
    ],
    [
      "nonce consumed by a failed attempt",
      async () => {
        const n = await nonce();
        assertRefused(await signIn(patient, { nonce: n, chainId: 1 }), /another chain/);
        return signIn(patient, { nonce: n });
      },
      /nonce is not valid/,
    ],
    [
      "nonce consumed by a forged attempt",
      async () => {
        const n = await nonce();
        assertRefused(await signIn(patient, { nonce: n }, stranger), /signature/);
        return signIn(patient, { nonce: n });
      },
      /nonce is not valid/,
    ],
    [
      "nonce consumed by a malformed attempt",
      async () => {
        const n = await nonce();
        const text = await message(patient, { nonce: n });
        const r = await call("/v1/auth/session", {
          method: "POST",
          body: { message: `${text}\nextra`, signature: "0x12" },
        });
        assertRefused(r, /not a well-formed/);
        return signIn(patient, { nonce: n });
      },
      /nonce is not valid/,
    ],
    [
      "expired nonce",
      async () => {
        const n = await nonce();
        await gk
          .db("auth_nonces")
          .where({ nonce: n })
          .update({ expires_at: gk.db.raw("now() - interval '1 second'") });
        return signIn(patient, { nonce: n });
      },
      /nonce is not valid/,
    ],
    ["no body", () => call("/v1/auth/session", { method: "POST" }), /not a well-formed/],
    [
      "not a SIWE message",
      () =>
        call("/v1/auth/session", {
          method: "POST",
          body: { message: "hello", signature: `0x${"11".repeat(65)}` },
        }),
      /not a well-formed/,
    ],
  ];
  for (const [name, attempt, detail] of refusals) {
    test(`error: ${name} → 401`, async () => {
      assertRefused(await attempt(), detail);
    });
  }

  test("error: a refusal never echoes the message or signature", async () => {
    const text = (await message(patient, { domain: "secret-value.test" })).replace(
      "Version: 1",
      "Version: 1",
    );
    const r = await call("/v1/auth/session", {
      method: "POST",
      body: { message: text, signature: await patient.signMessage({ message: text }) },
    });
    assertRefused(r, /another domain/);
    assert.ok(!r.text.includes("secret-value") && !r.text.includes(new URL(PUBLIC_URL).host));
  });

  test("behavior: the nonce is consumed atomically — of 8 concurrent sign-ins with one nonce, one wins", async () => {
    const n = await nonce();
    const text = await message(patient, { nonce: n });
    const signature = await patient.signMessage({ message: text });
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        call("/v1/auth/session", { method: "POST", body: { message: text, signature } }),
      ),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401, 401, 401, 401]);
  });
});

describe("sessions", () => {
  test("error: a tampered token → 401 with WWW-Authenticate", async () => {
    const token = await tokenOf(patient);
    const last = token.at(-1) === "A" ? "B" : "A";
    for (const bad of [`${token.slice(0, -1)}${last}`, `${token}x`, "", "not a token"]) {
      const r = await call("/test/session", { headers: { authorization: `Bearer ${bad}` } });
      assertRefused(r, /invalid, expired or ended/);
      assert.match(r.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
    assertRefused(await call("/test/session", { headers: { authorization: `Basic ${token}` } }), /invalid/);
    assertRefused(await call("/test/session"), /Sign in first/);
  });

  test("error: an expired session → 401", async () => {
    const token = await tokenOf(patient);
    assert.equal((await call("/test/session", { headers: bearer(token) })).status, 200);
    clockOffsetMs = 3601_000;
    try {
      assertRefused(await call("/test/session", { headers: bearer(token) }), /expired/);
    } finally {
      clockOffsetMs = 0;
    }
  });

  test("behavior: DELETE /v1/auth/session ends it; the token is refused afterwards", async () => {
    const token = await tokenOf(patient);
    assert.equal((await call("/test/session", { headers: bearer(token) })).status, 200);
    const end = await call("/v1/auth/session", { method: "DELETE", headers: bearer(token) });
    assert.equal(end.status, 204);
    assert.equal(
      await gk
        .db("auth_sessions")
        .where({ token_hash: createHash("sha256").update(token).digest("hex") })
        .first(),
      undefined,
    );
    assertRefused(await call("/test/session", { headers: bearer(token) }), /ended/);
    assertRefused(await call("/v1/auth/session", { method: "DELETE", headers: bearer(token) }), /ended/);
  });

  test("behavior: a session ended by another instance is refused here within the cache window", async () => {
    const token = await tokenOf(patient);
    assert.equal((await call("/test/session", { headers: bearer(token) })).status, 200);
    const config = loadConfig({ DATABASE_URL: dbUrl, PUBLIC_URL });
    const other = createAuth({ config, db: gk.db, chainId: CHAIN_ID });
    await other.service.endSession(createHash("sha256").update(token).digest("hex"));
    await new Promise((r) => setTimeout(r, 2100));
    assertRefused(await call("/test/session", { headers: bearer(token) }), /ended/);
  });
});

describe("guards", () => {
  test("behavior: requireStaff accepts the operator key and a listed staff account's session", async () => {
    const op = await call("/test/staff", { headers: { "x-operator-key": OPERATOR_KEY } });
    assert.equal(op.status, 200);
    assert.deepEqual(op.json, { kind: "operator" });
    const token = await tokenOf(staffMember);
    const staff = await call("/test/staff", { headers: bearer(token) });
    assert.equal(staff.status, 200);
    assert.deepEqual(staff.json, { kind: "session", address: staffMember.address as Address });
  });

  test("error: the provider's (sealer's) own session is not staff → 403 problem+json", async () => {
    const r = await call("/test/staff", { headers: bearer(await tokenOf(provider)) });
    assert.equal(r.status, 403);
    assert.match(r.type, /^application\/problem\+json/);
  });

  test("error: a wrong operator key → 401, even with a valid staff session", async () => {
    const token = await tokenOf(staffMember);
    for (const key of ["wrong", `${OPERATOR_KEY}x`, OPERATOR_KEY.slice(0, -1), OPERATOR_KEY.toUpperCase()]) {
      const r = await call("/test/staff", { headers: { "x-operator-key": key, ...bearer(token) } });
      assertRefused(r, /operator key is not valid/);
      assert.ok(!r.text.includes(key));
    }
  });

  test("error: another account's session → 403; nothing → 401", async () => {
    const r = await call("/test/staff", { headers: bearer(await tokenOf(patient)) });
    assert.equal(r.status, 403);
    assert.match(r.type, /^application\/problem\+json/);
    assertRefused(await call("/test/staff"), /Sign in first/);
  });

  test("error: without a configured OPERATOR_KEY no key is accepted; without STAFF_ACCOUNTS no session is staff", async () => {
    const config = loadConfig({ DATABASE_URL: dbUrl, PUBLIC_URL });
    const bare = createAuth({ config, db: gk.db, chainId: CHAIN_ID });
    const run = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const res = {
          locals: {},
          setHeader: () => undefined,
        } as unknown as Parameters<Guards["requireStaff"]>[1];
        Promise.resolve(bare.guards.requireStaff({ headers } as never, res, () => resolve(200))).catch(
          (e: { kind: string }) => resolve(e.kind === "forbidden" ? 403 : 401),
        );
      });
    assert.equal(await run({ "x-operator-key": OPERATOR_KEY }), 401);
    assert.equal(await run({ "x-operator-key": "" }), 401);
    assert.equal(await run({ authorization: `Bearer ${await tokenOf(staffMember)}` }), 403);
  });

  test("behavior: the auth routes are in /openapi.json with their problems", async () => {
    const doc = (await call("/openapi.json")).json;
    assert.ok(doc.paths["/v1/auth/nonce"].get.responses["200"]);
    assert.ok(doc.paths["/v1/auth/session"].post.responses["401"]);
    assert.ok(doc.paths["/v1/auth/session"].delete.responses["401"]);
  });
});
