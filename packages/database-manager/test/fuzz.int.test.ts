/**
 * The whole gatekeeper (real geth chain, real PostgreSQL server) fuzzed over raw sockets: the
 * named corpus (fuzz.corpus.ts and the shared KNOWN_BAD), then 10,000 seeded requests
 * (FUZZ_SEED overrides the seed) aimed at every documented route — read from its own
 * /openapi.json — with and without a patient's session or the operator key, with hostile targets,
 * headers, framing and bodies (broken JSON, NDJSON and FHIR Bundles, relay and sign-in bodies of
 * the wrong types, deep nesting). Every answer is a status below 600, every error one
 * problem+json with no stack trace and no record content, and no 500. Afterwards the process
 * still serves /healthz and the patient's read, and its heap (after GC) grew less than
 * HEAP_GROWTH_LIMIT.
 * What Node's parser refuses is one problem+json too (@medrec/protocol/http-guard).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiPaths } from "@medrec/protocol";
import {
  type FuzzBody,
  type FuzzRoute,
  fuzzHttp,
  heapUsedAfterGc,
  KNOWN_BAD,
  type RawReply,
  replyProblems,
  requestArbitrary,
  sendRequest,
} from "@medrec/testkit/fuzz";
import fc from "fast-check";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Patient } from "./chain.support.ts";
import { gatekeeperCorpus } from "./fuzz.corpus.ts";
import { type System, seededRecords, startSystem } from "./system.support.ts";

const MIB = 1024 * 1024;
/** The heap after GC may grow by at most this much over the 10,000 requests (after a warm-up). */
const HEAP_GROWTH_LIMIT = 64 * MIB;
const MRN = "MRN-FUZZ-A";
const RECORDS = seededRecords(404, 0, MRN);

let sys: System;
let patient: Patient;
let relationship: Hex;
let patientToken: string;
let strangerToken: string;
let port: number;

before(async () => {
  sys = await startSystem("fuzz", {
    database: "server",
    // 10,000 requests in well under a minute from one address: the per-minute limit would answer
    // most of them 429 and keep them from the routes.
    config: { RATE_LIMIT_PER_MINUTE: "100000000" },
  });
  port = Number(new URL(sys.url).port);
  patient = await sys.env.patient();
  relationship = await sys.registerPatient(MRN, patient);
  await sys.rootPublished(relationship, await sys.ingest(MRN, RECORDS.bundle));
  patientToken = await sys.signIn(patient.account);
  strangerToken = await sys.signIn(privateKeyToAccount(generatePrivateKey()));
});
after(async () => {
  await sys?.stop();
});

/** No record content of the patient in any error (ids, names, values, the MRN). */
function noRecordContent(_request: unknown, reply: RawReply): string[] {
  if (reply.kind !== "answer" || reply.status < 400) return [];
  const text = reply.body.toString("utf8");
  return RECORDS.distinctive.filter((value) => text.includes(value)).map((v) => `an error echoes ${v}`);
}

/** The patient's read (in a new session: the fuzzing may have ended theirs) and /healthz still answer. */
async function assertServing() {
  const health = await sys.get("/healthz");
  assert.equal(health.status, 200, health.text);
  // The run kept this process busy: the chain view may be a few blocks behind (a 503 until then).
  await sys.viewAt(await sys.env.publicClient.getBlockNumber());
  const read = await sys.get(apiPaths.records(relationship), { token: await sys.signIn(patient.account) });
  assert.equal(read.status, 200, read.text.slice(0, 300));
  assert.equal(read.json.resourceType, "Bundle");
}

/** Every documented operation of the running gatekeeper, from its /openapi.json. */
async function documentedRoutes(): Promise<FuzzRoute[]> {
  const openapi = await sys.get(apiPaths.openapi);
  assert.equal(openapi.status, 200);
  const routes: FuzzRoute[] = [];
  for (const [path, operations] of Object.entries(openapi.json.paths as Record<string, object>))
    for (const method of Object.keys(operations))
      if (/^(get|post|put|patch|delete|head|options)$/.test(method))
        routes.push({ method: method.toUpperCase(), path });
  return routes;
}

const hexOf = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => `0x${Buffer.from(b).toString("hex")}`);
const hostileString = fc.oneof(
  fc.string({ maxLength: 30 }),
  hexOf(20),
  hexOf(32),
  fc.constantFrom("0x", "-1", "1e999", "NaN"),
);
const looseValue = fc.oneof(hostileString, fc.jsonValue({ maxDepth: 2 }));
const asJson =
  (contentType: string) =>
  (value: unknown): FuzzBody => ({ contentType, body: Buffer.from(JSON.stringify(value) ?? "") });

