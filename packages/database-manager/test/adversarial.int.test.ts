/**
 * Adversarial requests against the whole gatekeeper on a real chain and PostgreSQL server: each
 * named case expects its EXACT status and an RFC 9457 problem+json body (type, title, status,
 * detail) that carries no record content. Between groups and at the end the server must still be
 * healthy and the same authorized read must still work; afterwards the database still has its
 * tables and rows (no injection had an effect) and the audit log still verifies.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CONFIDENTIALITY_SYSTEM,
  findAuditChainBreak,
  OBSERVATION_CATEGORY_SYSTEM,
  verifyBundle,
} from "@medrec/protocol";
import { eventually } from "@medrec/testkit";
import type { Hex } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { createAuth } from "../src/auth/index.ts";
import { ProblemError } from "../src/errors.ts";
import type { Patient } from "./chain.support.ts";
import { assertProblem, type Reply, type System, seededRecords, startSystem } from "./system.support.ts";

const MRN_A = "MRN-ADV-A";
const MRN_B = "MRN-ADV-B";
const A = seededRecords(303, 0, MRN_A);
const B = seededRecords(303, 1, MRN_B);
const patientBRef = { reference: `Patient/${B.resources[0]?.id}` };
/**
 * Patient B's resources that carry others (docs/protocol.md "Scopes"): an Encounter with a
 * contained Condition, and a lab with a contained Bundle holding a restricted Condition (FHIR's
 * dom-5 keeps labels off contained resources, not off a contained Bundle's entries).
 */
const CARRIERS = {
  encounter: {
    resourceType: "Encounter",
    id: "adv-encounter-with-condition",
    status: "finished",
    class: { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "AMB" },
    subject: patientBRef,
    contained: [
      {
        resourceType: "Condition",
        id: "reason",
        code: { text: "Contained reason XQ7" },
        subject: patientBRef,
      },
    ],
    reasonReference: [{ reference: "#reason" }],
  },
  lab: {
    resourceType: "Observation",
    id: "adv-lab-with-restricted-bundle",
    status: "final",
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
    code: { text: "Panel with attached history" },
    subject: patientBRef,
    contained: [
      {
        resourceType: "Bundle",
        id: "history",
        type: "collection",
        entry: [
          {
            resource: {
              resourceType: "Condition",
              id: "restricted",
              meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: "R" }] },
              code: { text: "Nested restricted diagnosis ZK4" },
              subject: patientBRef,
            },
          },
        ],
      },
    ],
    derivedFrom: [{ reference: "#history" }],
  },
};
/** Nothing of either patient's records (ids, names, values, MRNs) may appear in any error. */
const SECRETS = [
  ...A.distinctive,
  ...B.distinctive,
  "Contained reason XQ7",
  "Nested restricted diagnosis ZK4",
];
const nowSeconds = () => Math.floor(Date.now() / 1000);
const UNKNOWN = `0x${"5e".repeat(32)}` as Hex;

const account = () => privateKeyToAccount(generatePrivateKey());
const labsViewer = account();
const conditionsViewer = account();
const expiredViewer = account();
const revokedViewer = account();
const stranger = account();
/** On patient B: granted encounters only; and everything the carriers hold but `sensitive`. */
const encountersViewer = account();
const allButSensitiveViewer = account();

let sys: System;
let patientA: Patient;
let patientB: Patient;
let relA: Hex;
let relB: Hex;
const tokens = new Map<string, string>();
let expiredSessionToken: string;
let endedSessionToken: string;
const tokenOf = (who: { address: string }) => {
  const t = tokens.get(who.address);
  assert.ok(t, `no session for ${who.address}`);
  return t;
};
const counts: Record<string, number> = {};

