import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { uploadRecordsResponseSchema } from "@medrec/protocol";
import type { RequestHandler } from "express";
import { pino } from "pino";
import { createAuditLog } from "../src/audit/index.ts";
import { loadConfig } from "../src/config.ts";
import { ProblemError } from "../src/errors.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import { patientsRepository } from "../src/patients/patients.repository.knex.ts";
import { createPatientsService } from "../src/patients/patients.service.ts";
import { recordsModule } from "../src/records/records.routes.ts";
import { createRecordsService, type RecordsStore } from "../src/records/records.service.ts";
import { generatePatientBundle } from "../src/seed/synthetic.ts";

const STAFF = "test-staff-token";
/** A stand-in for auth's guard (tested by its owner): a fixed header means staff. */
const requireStaff: RequestHandler = (req, res, next) => {
  res.locals.caller = { kind: "operator" };
  next(req.headers["x-test-staff"] === STAFF ? undefined : new ProblemError("unauthorized", "Staff only."));
};

describe("records HTTP on the embedded default database (DATA_DIR)", () => {
  let gk: Gatekeeper;
  let dataDir: string;
  let records: RecordsStore;
  const changes: number[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "medrec-records-"));
    gk = await startGatekeeper({
      chain: false,
      config: loadConfig({ PORT: "0", DATA_DIR: dataDir }),
      logger: pino({ level: "silent" }),
      modules: (db) => {
        records = createRecordsService({ db });
        records.onChange((id) => changes.push(id));
        const audit = createAuditLog(db);
        const patients = createPatientsService({ db, records, audit, auditSalt: Buffer.alloc(32, 7) });
        return [recordsModule({ patients, guards: { requireStaff } })];
      },
    });
    await patientsRepository(gk.db).insert("MRN-HTTP-1", "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
  });
  after(async () => {
    await gk?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const post = (mrn: string, body: unknown, headers: Record<string, string> = { "x-test-staff": STAFF }) =>
    fetch(`${gk.url}/v1/patients/${mrn}/records`, {
      method: "POST",
      headers: { "content-type": "application/fhir+json", ...headers },
      body: JSON.stringify(body),
    });

  test("behavior: POST stores the bundle and answers the summary with the committed root", async () => {
    const { bundle } = generatePatientBundle({ seed: 11, index: 0 });
    const res = await post("MRN-HTTP-1", bundle);
    assert.equal(res.status, 200);
    const body = uploadRecordsResponseSchema.parse(await res.json());
    assert.equal(body.stored, bundle.entry?.length);
    assert.equal(body.changed, bundle.entry?.length);
    const patientId = Number((await gk.db("patients").where({ mrn: "MRN-HTTP-1" }).first("id")).id);
    assert.equal(body.recordRoot, (await records.recordSet(patientId)).root);
    assert.deepEqual(changes, [patientId]);
  });

  test("error: invalid FHIR → 422 problem+json naming the element path, nothing stored", async () => {
    const before = (await gk.db("record_resources").count({ n: "*" }).first())?.n;
    const { bundle } = generatePatientBundle({ seed: 12, index: 0 });
    (bundle.entry?.[3]?.resource as Record<string, unknown>).status = "not-a-status";
    const res = await post("MRN-HTTP-1", bundle);
    assert.equal(res.status, 422);
    assert.match(res.headers.get("content-type") ?? "", /^application\/problem\+json/);
    const problem = (await res.json()) as { status: number; detail: string };
    assert.equal(problem.status, 422);
    assert.match(
      problem.detail,
      /^Bundle\.entry\[3\]\.resource\.status: code is not in the required value set/,
    );
    assert.ok(!JSON.stringify(problem).includes("not-a-status"));
    assert.equal((await gk.db("record_resources").count({ n: "*" }).first())?.n, before);
  });

  test("error: unknown MRN → 404; bad MRN → 400; no staff → 401; no body → 422", async () => {
    const { bundle } = generatePatientBundle({ seed: 13, index: 0 });
    assert.equal((await post("MRN-NOBODY", bundle)).status, 404);
    assert.equal((await post("bad%20mrn!", bundle)).status, 400);
    assert.equal((await post("MRN-HTTP-1", bundle, {})).status, 401);
    const empty = await fetch(`${gk.url}/v1/patients/MRN-HTTP-1/records`, {
      method: "POST",
      headers: { "x-test-staff": STAFF },
    });
    assert.equal(empty.status, 422);
  });

  test("behavior: /openapi.json documents the route with its problem responses", async () => {
    const doc = (await (await fetch(`${gk.url}/openapi.json`)).json()) as {
      paths: Record<
        string,
        { post?: { responses: Record<string, unknown>; requestBody: { content: Record<string, unknown> } } }
      >;
    };
    const op = doc.paths["/v1/patients/{mrn}/records"]?.post;
    assert.ok(op);
    for (const status of ["200", "400", "401", "403", "404", "413", "422", "429", "500"]) {
      assert.ok(op.responses[status], status);
    }
    assert.ok(op.requestBody.content["application/fhir+json"]);
  });
});