/** Bodies shaped like each route's, with wrong types, missing and extra fields. */
function routeBodies(): fc.Arbitrary<FuzzBody>[] {
  const resources = RECORDS.resources;
  const resourceKeys = [
    "resourceType",
    "id",
    "status",
    "code",
    "subject",
    "category",
    "meta",
    "valueQuantity",
    "effectiveDateTime",
    "identifier",
  ];
  // A real Bundle with one entry's field replaced (a FHIR Bundle with wrong types).
  const bundle = fc
    .tuple(fc.nat({ max: resources.length }), fc.constantFrom(...resourceKeys), fc.jsonValue({ maxDepth: 3 }))
    .map(([i, key, value]) => ({
      resourceType: "Bundle",
      type: "collection",
      entry: resources.map((resource, j) => ({
        resource: j === i ? { ...resource, [key]: value } : resource,
      })),
    }))
    .map(asJson("application/fhir+json"));
  const bundleShape = fc
    .record(
      {
        resourceType: fc.oneof(fc.constant("Bundle"), looseValue),
        type: looseValue,
        entry: fc.oneof(looseValue, fc.array(looseValue, { maxLength: 4 })),
      },
      { requiredKeys: [] },
    )
    .map(asJson("application/fhir+json"));
  // NDJSON: the records one a line, one line cut somewhere.
  const ndjson = fc.tuple(fc.nat({ max: resources.length - 1 }), fc.nat({ max: 200 })).map(([i, cut]) => ({
    contentType: "application/fhir+ndjson",
    body: Buffer.from(
      resources.map((r, j) => (j === i ? JSON.stringify(r).slice(0, cut) : JSON.stringify(r))).join("\n"),
    ),
  }));
  const relay = fc
    .record(
      {
        request: fc.oneof(
          looseValue,
          fc.record(
            {
              from: looseValue,
              to: looseValue,
              value: looseValue,
              gas: looseValue,
              nonce: looseValue,
              deadline: looseValue,
              data: looseValue,
            },
            { requiredKeys: [] },
          ),
        ),
        signature: fc.oneof(hexOf(65), looseValue),
      },
      { requiredKeys: [] },
    )
    .map(asJson("application/json"));
  const session = fc
    .record(
      {
        message: fc.oneof(fc.string({ maxLength: 400 }), looseValue),
        signature: fc.oneof(hexOf(65), looseValue),
      },
      { requiredKeys: [] },
    )
    .map(asJson("application/json"));
  // The patient's address is linked already: a well-formed body is a 409, never a new relationship.
  const patients = fc
    .record(
      {
        mrn: fc.oneof(fc.constant(MRN), looseValue),
        patientAddress: fc.oneof(fc.constant(patient.address), looseValue),
      },
      { requiredKeys: [] },
    )
    .map(asJson("application/json"));
  return [bundle, bundleShape, ndjson, relay, session, patients];
}

describe("the gatekeeper under hostile requests", () => {
  test("behavior: serves before the run", assertServing);

  test("error: the named corpus — every request answered within the properties", async () => {
    const corpus = [
      ...gatekeeperCorpus({ relationship, mrn: MRN, patientToken, operatorKey: sys.operatorKey }),
      ...KNOWN_BAD,
    ];
    const failures: string[] = [];
    for (const request of corpus) {
      const reply = await sendRequest({ port }, request);
      const problems = [...replyProblems(request, reply), ...noRecordContent(request, reply)];
      if (problems.length) failures.push(`${request.name}: ${problems.join("; ")}`);
    }
    assert.deepEqual(failures, []);
    await assertServing();
  });

  test("testFuzz: 10,000 generated requests at every documented route; the gatekeeper lives on with a bounded heap", async () => {
    const arbitrary = requestArbitrary({
      routes: [...(await documentedRoutes()), { method: "GET", path: apiPaths.openapi }],
      params: [relationship, MRN, patient.address, `0x${"00".repeat(32)}`],
      queryNames: ["category", "_since", "_count", "_root", "_offset", "after", "limit", "from", "to"],
      credentials: [
        ["Authorization", `Bearer ${patientToken}`],
        ["Authorization", `Bearer ${strangerToken}`],
        ["X-Operator-Key", sys.operatorKey],
      ],
      bodies: routeBodies(),
    });
    // Warm-up (JIT, pools, caches), then the baseline.
    await fuzzHttp({
      server: { port },
      arbitrary,
      requests: 500,
      seed: 1,
      check: noRecordContent,
    });
    const heapBefore = heapUsedAfterGc();
    const rssBefore = process.memoryUsage().rss;
    const result = await fuzzHttp({ server: { port }, arbitrary, check: noRecordContent });
    const heapAfter = heapUsedAfterGc();
    console.log(
      `gatekeeper fuzz: seed ${result.seed}, ${result.requests} requests in ${(result.ms / 1000).toFixed(1)} s; ` +
        `heap after GC ${(heapBefore / MIB).toFixed(1)} → ${(heapAfter / MIB).toFixed(1)} MiB, ` +
        `RSS ${(rssBefore / MIB).toFixed(1)} → ${(process.memoryUsage().rss / MIB).toFixed(1)} MiB; ` +
        `statuses ${JSON.stringify(result.statuses)}`,
    );
    assert.ok(result.requests >= 10_000);
    await assertServing();
    assert.ok(
      heapAfter - heapBefore < HEAP_GROWTH_LIMIT,
      `the heap grew ${((heapAfter - heapBefore) / MIB).toFixed(1)} MiB (limit ${HEAP_GROWTH_LIMIT / MIB})`,
    );
  });
});