before(async () => {
  sys = await startSystem("adversarial", { database: "server" });
  [patientA, patientB] = await Promise.all([sys.env.patient(), sys.env.patient()]);
  // A session that ends 2 s from now (the message's expiration-time caps it): expired by the tests.
  expiredSessionToken = await sys.signIn(stranger, { expirationTime: new Date(Date.now() + 2_000) });
  [relA, relB] = await Promise.all([
    sys.registerPatient(MRN_A, patientA),
    sys.registerPatient(MRN_B, patientB),
  ]);
  const bundleB = {
    ...B.bundle,
    entry: [...(B.bundle.entry ?? []), ...Object.values(CARRIERS).map((resource) => ({ resource }))],
  };
  const [rootA, rootB] = await Promise.all([sys.ingest(MRN_A, A.bundle), sys.ingest(MRN_B, bundleB)]);
  // A grant that expires in a few seconds, first, so it has lapsed when the tests run.
  const expiresSoon = nowSeconds() + 6;
  await sys.grant(patientA, relA, expiredViewer.address, 0xc3ff, expiresSoon);
  await sys.grant(patientA, relA, labsViewer.address, ["labs"], nowSeconds() + 3600);
  await sys.grant(patientA, relA, conditionsViewer.address, ["conditions"], nowSeconds() + 3600);
  await sys.grant(patientA, relA, revokedViewer.address, 0xc3ff, nowSeconds() + 3600);
  await sys.grant(patientB, relB, encountersViewer.address, ["encounters"], nowSeconds() + 3600);
  const allButSensitive = ["encounters", "conditions", "labs", "other"] as const;
  await sys.grant(patientB, relB, allButSensitiveViewer.address, allButSensitive, nowSeconds() + 3600);
  await sys.viewAt(await sys.revoke(patientA, relA, revokedViewer.address));
  await Promise.all([sys.rootPublished(relA, rootA), sys.rootPublished(relB, rootB)]);
  for (const who of [
    patientA,
    patientB,
    labsViewer,
    conditionsViewer,
    expiredViewer,
    revokedViewer,
    stranger,
    encountersViewer,
    allButSensitiveViewer,
  ])
    tokens.set(who.address, await sys.signIn("account" in who ? who.account : who));
  endedSessionToken = await sys.signIn(stranger);
  const end = await sys.call("/v1/auth/session", { method: "DELETE", token: endedSessionToken });
  assert.equal(end.status, 204);
  // Sanity: the grants are what the cases assume.
  assert.equal((await readA(labsViewer)).status, 200);
  await eventually("the short grant to expire", () => nowSeconds() > expiresSoon, { timeoutMs: 15_000 });
  for (const t of ["patients", "record_resources", "record_sets", "audit_log", "auth_sessions"])
    counts[t] = Number((await sys.gk.db(t).count({ n: "*" }))[0]?.n);
});
after(async () => {
  await sys?.stop();
});

const readA = (as: PrivateKeyAccount | Patient, query = "") =>
  sys.get(`/v1/relationships/${relA}/records${query}`, { token: tokenOf(as) });

/** The authorized read that must keep working: patient A's whole set, every proof valid on the on-chain root. */
async function assertHealthy() {
  const health = await sys.get("/healthz");
  assert.equal(health.status, 200, health.text);
  const r = await readA(patientA);
  assert.equal(r.status, 200, r.text);
  const onChain = (await sys.relationshipOf(relA)).recordRoot;
  const verdict = verifyBundle(r.json, onChain);
  assert.ok(verdict.valid && verdict.entries.length === A.resources.length);
}

type Case = [name: string, run: () => Promise<Reply>, status: number, detail?: RegExp];

/**
 * A group of named cases, each its own test, then a health check. The cases are built at load
 * time: every one is a thunk that touches the system only when it runs.
 */
