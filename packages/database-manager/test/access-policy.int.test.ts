/**
 * The access POLICY of the record, relationship and audit routes, on in-memory stand-ins of the
 * chain view and the records (real PostgreSQL for sessions and the audit log). This is not
 * evidence that the chain is enforced: that is `system.int.test.ts` (the whole gatekeeper on real
 * geth), `adversarial.int.test.ts`, `chain.int.test.ts` and the black-box check (`scripts/check.ts`).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CONFIDENTIALITY_SYSTEM,
  findAuditChainBreak,
  leafHash,
  OBSERVATION_CATEGORY_SYSTEM,
  recordTree,
  relationshipsResponseSchema,
  requiredScopes,
  SCOPE_BITS,
  type ScopeCode,
  scopesToMask,
  verifyBundle,
} from "@medrec/protocol";
import { fetchReply, sessionToken } from "@medrec/testkit";
import { pino } from "pino";
import { type Address, type Hex, isAddressEqual } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { accessModule } from "../src/access/index.ts";
import { createAuditLog } from "../src/audit/index.ts";
import { createAuth } from "../src/auth/index.ts";
import { loadConfig } from "../src/config.ts";
import { ProblemError } from "../src/errors.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import type { HealthCheck } from "../src/ops/health.ts";
import type { ChainView, FhirResource, RecordSet, RecordsService, RelationshipView } from "../src/seams.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

// ── In-memory stand-ins, ONLY to isolate the route logic (the integrator runs the real ones) ──

type Grant = { scopes: number; expires: number; revoked: boolean };
type MemoryRelationship = {
  view: RelationshipView;
  patientId: number;
  controllers: Address[];
  grants: Map<Address, Grant>;
};

class MemoryChainView implements ChainView {
  current = true;
  readonly relationships = new Map<Hex, MemoryRelationship>();
  assertCurrent(): void {
    if (!this.current) throw new ProblemError("unavailable", "The chain view is not current.");
  }
  relationship(id: Hex) {
    return this.relationships.get(id)?.view;
  }
  isPatientController(id: Hex, account: Address) {
    return this.relationships.get(id)?.controllers.some((c) => isAddressEqual(c, account)) ?? false;
  }
  viewerScopes(id: Hex, viewer: Address, nowSeconds: number) {
    const r = this.relationships.get(id);
    const grant = [...(r?.grants ?? [])].find(([a]) => isAddressEqual(a, viewer))?.[1];
    if (!r || r.view.ended || !grant || grant.revoked || grant.expires <= nowSeconds) return 0;
    return grant.scopes;
  }
  relationshipsOf(account: Address, nowSeconds: number) {
    const out: { id: Hex; role: "patient" | "viewer" }[] = [];
    for (const id of this.relationships.keys()) {
      if (this.isPatientController(id, account)) out.push({ id, role: "patient" });
      else if (this.viewerScopes(id, account, nowSeconds) !== 0) out.push({ id, role: "viewer" });
    }
    return out;
  }
  patientIdOf(id: Hex) {
    return this.relationships.get(id)?.patientId;
  }
  health(): HealthCheck {
    return { name: "chain", check: async () => this.assertCurrent() };
  }
}

class MemoryRecords implements RecordsService {
  readonly sets = new Map<number, RecordSet>();
  put(patientId: number, resources: FhirResource[], lastUpdated: (i: number) => Date): RecordSet {
    const leaves = resources.map((r) => leafHash(r));
    const { root, proofs } = recordTree(leaves);
    const set: RecordSet = {
      patientId,
      root,
      resources: resources.map((resource, i) => ({
        resource,
        leaf: leaves[i] as Hex,
        scopeMask: requiredScopes(resource),
        lastUpdated: lastUpdated(i),
      })),
      proofs,
    };
    this.sets.set(patientId, set);
    return set;
  }
  async ingestBundle(): Promise<never> {
    throw new Error("not in this test");
  }
  async recordSet(patientId: number) {
    return this.sets.get(patientId) ?? this.put(patientId, [], () => new Date());
  }
  onChange() {
    return () => undefined;
  }
}

// ── Fixtures ──

const PUBLIC_URL = "http://gatekeeper.test:7101";
const CHAIN_ID = 633732;
const patient = privateKeyToAccount(generatePrivateKey());
const labViewer = privateKeyToAccount(generatePrivateKey());
const sensitiveLabViewer = privateKeyToAccount(generatePrivateKey());
const revokedViewer = privateKeyToAccount(generatePrivateKey());
const expiredViewer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const REL = `0x${"ab".repeat(32)}` as Hex;
const UNKNOWN = `0x${"cd".repeat(32)}` as Hex;

const restricted = { security: [{ system: CONFIDENTIALITY_SYSTEM, code: "R" }] };
const observation = (id: string, category: string, extra: Record<string, unknown> = {}): FhirResource => ({
  resourceType: "Observation",
  id,
  status: "final",
  category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: category }] }],
  code: { text: id },
  ...extra,
});
/** 20 resources: every category, two sensitive (a lab and a condition). */
const RESOURCES: FhirResource[] = [
  { resourceType: "Patient", id: "p1", name: [{ family: "Doe" }] },
  { resourceType: "Encounter", id: "e1", status: "finished" },
  { resourceType: "Encounter", id: "e2", status: "finished" },
  { resourceType: "Condition", id: "c1", code: { text: "asthma" } },
  { resourceType: "Condition", id: "c2-sensitive", meta: restricted, code: { text: "depression" } },
  { resourceType: "MedicationRequest", id: "m1", status: "active" },
  { resourceType: "MedicationStatement", id: "m2", status: "active" },
  { resourceType: "AllergyIntolerance", id: "a1" },
  { resourceType: "Immunization", id: "i1", status: "completed" },
  observation("lab-1", "laboratory"),
  observation("lab-2", "laboratory"),
  observation("lab-3-sensitive", "laboratory", { meta: restricted }),
  { resourceType: "DiagnosticReport", id: "dr1", status: "final" },
  observation("vital-1", "vital-signs"),
  observation("vital-2", "vital-signs"),
  { resourceType: "DocumentReference", id: "doc1", status: "current" },
  { resourceType: "Procedure", id: "proc1", status: "completed" },
  { resourceType: "Procedure", id: "proc2", status: "completed" },
  { resourceType: "Basic", id: "other1" },
  { resourceType: "Flag", id: "other2", status: "active" },
];
const EARLY = new Date("2024-01-01T00:00:00Z");
const LATE = new Date("2025-06-01T00:00:00Z");

