/**
 * `POST /v1/patients` over HTTP through the patients service, on a REAL geth network and
 * PostgreSQL (guards stubbed: the auth part owns them; staff.int.test.ts runs the real ones).
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { fetchReply } from "@medrec/testkit";
import { zeroHash } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createApp } from "../src/app.ts";
import { createAuditLog } from "../src/audit/index.ts";
import { type Chain, createChain } from "../src/chain/index.ts";
import { loadConfig } from "../src/config.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { patientsModule } from "../src/patients/patients.routes.ts";
import { createPatientsService } from "../src/patients/patients.service.ts";
import { createRecordsService } from "../src/records/records.service.ts";
import { type ChainEnv, type Patient, silent, startChainEnv, stubGuards } from "./chain.support.ts";

let env: ChainEnv;
let chain: Chain;
let server: Server;
let url: string;
let patients: Patient[];

const post = (body: unknown, headers: Record<string, string> = { "x-test-staff": "yes" }) =>
  fetchReply(`${url}/v1/patients`, { body, headers });

before(async () => {
  env = await startChainEnv("patients_int");
  chain = await createChain({
    db: env.db,
    logger: silent,
    settings: env.settings(),
    records: {
      recordSet: async (patientId) => ({ patientId, root: zeroHash, resources: [], proofs: [] }),
      onChange: () => () => {},
    },
  });
  const app = createApp({
    config: loadConfig({}),
    logger: silent,
    metrics: createMetrics(),
    health: [chain.health],
    modules: [
      patientsModule({
        patients: createPatientsService({
          db: env.db,
          records: createRecordsService({ db: env.db }),
          audit: createAuditLog(env.db),
          auditSalt: Buffer.alloc(32, 1),
          chainWriter: chain.writer,
        }),
        guards: stubGuards,
      }),
      ...chain.modules(stubGuards),
    ],
  });
  server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  patients = await Promise.all([env.patient(), env.patient()]);
});

after(async () => {
  await new Promise((r) => server?.close(r));
  await chain?.stop();
  await env?.stop();
});

describe("POST /v1/patients", () => {
  test("default: 201 with the relationship; the same again is 200 with the same one", async () => {
    const patient = patients[0] as Patient;
    const body = { mrn: "A-100", patientAddress: patient.address.toLowerCase() };
    const first = await post(body);
    assert.equal(first.status, 201, JSON.stringify(first.json));
    assert.equal(first.json.mrn, "A-100");
    assert.equal(first.json.patientAddress, patient.address, "returned EIP-55");
    assert.match(String(first.json.relationship), /^0x[0-9a-f]{64}$/);
    assert.equal(typeof first.json.patientId, "number");
    const again = await post(body);
    assert.equal(again.status, 200);
    assert.deepEqual(again.json, first.json);
    assert.ok(chain.view.relationship(first.json.relationship as `0x${string}`) ?? true);
  });

  test("error: staff only", async () => {
    const r = await post({ mrn: "A-101", patientAddress: (patients[1] as Patient).address }, {});
    assert.equal(r.status, 401);
    assert.match(r.type, /application\/problem\+json/);
  });

  test("error: clear problems for bad input", async () => {
    const bad = await post({ mrn: "A 102", patientAddress: "0x12" });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.detail), /mrn/);
    assert.match(String(bad.json.detail), /patientAddress/);
    const unregistered = await post({
      mrn: "A-103",
      patientAddress: privateKeyToAccount(generatePrivateKey()).address,
    });
    assert.equal(unregistered.status, 422);
    assert.match(String(unregistered.json.detail), /not a registered MedRec agent/);
    const duplicate = await post({ mrn: "A-100", patientAddress: (patients[1] as Patient).address });
    assert.equal(duplicate.status, 409);
    assert.match(duplicate.type, /application\/problem\+json/);
    assert.deepEqual(Object.keys(duplicate.json).sort(), ["detail", "status", "title", "type"]);
  });

  test("behavior: OpenAPI documents the chain routes", async () => {
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    assert.ok(doc.paths["/v1/patients"]?.post);
    assert.ok(doc.paths["/v1/relay"]?.post);
    assert.equal((doc.paths["/v1/sponsor"]?.post as { deprecated?: boolean } | undefined)?.deprecated, true);
  });

  test("behavior: /healthz includes the chain view", async () => {
    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      checks: Record<string, { status: string }>;
    };
    assert.equal(health.checks.chain?.status, "ok");
  });
});