function group(name: string, cases: () => Case[]) {
  describe(name, () => {
    for (const [caseName, run, status, detail] of cases()) {
      test(`error: ${caseName} → ${status}`, async () => {
        const r = await run();
        assertProblem(r, status, SECRETS, caseName);
        if (detail) assert.match(r.json.detail, detail, caseName);
        // Never a stack trace or SQL.
        assert.ok(!/\bat \S+ \(|node:internal|select |insert |update |syntax error/i.test(r.text), r.text);
      });
    }
    test(`behavior: the server is healthy after "${name}"; the authorized read still works`, assertHealthy);
  });
}

// ── Inputs ──

/** Hostile values, each as it is put into a URL (path segment or query value). */
const HOSTILE_URL: [label: string, encoded: string][] = [
  ["' OR 1=1--", encodeURIComponent("' OR 1=1--")],
  ["1; DROP TABLE audit_log;--", encodeURIComponent("1; DROP TABLE audit_log;--")],
  ["NUL (%00)", "%00"],
  ["unicode (math letters, CJK, RTL override)", encodeURIComponent("𝕏ü中文\u202e")],
  ["../../etc/passwd with encoded slashes", "..%2F..%2Fetc%2Fpasswd"],
  ["%2e%2e%2f (encoded ../)", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"],
  ["double-encoded %252e%252e%252f", "%252e%252e%252fetc%252fpasswd"],
  ["a lone `..` segment as %2e%2e", "%2e%2e"],
];
/** Hostile values as JSON strings (body fields, SIWE message fields). */
const HOSTILE_TEXT: [label: string, value: string][] = [
  ["' OR 1=1--", "' OR 1=1--"],
  ["1; DROP TABLE audit_log;--", "1; DROP TABLE audit_log;--"],
  ["NUL", "abc\u0000def"],
  ["unicode", "𝕏ü中文\u202e"],
  ["../../etc/passwd", "../../etc/passwd"],
  ["%2e%2e%2f", "%2e%2e%2f"],
  ["encoded slashes", "..%2F..%2Fetc%2Fpasswd"],
];
/** Hostile values a header can carry (no NUL, no non-Latin-1). */
const HOSTILE_HEADER = ["' OR 1=1--", "1; DROP TABLE audit_log;--", "../../etc/passwd", "%2e%2e%2f", "%00"];

const validPatientBody = () => ({ mrn: "MRN-NEW-1", patientAddress: patientA.address });
const tinyBundle = () => ({
  resourceType: "Bundle",
  type: "collection",
  entry: [{ resource: { resourceType: "Basic", id: "adv-basic-1", code: { text: "x" } } }],
});
const bundleWith = (resource: Record<string, unknown>, type = "collection") => ({
  resourceType: "Bundle",
  type,
  entry: [{ resource }],
});
const postRecords = (mrn: string, body: unknown, init: Parameters<System["post"]>[2] = { operator: true }) =>
  sys.post(`/v1/patients/${mrn}/records`, body, { contentType: "application/fhir+json", ...init });

/** Signs `text` as `account` and posts it. */
async function postSigned(account: PrivateKeyAccount | Patient["account"], text: string): Promise<Reply> {
  return sys.post("/v1/auth/session", {
    message: text,
    signature: await account.signMessage({ message: text }),
  });
}
/** A valid message with one line rewritten. */
async function rewritten(account: PrivateKeyAccount, pattern: RegExp, replacement: string): Promise<string> {
  const text = await sys.message(account);
  assert.match(text, pattern);
  return text.replace(pattern, replacement);
}

// ── Groups ──

group("SIWE sign-in", () => {
  const who = stranger;
  const n = () => sys.nonce();
  return [
    ["forged signature (signed by another key)", () => sys.trySignIn(who, {}, account()), 401, /signature/],
    [
      "expired message",
      () =>
        sys.trySignIn(who, {
          issuedAt: new Date(Date.now() - 20 * 60_000),
          expirationTime: new Date(Date.now() - 60_000),
        }),
      401,
      /expired/,
    ],
    [
      "replayed message (the same signed message twice)",
      async () => {
        const text = await sys.message(who);
        const body = { message: text, signature: await who.signMessage({ message: text }) };
        assert.equal((await sys.post("/v1/auth/session", body)).status, 200);
        return sys.post("/v1/auth/session", body);
      },
      401,
      /nonce/,
    ],
    [
      "issued-at 120 s in the future (> 60 s)",
      () =>
        sys.trySignIn(who, {
          issuedAt: new Date(Date.now() + 120_000),
          expirationTime: new Date(Date.now() + 10 * 60_000),
        }),
      401,
      /future/,
    ],
    [
      "missing expiration-time",
      async () => postSigned(who, await rewritten(who, /\nExpiration Time: [^\n]+/, "")),
      401,
      /no expiration/,
    ],
    ["wrong domain", () => sys.trySignIn(who, { domain: "evil.test" }), 401, /another domain/],
    [
      "wrong domain port",
      () => sys.trySignIn(who, { domain: `127.0.0.1:${Number(new URL(sys.url).port) + 1}` }),
      401,
      /another domain/,
    ],
    ["wrong URI: another origin", () => sys.trySignIn(who, { uri: "http://evil.test/" }), 401, /URI/],
    ["wrong URI: https://host.evil", () => sys.trySignIn(who, { uri: "https://host.evil" }), 401, /URI/],
    [
      "wrong URI: same host, another port",
      () => sys.trySignIn(who, { uri: `http://127.0.0.1:${Number(new URL(sys.url).port) + 1}/v1` }),
      401,
      /URI/,
    ],
    [
      "wrong URI: https on the gatekeeper's own host:port",
      () => sys.trySignIn(who, { uri: `https://${sys.domain}/` }),
      401,
      /URI/,
    ],
    [
      "wrong URI: user info in front of the gatekeeper's host",
      () => sys.trySignIn(who, { uri: `http://user@${sys.domain}/` }),
      401,
      /URI/,
    ],
    [
      "wrong URI: a path that only looks like the base (host.evil/127.0.0.1:port)",
      () => sys.trySignIn(who, { uri: `https://host.evil/${sys.domain}/v1` }),
      401,
      /URI/,
    ],
    ["wrong scheme prefix (https://domain)", () => sys.trySignIn(who, { scheme: "https" }), 401, /scheme/],
    ["wrong chain id", () => sys.trySignIn(who, { chainId: 1 }), 401, /another chain/],
    [
      "not-before in the future",
      () => sys.trySignIn(who, { notBefore: new Date(Date.now() + 5 * 60_000) }),
      401,
      /not valid yet/,
    ],
    [
      "unknown nonce (never issued here)",
      () => sys.trySignIn(who, { nonce: "Zz9Yy8Xx7Ww6Vv5Uu4Tt" }),
      401,
      /nonce is not valid/,
    ],
    [
      "reused nonce (a second message with a used nonce)",
      async () => {
        const nonce = await n();
        assert.equal((await sys.trySignIn(who, { nonce })).status, 200);
        return sys.trySignIn(who, { nonce });
      },
      401,
      /nonce is not valid/,
    ],
    [
      "nonce consumed by a failed attempt (wrong chain id first)",
      async () => {
        const nonce = await n();
        assert.equal((await sys.trySignIn(who, { nonce, chainId: 1 })).status, 401);
        return sys.trySignIn(who, { nonce });
      },
      401,
      /nonce is not valid/,
    ],
    [
      "nonce consumed by a forged attempt",
      async () => {
        const nonce = await n();
        assert.equal((await sys.trySignIn(who, { nonce }, account())).status, 401);
        return sys.trySignIn(who, { nonce });
      },
      401,
      /nonce is not valid/,
    ],
    [
      "nonce consumed by a malformed attempt",
      async () => {
        const nonce = await n();
        const text = await sys.message(who, { nonce });
        assert.equal(
          (await sys.post("/v1/auth/session", { message: `${text}\nextra`, signature: "0x12" })).status,
          401,
        );
        return postSigned(who, text);
      },
      401,
      /nonce is not valid/,
    ],
    [
      "malformed SIWE text",
      () => sys.post("/v1/auth/session", { message: "hello", signature: `0x${"11".repeat(65)}` }),
      401,
      /not a well-formed/,
    ],
    [
      "truncated SIWE message",
      async () => {
        const text = await sys.message(who);
        return postSigned(who, text.slice(0, Math.floor(text.length / 2)));
      },
      401,
      /not a well-formed/,
    ],
    [
      "an extra line after the message",
      async () => postSigned(who, `${await sys.message(who)}\nRole: admin`),
      401,
      /not a well-formed/,
    ],
    [
      "message is not a string",
      () => sys.post("/v1/auth/session", { message: 42, signature: `0x${"11".repeat(65)}` }),
      401,
      /not a well-formed/,
    ],
    [
      "garbage signature",
      async () => sys.post("/v1/auth/session", { message: await sys.message(who), signature: "0x1234" }),
      401,
    ],
    ["missing signature", async () => sys.post("/v1/auth/session", { message: await sys.message(who) }), 401],
    ["empty JSON object", () => sys.post("/v1/auth/session", {}), 401, /not a well-formed/],
    ["no body at all", () => sys.call("/v1/auth/session", { method: "POST" }), 401, /not a well-formed/],
  ];
});

group("bearer tokens and sessions", () => {
  const path = () => `/v1/relationships/${relA}/records`;
  const withAuth = (authorization: string) => () => sys.get(path(), { headers: { authorization } });
  const good = () => tokenOf(patientA);
  const flip = (t: string) => `${t.slice(0, -1)}${t.at(-1) === "A" ? "B" : "A"}`;
  return [
    [
      "tampered token (last character changed)",
      () => withAuth(`Bearer ${flip(good())}`)(),
      401,
      /invalid, expired or ended/,
    ],
    ["truncated token", () => withAuth(`Bearer ${good().slice(0, 20)}`)(), 401, /invalid, expired or ended/],
    [
      "token with an extra character",
      () => withAuth(`Bearer ${good()}x`)(),
      401,
      /invalid, expired or ended/,
    ],
    ["garbage token", withAuth("Bearer not-a-token"), 401, /invalid, expired or ended/],
    ["empty bearer", withAuth("Bearer "), 401, /invalid, expired or ended/],
    ["a 10 kB token", withAuth(`Bearer ${"A".repeat(10_000)}`), 401, /invalid, expired or ended/],
    ["Basic instead of Bearer", () => withAuth(`Basic ${good()}`)(), 401, /invalid/],
    ["missing Authorization", () => sys.get(path()), 401, /Sign in first/],
    [
      "token in the query string instead of the header",
      () => sys.get(`${path()}?access_token=${good()}`),
      401,
      /Sign in first/,
    ],
    [
      "expired session (its message expired)",
      () => sys.get(path(), { token: expiredSessionToken }),
      401,
      /invalid, expired or ended/,
    ],
    [
      "ended session (DELETE /v1/auth/session)",
      () => sys.get(path(), { token: endedSessionToken }),
      401,
      /ended/,
    ],
    [
      "ending an ended session again",
      () => sys.call("/v1/auth/session", { method: "DELETE", token: endedSessionToken }),
      401,
    ],
    [
      "DELETE /v1/auth/session without a token",
      () => sys.call("/v1/auth/session", { method: "DELETE" }),
      401,
    ],
    ...HOSTILE_HEADER.map(
      (value): Case => [`hostile bearer token ${JSON.stringify(value)}`, withAuth(`Bearer ${value}`), 401],
    ),
  ];
});

group("permissions", () => {
  const records =
    (rel: () => Hex, as: () => PrivateKeyAccount | Patient, query = "") =>
    () =>
      sys.get(`/v1/relationships/${rel()}/records${query}`, { token: tokenOf(as()) });
  const audit = (rel: () => Hex, as: () => PrivateKeyAccount | Patient) => () =>
    sys.get(`/v1/relationships/${rel()}/audit`, { token: tokenOf(as()) });
  const a = () => relA;
  const b = () => relB;
  const unknown = () => UNKNOWN;
  return [
    ["viewer whose grant expired", records(a, () => expiredViewer), 403],
    ["viewer whose grant expired, one category", records(a, () => expiredViewer, "?category=labs"), 403],
    ["viewer whose grant was revoked", records(a, () => revokedViewer), 403],
    [
      "viewer out of scope (labs grant, ?category=medications)",
      records(a, () => labsViewer, "?category=medications"),
      403,
    ],
    [
      "viewer out of scope (labs grant, ?category=conditions)",
      records(a, () => labsViewer, "?category=conditions"),
      403,
    ],
    [
      "viewer out of scope (labs grant, ?category=demographics)",
      records(a, () => labsViewer, "?category=demographics"),
      403,
    ],
    [
      "sensitive items without the sensitive scope (conditions grant, ?category=sensitive)",
      records(a, () => conditionsViewer, "?category=sensitive"),
      403,
    ],
    [
      "sensitive items without the sensitive scope (labs grant, ?category=sensitive)",
      records(a, () => labsViewer, "?category=sensitive"),
      403,
    ],
    ["viewer on another patient's relationship", records(b, () => labsViewer), 403],
    ["another patient reading this patient's records", records(a, () => patientB), 403],
    ["another patient reading this patient's audit", audit(a, () => patientB), 403],
    ["a viewer reading the audit", audit(a, () => labsViewer), 403],
    ["stranger reading records", records(a, () => stranger), 403],
    ["stranger reading the audit", audit(a, () => stranger), 403],
    ["stranger on an unknown relationship", records(unknown, () => stranger), 403],
    ["the patient on an unknown relationship", records(unknown, () => patientA), 403],
    ["unknown relationship's audit", audit(unknown, () => patientA), 403],
    [
      "the operator key is no session for reads",
      () => sys.get(`/v1/relationships/${relA}/records`, { operator: true }),
      401,
    ],
  ];
});

group("provider staff routes", () => {
  const register = (init: Parameters<System["post"]>[2]) => () =>
    sys.post("/v1/patients", validPatientBody(), init);
  const upload = (init: Parameters<System["post"]>[2]) => () => postRecords(MRN_A, tinyBundle(), init);
  const key = () => sys.operatorKey;
  return [
    ["POST /v1/patients without any credential", register({}), 401],
    [
      "POST /v1/patients with a wrong operator key",
      register({ headers: { "x-operator-key": "x".repeat(48) } }),
      401,
    ],
    [
      "POST /v1/patients with the operator key minus its last character",
      () =>
        sys.post("/v1/patients", validPatientBody(), { headers: { "x-operator-key": key().slice(0, -1) } }),
      401,
    ],
    [
      "POST /v1/patients with the operator key upper-cased",
      () =>
        sys.post("/v1/patients", validPatientBody(), { headers: { "x-operator-key": key().toUpperCase() } }),
      401,
    ],
    ["POST /v1/patients with an empty operator key", register({ headers: { "x-operator-key": "" } }), 401],
    ["POST /v1/patients as a plain patient session", () => register({ token: tokenOf(patientA) })(), 403],
    ["POST /v1/patients as a viewer session", () => register({ token: tokenOf(labsViewer) })(), 403],
    [
      "POST /v1/patients with a wrong key and a patient session",
      () => register({ token: tokenOf(patientA), headers: { "x-operator-key": "y".repeat(40) } })(),
      401,
    ],
    ["POST records without any credential", upload({}), 401],
    [
      "POST records with a wrong operator key",
      upload({ headers: { "x-operator-key": "z".repeat(40) } }),
      401,
    ],
    ["POST records as a plain patient session", () => upload({ token: tokenOf(patientA) })(), 403],
    ["POST records as a stranger session", () => upload({ token: tokenOf(stranger) })(), 403],
  ];
});

group("hostile values in every parameter", () => {
  const cases: Case[] = [];
  for (const [label, encoded] of HOSTILE_URL) {
    cases.push(
      [
        `relationship id (records) = ${label}`,
        () => sys.get(`/v1/relationships/${encoded}/records`, { token: tokenOf(patientA) }),
        400,
        /^relationship: /,
      ],
      [
        `relationship id (audit) = ${label}`,
        () => sys.get(`/v1/relationships/${encoded}/audit`, { token: tokenOf(patientA) }),
        400,
        /^relationship: /,
      ],
      [
        `category = ${label}`,
        () => sys.get(`/v1/relationships/${relA}/records?category=${encoded}`, { token: tokenOf(patientA) }),
        400,
        /^category: /,
      ],
      [
        `_since = ${label}`,
        () => sys.get(`/v1/relationships/${relA}/records?_since=${encoded}`, { token: tokenOf(patientA) }),
        400,
        /^_since: /,
      ],
      [`mrn path parameter = ${label}`, () => postRecords(encoded, tinyBundle()), 400, /^mrn: /],
    );
  }
  // Unencoded traversal: the path no longer matches any route.
  for (const [name, path] of [
    ["relationship id = raw ../../etc/passwd", () => `/v1/relationships/../../etc/passwd/records`],
    ["relationship id = raw ../ to another route", () => `/v1/relationships/../patients/${MRN_A}/records`],
    ["mrn = raw ../../etc/passwd", () => `/v1/patients/../../etc/passwd/records`],
  ] as const)
    cases.push([name, () => sys.get(path(), { token: tokenOf(patientA), operator: true }), 404]);
  cases.push(
    [
      "an unknown query parameter (SQL in its name)",
      () =>
        sys.get(`/v1/relationships/${relA}/records?${encodeURIComponent("1=1;--")}=x`, {
          token: tokenOf(patientA),
        }),
      400,
    ],
    [
      "category given twice",
      () =>
        sys.get(`/v1/relationships/${relA}/records?category=labs&category=vitals`, {
          token: tokenOf(patientA),
        }),
      400,
    ],
  );
  for (const [label, value] of HOSTILE_TEXT) {
    cases.push(
      [
        `patientAddress body field = ${label}`,
        () => sys.post("/v1/patients", { mrn: "MRN-NEW-2", patientAddress: value }, { operator: true }),
        400,
        /patientAddress/,
      ],
      [
        `mrn body field = ${label}`,
        () => sys.post("/v1/patients", { mrn: value, patientAddress: patientB.address }, { operator: true }),
        400,
        /mrn/,
      ],
      [
        `SIWE nonce = ${label}`,
        async () => postSigned(stranger, await rewritten(stranger, /^Nonce: .*$/m, `Nonce: ${value}`)),
        401,
      ],
      [
        `SIWE domain = ${label}`,
        async () =>
          postSigned(
            stranger,
            await rewritten(stranger, /^.* wants you to sign in/, `${value} wants you to sign in`),
          ),
        401,
      ],
      [
        `SIWE URI = ${label}`,
        async () => postSigned(stranger, await rewritten(stranger, /^URI: .*$/m, `URI: ${value}`)),
        401,
      ],
      [
        `SIWE address = ${label}`,
        async () => postSigned(stranger, await rewritten(stranger, /^0x[0-9a-fA-F]{40}$/m, value)),
        401,
      ],
      [
        `SIWE chain id = ${label}`,
        async () => postSigned(stranger, await rewritten(stranger, /^Chain ID: .*$/m, `Chain ID: ${value}`)),
        401,
      ],
      [
        `SIWE signature = ${label}`,
        async () => sys.post("/v1/auth/session", { message: await sys.message(stranger), signature: value }),
        401,
      ],
    );
  }
  return cases;
});

group("malformed bodies", () => {
  const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
  const big = () => JSON.stringify({ ...tinyBundle(), pad: "x".repeat(5_100_000) });
  const raw =
    (path: string, rawBody: string, contentType = "application/json", operator = true) =>
    () =>
      sys.call(path, { method: "POST", rawBody, contentType, operator });
  const records = () => `/v1/patients/${MRN_A}/records`;
  return [
    [
      "malformed JSON to POST /v1/patients",
      () => raw("/v1/patients", '{"mrn": "MRN-X",')(),
      400,
      /not valid JSON/,
    ],
    [
      "malformed JSON to POST records",
      () => raw(records(), '{"resourceType": "Bundle"')(),
      400,
      /not valid JSON/,
    ],
    [
      "malformed JSON to POST /v1/auth/session",
      () => raw("/v1/auth/session", "{message:}", "application/json", false)(),
      400,
    ],
    ["JSON null body (not an object)", () => raw("/v1/patients", "null")(), 400],
    [
      "deeply nested JSON (10,000 levels) to records",
      () => raw(records(), deep(10_000))(),
      400,
      /nests deeper/,
    ],
    [
      "NDJSON whose second line nests 10,000 levels (each line obeys JSON_MAX_DEPTH)",
      () =>
        raw(
          records(),
          `{"resourceType":"Basic","id":"adv-ok"}\n{"resourceType":"Basic","x":${deep(10_000)}}\n`,
          "application/fhir+ndjson",
        )(),
      400,
      /^line 2: .*deeper than \d+ levels \(JSON_MAX_DEPTH\)/,
    ],
    [
      "deeply nested JSON (10,000 levels) to sign-in",
      () => raw("/v1/auth/session", deep(10_000), "application/json", false)(),
      400,
      /nests deeper/,
    ],
    [
      "deeply nested arrays (10,000 levels) to /v1/patients",
      () => raw("/v1/patients", `${"[".repeat(10_000)}${"]".repeat(10_000)}`)(),
      400,
      /nests deeper/,
    ],
    // Record uploads are read as a stream within RECORDS_UPLOAD_LIMIT_BYTES (64 MiB; its 413 is
    // tested in records-paging.int.test.ts): 5 MB is judged as FHIR.
    [
      "large JSON (> 5 MB) to records is read, and judged as FHIR",
      () => raw(records(), big(), "application/fhir+json")(),
      422,
      /^Bundle\.pad: /,
    ],
    [
      "oversized JSON (> 5 MB) to sign-in",
      () => raw("/v1/auth/session", big(), "application/json", false)(),
      413,
    ],
    [
      "unsupported charset",
      () => raw("/v1/patients", JSON.stringify(validPatientBody()), "application/json; charset=ebcdic")(),
      415,
    ],
    [
      "wrong content-type (text/plain) to records → 415 naming the formats",
      () => raw(records(), JSON.stringify(tinyBundle()), "text/plain")(),
      415,
      /application\/fhir\+json.*application\/fhir\+ndjson/,
    ],
    [
      "wrong content-type (application/xml) to records → 415",
      () => raw(records(), "<Bundle xmlns='http://hl7.org/fhir'/>", "application/xml")(),
      415,
      /application\/fhir\+json/,
    ],
    [
      "wrong content-type (text/plain) to POST /v1/patients",
      () => raw("/v1/patients", JSON.stringify(validPatientBody()), "text/plain")(),
      400,
      /mrn/,
    ],
    [
      "wrong content-type (form) to sign-in",
      () => raw("/v1/auth/session", "message=x&signature=y", "application/x-www-form-urlencoded", false)(),
      401,
    ],
    ["records for an unknown MRN", () => postRecords("MRN-NOBODY", tinyBundle()), 404],
  ];
});

group("invalid FHIR bundles (422 naming the element path)", () => {
  const post = (body: unknown) => () => postRecords(MRN_A, body);
  const patient = (extra: Record<string, unknown>) => ({ resourceType: "Patient", id: "adv-p", ...extra });
  return [
    ["wrong top-level resourceType", post(patient({})), 422, /^Bundle: /],
    ["a JSON array instead of a Bundle", post([tinyBundle()]), 422, /^Bundle: /],
    ["Bundle.type searchset", post(bundleWith(patient({}), "searchset")), 422, /Bundle\.type: /],
    ["Bundle.type document", post(bundleWith(patient({}), "document")), 422, /Bundle\.type: /],
    [
      "Bundle.entry not an array",
      post({ resourceType: "Bundle", type: "collection", entry: {} }),
      422,
      /Bundle\.entry: /,
    ],
    [
      "an entry without a resource",
      post({ resourceType: "Bundle", type: "collection", entry: [{ fullUrl: "urn:uuid:x" }] }),
      422,
      /Bundle\.entry\[0\]\.resource: /,
    ],
    [
      "an unknown resourceType in an entry",
      post(bundleWith({ resourceType: "MedicalSecret", id: "x" })),
      422,
      /Bundle\.entry\[0\]\.resource\.resourceType: /,
    ],
    [
      "a bad date",
      post(bundleWith(patient({ birthDate: "1990-13-45" }))),
      422,
      /Bundle\.entry\[0\]\.resource\.birthDate: /,
    ],
    [
      "an unknown element",
      post(bundleWith(patient({ favouriteColour: "blue" }))),
      422,
      /Bundle\.entry\[0\]\.resource\.favouriteColour/,
    ],
    [
      "a code outside the required value set",
      post(bundleWith(patient({ gender: "' OR 1=1--" }))),
      422,
      /Bundle\.entry\[0\]\.resource\.gender: /,
    ],
    [
      "an invalid resource id (SQL)",
      post(bundleWith(patient({ id: "1; DROP TABLE audit_log;--" }))),
      422,
      /Bundle\.entry\[0\]\.resource\.id: /,
    ],
    [
      "a NUL character in a string",
      post(bundleWith(patient({ name: [{ family: "Ro\u0000bert" }] }))),
      422,
      /Bundle\.entry\[0\]\.resource\.name\[0\]\.family: /,
    ],
    [
      "a nested Bundle as a record",
      post(bundleWith({ resourceType: "Bundle", type: "collection" })),
      422,
      /Bundle\.entry\[0\]\.resource\.resourceType: /,
    ],
    [
      "a transaction entry with DELETE",
      post({
        resourceType: "Bundle",
        type: "transaction",
        entry: [{ resource: patient({}), request: { method: "DELETE", url: "Patient/adv-p" } }],
      }),
      422,
      /Bundle\.entry\[0\]\.request\.method: /,
    ],
    [
      "the second entry invalid (all or nothing)",
      post({
        resourceType: "Bundle",
        type: "collection",
        entry: [
          { resource: { resourceType: "Basic", id: "adv-ok", code: { text: "x" } } },
          { resource: patient({ active: "yes" }) },
        ],
      }),
      422,
      /Bundle\.entry\[1\]\.resource\.active: /,
    ],
  ];
});

describe("scopes cover everything a resource carries (contained resources, nested Bundles)", () => {
  const readB = (as: PrivateKeyAccount | Patient) =>
    sys.get(`/v1/relationships/${relB}/records`, { token: tokenOf(as) });
  const ids = (r: Reply) => (r.json.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id);

  test("default: the patient reads both carriers, whole, each verifiable on the on-chain root", async () => {
    const r = await readB(patientB);
    assert.equal(r.status, 200, r.text);
    for (const carrier of Object.values(CARRIERS)) assert.ok(ids(r).includes(carrier.id), carrier.id);
    assert.ok(r.text.includes("Nested restricted diagnosis ZK4"));
    assert.ok(verifyBundle(r.json, (await sys.relationshipOf(relB)).recordRoot).valid);
  });

  test("behavior: a viewer granted encounters gets the plain encounters, not the one carrying a Condition", async () => {
    const r = await readB(encountersViewer);
    assert.equal(r.status, 200, r.text);
    const plain = B.resources.filter((x) => x.resourceType === "Encounter").map((x) => x.id as string);
    assert.ok(plain.length > 0, "the seeded set has encounters");
    assert.deepEqual([...ids(r)].sort(), [...plain].sort());
    assert.ok(!r.text.includes("Contained reason XQ7"));
  });

  test("behavior: every category but sensitive → the Encounter with its Condition, never the lab whose nested Bundle holds a restricted label", async () => {
    const r = await readB(allButSensitiveViewer);
    assert.equal(r.status, 200, r.text);
    assert.ok(ids(r).includes(CARRIERS.encounter.id));
    assert.ok(!ids(r).includes(CARRIERS.lab.id));
    assert.ok(!r.text.includes("Nested restricted diagnosis ZK4"));
    assert.ok(!r.text.includes(B.sensitiveLab.id as string), "nor the plainly restricted lab");
    assert.ok(verifyBundle(r.json, (await sys.relationshipOf(relB)).recordRoot).valid);
  });
});

describe("answers that must not tell anything apart", () => {
  test("error: an unknown relationship gets the very same 403 as an existing one the caller may not read", async () => {
    const bodies = new Set<string>();
    for (const [rel, who] of [
      [relA, stranger],
      [UNKNOWN, stranger],
      [relA, revokedViewer],
      [relA, expiredViewer],
      [UNKNOWN, patientA],
      [relB, labsViewer],
    ] as const) {
      const r = await sys.get(`/v1/relationships/${rel}/records`, { token: tokenOf(who) });
      assertProblem(r, 403, SECRETS);
      bodies.add(r.text);
    }
    assert.equal(bodies.size, 1, [...bodies].join("\n"));
  });

  test("error: a sign-in URI outside a base URL that has a path (`/gk` vs `/gkx`, `/other`, `/gk/../x`) → 401", async () => {
    // This system's base URL is the origin's root, under which every path lies; the rule for a base
    // URL with a path is checked on the gatekeeper's own sign-in service, on the same database.
    const base = `${sys.url}/gk`;
    const auth = createAuth({
      config: { PUBLIC_URL: base, SESSION_TTL_SECONDS: 3600, OPERATOR_KEY: undefined },
      db: sys.gk.db,
      chainId: sys.chainId,
    });
    for (const uri of [`${sys.url}/gkx`, `${sys.url}/other`, `${sys.url}/gk/../x`, `${sys.url}/`]) {
      const message = await sys.message(stranger, { uri, nonce: await auth.service.issueNonce() });
      await assert.rejects(
        auth.service.signIn({ message, signature: await stranger.signMessage({ message }) }),
        (error: unknown) =>
          error instanceof ProblemError &&
          error.kind === "unauthorized" &&
          /URI is not under/.test(error.detail),
        uri,
      );
    }
    const message = await sys.message(stranger, {
      uri: `${base}/v1`,
      nonce: await auth.service.issueNonce(),
    });
    const ok = await auth.service.signIn({ message, signature: await stranger.signMessage({ message }) });
    assert.equal(ok.address, stranger.address);
  });
});

describe("after the attacks", () => {
  test("behavior: the database still has its tables and rows; nothing was dropped or rewritten", async () => {
    for (const table of Object.keys(counts)) assert.ok(await sys.gk.db.schema.hasTable(table), table);
    const now = async (t: string) => Number((await sys.gk.db(t).count({ n: "*" }))[0]?.n);
    assert.equal(await now("patients"), counts.patients, "no patient added or removed");
    assert.equal(
      await now("record_resources"),
      counts.record_resources,
      "no record stored by a refused upload",
    );
    assert.equal(await now("record_sets"), counts.record_sets);
    assert.ok((await now("audit_log")) > (counts.audit_log as number), "the attempts were audited");
    assert.deepEqual(
      (await sys.gk.db("patients").select("mrn").orderBy("mrn")).map((r) => r.mrn),
      [MRN_A, MRN_B],
    );
  });

  test("behavior: every refused read is in the patient's audit, and the whole audit log still verifies", async () => {
    const served = await sys.get(`/v1/relationships/${relA}/audit`, { token: tokenOf(patientA) });
    assert.equal(served.status, 200);
    assert.equal(findAuditChainBreak(served.json), -1);
    const denied = served.json.filter((e: { decision: string }) => e.decision === "denied");
    assert.ok(denied.length >= 12, `${denied.length} denied decisions`);
    const verified = await sys.auditVerify();
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /audit log intact/);
  });

  test("behavior: still healthy; the same authorized read works and a granted viewer still reads labs", async () => {
    await assertHealthy();
    const r = await readA(labsViewer, "?category=labs");
    assert.equal(r.status, 200);
    assert.ok((r.json.entry ?? []).length > 0);
  });
});