const bit = (code: ScopeCode) => 1 << SCOPE_BITS[code];
const chain = new MemoryChainView();
const records = new MemoryRecords();
const set = records.put(7, RESOURCES, (i) => (i < 10 ? EARLY : LATE));
const nowSeconds = () => Math.floor(Date.now() / 1000);
chain.relationships.set(REL, {
  view: {
    id: REL,
    patientAgent: patient.address,
    provider: stranger.address,
    ended: false,
    recordRoot: set.root,
    sequence: 1n,
  },
  patientId: 7,
  controllers: [patient.address],
  grants: new Map([
    [labViewer.address, { scopes: bit("labs"), expires: nowSeconds() + 3600, revoked: false }],
    [
      sensitiveLabViewer.address,
      { scopes: scopesToMask(["labs", "sensitive"]), expires: nowSeconds() + 3600, revoked: false },
    ],
    [revokedViewer.address, { scopes: 0xc3ff, expires: nowSeconds() + 3600, revoked: true }],
    [expiredViewer.address, { scopes: 0xc3ff, expires: nowSeconds() - 1, revoked: false }],
  ]),
});

// ── Harness ──

let server: TestPostgres;
let gk: Gatekeeper;
let failingGk: Gatekeeper;
const tokens = new Map<Address, string>();

before(async () => {
  server = await startTestPostgres();
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: await createTestDatabase(server.url, "access"),
    PUBLIC_URL,
    RATE_LIMIT_PER_MINUTE: "1000000",
  });
  gk = await startGatekeeper({
    chain: false,
    config,
    logger: pino({ level: "silent" }),
    modules: (db) => {
      const auth = createAuth({ config, db, chainId: CHAIN_ID });
      return [
        auth.module,
        accessModule({ view: chain, records, audit: createAuditLog(db), guards: auth.guards }),
      ];
    },
  });
  // Same database and sessions; an audit log that cannot write.
  const failing: Parameters<typeof accessModule>[0]["audit"] = {
    append: async () => {
      throw new ProblemError(
        "unavailable",
        "The access decision could not be recorded, so nothing was served.",
      );
    },
    page: async () => ({ entries: [], next: undefined }),
    head: async () => ({
      anchor: null,
      log: null,
      anchored: { size: 0, root: `0x${"00".repeat(32)}` },
      size: 0,
    }),
    consistency: async () => undefined,
  };
  failingGk = await startGatekeeper({
    chain: false,
    config: { ...config, DATABASE_URL: config.DATABASE_URL as string },
    logger: pino({ level: "silent" }),
    modules: (db) => {
      const auth = createAuth({ config, db, chainId: CHAIN_ID });
      return [auth.module, accessModule({ view: chain, records, audit: failing, guards: auth.guards })];
    },
  });
  for (const account of [patient, labViewer, sensitiveLabViewer, revokedViewer, expiredViewer, stranger])
    tokens.set(
      account.address,
      await sessionToken({ url: gk.url, publicUrl: PUBLIC_URL, account, chainId: CHAIN_ID }),
    );
});
after(async () => {
  await failingGk?.stop();
  await gk?.stop();
  await server?.stop();
});

const get = (path: string, as?: PrivateKeyAccount, base = gk.url) =>
  fetchReply(`${base}${path}`, { headers: as ? { authorization: `Bearer ${tokens.get(as.address)}` } : {} });

const ids = (bundle: { entry?: { resource: { id: string } }[] }) =>
  (bundle.entry ?? []).map((e) => e.resource.id).sort();
const allIds = RESOURCES.map((r) => r.id as string).sort();

function assertVerified(bundle: unknown) {
  const verdict = verifyBundle(bundle, set.root);
  assert.ok(verdict.rootMatches, "root in Bundle.meta.extension");
  assert.ok(
    verdict.entries.every((e) => e.valid),
    "every entry proven against the on-chain root",
  );
  assert.ok(verdict.valid);
}

// ── Tests ──

describe("policy on stand-ins: GET /v1/relationships/{relationship}/records", () => {
  test("default: the patient sees all 20 entries, each with a valid proof against the stand-in view's root", async () => {
    const r = await get(`/v1/relationships/${REL}/records`, patient);
    assert.equal(r.status, 200, r.text);
    assert.match(r.type, /^application\/fhir\+json/);
    assert.equal(r.headers.get("cache-control"), "no-store");
    assert.equal(r.json.resourceType, "Bundle");
    assert.equal(r.json.type, "searchset");
    assert.equal(r.json.total, 20);
    assert.deepEqual(ids(r.json), allIds);
    assertVerified(r.json);
  });

  test("behavior: the relationship id is accepted in any case", async () => {
    const r = await get(`/v1/relationships/${REL.toUpperCase().replace("0X", "0x")}/records`, patient);
    assert.equal(r.status, 200);
  });

  test("behavior: ?category= and ?_since= narrow the patient's bundle; proofs still verify", async () => {
    const labs = await get(`/v1/relationships/${REL}/records?category=labs`, patient);
    assert.deepEqual(ids(labs.json), ["dr1", "lab-1", "lab-2", "lab-3-sensitive"]);
    assertVerified(labs.json);
    const since = await get(`/v1/relationships/${REL}/records?_since=2025-01-01`, patient);
    assert.deepEqual(
      ids(since.json),
      RESOURCES.slice(10)
        .map((r) => r.id as string)
        .sort(),
    );
    assertVerified(since.json);
    const both = await get(
      `/v1/relationships/${REL}/records?category=labs&_since=2025-01-01T00:00:00Z`,
      patient,
    );
    assert.deepEqual(ids(both.json), ["dr1", "lab-2", "lab-3-sensitive"]);
    const sensitive = await get(`/v1/relationships/${REL}/records?category=sensitive`, patient);
    assert.deepEqual(ids(sensitive.json), ["c2-sensitive", "lab-3-sensitive"]);
  });

  test("behavior: a viewer granted labs sees only the non-sensitive labs, each verifiable", async () => {
    for (const query of ["", "?category=labs"]) {
      const r = await get(`/v1/relationships/${REL}/records${query}`, labViewer);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(ids(r.json), ["dr1", "lab-1", "lab-2"]);
      assert.ok(!r.text.includes("sensitive") && !r.text.includes("depression"));
      assertVerified(r.json);
    }
  });

  test("behavior: a viewer granted labs + sensitive also sees the sensitive lab, never the sensitive condition", async () => {
    const r = await get(`/v1/relationships/${REL}/records`, sensitiveLabViewer);
    assert.deepEqual(ids(r.json), ["dr1", "lab-1", "lab-2", "lab-3-sensitive"]);
    assertVerified(r.json);
  });

  test("behavior: a category the grant covers but the set lacks → 200 with an empty bundle", async () => {
    const r = await get(`/v1/relationships/${REL}/records?category=labs&_since=2030-01-01`, labViewer);
    assert.equal(r.status, 200);
    assert.equal(r.json.total, 0);
    assert.equal(r.json.entry, undefined);
  });

  test("error: a category outside the grant, revoked, expired, a stranger and an unknown relationship → the same 403", async () => {
    const cases: [string, PrivateKeyAccount][] = [
      [`/v1/relationships/${REL}/records?category=conditions`, labViewer],
      [`/v1/relationships/${REL}/records`, revokedViewer],
      [`/v1/relationships/${REL}/records`, expiredViewer],
      [`/v1/relationships/${REL}/records`, stranger],
      [`/v1/relationships/${UNKNOWN}/records`, stranger],
      [`/v1/relationships/${UNKNOWN}/records`, patient],
    ];
    const bodies = new Set<string>();
    for (const [path, who] of cases) {
      const r = await get(path, who);
      assert.equal(r.status, 403, path);
      assert.match(r.type, /^application\/problem\+json/);
      bodies.add(r.text);
    }
    assert.equal(bodies.size, 1, "one answer, whether or not the relationship exists");
  });

  test("error: a stale chain view → 503 for every permission-dependent route; nothing served", async () => {
    chain.current = false;
    try {
      for (const path of [
        `/v1/relationships/${REL}/records`,
        `/v1/relationships/${REL}/audit`,
        "/v1/relationships",
      ]) {
        const r = await get(path, patient);
        assert.equal(r.status, 503, path);
        assert.match(r.type, /^application\/problem\+json/);
        assert.ok(!r.text.includes("Observation"));
      }
    } finally {
      chain.current = true;
    }
  });

  test("error: when the decision cannot be audited → 503, nothing served", async () => {
    const r = await get(`/v1/relationships/${REL}/records`, patient, failingGk.url);
    assert.equal(r.status, 503);
    assert.ok(!r.text.includes("Observation"));
  });

  test("error: invalid parameters → 400 naming the parameter, never echoing the value", async () => {
    const cases: [string, RegExp][] = [
      [`/v1/relationships/0x1234/records`, /^relationship: /],
      [`/v1/relationships/${REL}x/records`, /^relationship: /],
      [`/v1/relationships/${encodeURIComponent("0x' OR 1=1 --")}/records`, /^relationship: /],
      [`/v1/relationships/${REL}/records?category=${encodeURIComponent("labs' OR '1'='1")}`, /^category: /],
      [`/v1/relationships/${REL}/records?category=Labs`, /^category: /],
      [`/v1/relationships/${REL}/records?category=labs&category=vitals`, /^category: /],
      [
        `/v1/relationships/${REL}/records?_since=${encodeURIComponent("2024-01-01'; DROP TABLE audit_log; --")}`,
        /^_since: /,
      ],
      [`/v1/relationships/${REL}/records?_since=2024-13-45`, /^_since: /],
      [`/v1/relationships/${REL}/records?_since=yesterday`, /^_since: /],
      [`/v1/relationships/${REL}/records?${encodeURIComponent("<script>")}=1`, /^Only the query parameters/],
    ];
    for (const [path, detail] of cases) {
      const r = await get(path, patient);
      assert.equal(r.status, 400, path);
      assert.match(r.json.detail, detail);
      for (const bad of ["OR", "DROP", "script", "2024-13-45", "yesterday", "Labs"])
        assert.ok(!r.text.includes(bad), `${path} echoes ${bad}`);
    }
  });

  test("error: no session → 401", async () => {
    assert.equal((await get(`/v1/relationships/${REL}/records`)).status, 401);
    assert.equal((await get(`/v1/relationships`)).status, 401);
    assert.equal((await get(`/v1/relationships/${REL}/audit`)).status, 401);
  });
});

describe("policy on stand-ins: GET /v1/relationships", () => {
  test("default: the patient's and a viewer's relationships with the stand-in view's root", async () => {
    const mine = relationshipsResponseSchema.parse((await get("/v1/relationships", patient)).json);
    assert.deepEqual(mine, [
      { relationship: REL, role: "patient", recordRoot: set.root, updatedAt: LATE.toISOString() },
    ]);
    const viewer = (await get("/v1/relationships", labViewer)).json;
    assert.deepEqual(
      viewer.map((r: { role: string }) => r.role),
      ["viewer"],
    );
    assert.deepEqual((await get("/v1/relationships", revokedViewer)).json, []);
    assert.deepEqual((await get("/v1/relationships", stranger)).json, []);
  });
});

describe("policy on stand-ins: GET /v1/relationships/{relationship}/audit", () => {
  test("behavior: every decision — allowed and denied, with categories — is in the patient's hash-chained audit", async () => {
    const before = (await get(`/v1/relationships/${REL}/audit`, patient)).json.length;
    await get(`/v1/relationships/${REL}/records?category=labs`, labViewer);
    await get(`/v1/relationships/${REL}/records?category=conditions`, labViewer);
    await get(`/v1/relationships/${REL}/records`, sensitiveLabViewer);
    await get(`/v1/relationships/${REL}/records`, revokedViewer);
    const r = await get(`/v1/relationships/${REL}/audit`, patient);
    assert.equal(r.status, 200);
    const entries = r.json as { actor: string; action: string; categories: string[]; decision: string }[];
    assert.equal(
      entries.length,
      before + 5,
      "4 reads and this audit read, each recorded before it was answered",
    );
    assert.equal(findAuditChainBreak(r.json), -1);
    assert.deepEqual(
      entries
        .slice(-5)
        .map(({ actor, action, categories, decision }) => ({ actor, action, categories, decision })),
      [
        { actor: labViewer.address, action: "records.read", categories: ["labs"], decision: "allowed" },
        { actor: labViewer.address, action: "records.read", categories: ["conditions"], decision: "denied" },
        {
          actor: sensitiveLabViewer.address,
          action: "records.read",
          categories: ["labs", "sensitive"],
          decision: "allowed",
        },
        { actor: revokedViewer.address, action: "records.read", categories: [], decision: "denied" },
        { actor: patient.address, action: "audit.read", categories: [], decision: "allowed" },
      ],
    );
  });

  test("behavior: a denied read of a relationship this provider does not hold is not audited (metrics count it)", async () => {
    assert.equal((await get(`/v1/relationships/${UNKNOWN}/records`, stranger)).status, 403);
    const rows = await gk.db("audit_log").where({ relationship: UNKNOWN });
    assert.equal(rows.length, 0);
  });

  test("error: a viewer, a stranger, an unknown relationship → 403 (the attempts on a held one are audited)", async () => {
    const count = async () => Number((await gk.db("audit_log").count({ n: "*" }))[0]?.n);
    const start = await count();
    for (const [path, who] of [
      [`/v1/relationships/${REL}/audit`, labViewer],
      [`/v1/relationships/${REL}/audit`, stranger],
      [`/v1/relationships/${UNKNOWN}/audit`, patient],
    ] as const) {
      assert.equal((await get(path, who)).status, 403, path);
    }
    assert.equal(await count(), start + 2);
  });
});

describe("policy on stand-ins: OpenAPI", () => {
  test("behavior: every read route is documented with its problems", async () => {
    const doc = (await get("/openapi.json")).json;
    for (const path of ["/v1/relationships/{relationship}/records", "/v1/relationships/{relationship}/audit"])
      for (const status of ["200", "400", "401", "403", "503"])
        assert.ok(doc.paths[path].get.responses[status], `${path} ${status}`);
    assert.ok(doc.paths["/v1/relationships"].get.responses["503"]);
  });
});
