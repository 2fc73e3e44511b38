import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  apiPaths,
  auditEntrySchema,
  auditResponseSchema,
  createPatientRequestSchema,
  createPatientResponseSchema,
  nonceResponseSchema,
  problemSchema,
  recordsQuerySchema,
  relationshipParamsSchema,
  relationshipsResponseSchema,
  sessionRequestSchema,
  sessionResponseSchema,
  uploadRecordsResponseSchema,
} from "./api.ts";

const ADDRESS = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const ID = `0x${"Ab".repeat(32)}`;
const ROOT = `0x${"00".repeat(32)}`;
const SIG = `0x${"12".repeat(65)}`;

function rejects(schema: { safeParse(v: unknown): { success: boolean } }, values: unknown[]) {
  for (const value of values) assert.equal(schema.safeParse(value).success, false, JSON.stringify(value));
}

describe("sign-in schemas", () => {
  test("default", () => {
    assert.deepEqual(nonceResponseSchema.parse({ nonce: "abcdefghijklmnop" }), { nonce: "abcdefghijklmnop" });
    assert.deepEqual(sessionRequestSchema.parse({ message: "m", signature: SIG }), {
      message: "m",
      signature: SIG,
    });
    assert.deepEqual(
      sessionResponseSchema.parse({
        token: "t",
        address: ADDRESS.toLowerCase(),
        expiresAt: "2025-06-01T13:00:00.000Z",
      }),
      { token: "t", address: ADDRESS, expiresAt: "2025-06-01T13:00:00.000Z" },
    );
  });
  test("error", () => {
    rejects(nonceResponseSchema, [{ nonce: "short" }, { nonce: "abcdefghijklmnop!" }, {}]);
    rejects(sessionRequestSchema, [
      { message: "", signature: SIG },
      { message: "m", signature: "0x12" },
      { message: "m" },
    ]);
    rejects(sessionResponseSchema, [
      { token: "", address: ADDRESS, expiresAt: "2025-06-01T13:00:00Z" },
      { token: "t", address: "0x12", expiresAt: "2025-06-01T13:00:00Z" },
      { token: "t", address: ADDRESS, expiresAt: "tomorrow" },
      { token: "t", address: ADDRESS, expiresAt: "2025-06-01T13:00:00" },
    ]);
  });
});

describe("relationship schemas", () => {
  test("default: ids lower-cased", () => {
    const list = relationshipsResponseSchema.parse([
      { relationship: ID, role: "patient", recordRoot: ROOT, updatedAt: "2025-06-01T12:00:00Z" },
      { relationship: ID, role: "viewer", recordRoot: ID, updatedAt: "2025-06-01T12:00:00+02:00" },
    ]);
    assert.equal(list[0]?.relationship, ID.toLowerCase());
    assert.equal(list[1]?.role, "viewer");
    assert.deepEqual(relationshipParamsSchema.parse({ relationship: ID }), {
      relationship: ID.toLowerCase(),
    });
  });
  test("error", () => {
    const good = { relationship: ID, role: "patient", recordRoot: ROOT, updatedAt: "2025-06-01T12:00:00Z" };
    rejects(relationshipsResponseSchema, [
      {},
      [{ ...good, role: "provider" }],
      [{ ...good, relationship: "0x1234" }],
      [{ ...good, relationship: ID.slice(2) }],
      [{ ...good, recordRoot: `${ROOT}00` }],
      [{ ...good, updatedAt: 5 }],
    ]);
    rejects(relationshipParamsSchema, [{ relationship: "../x" }]);
  });
  test("behavior: records query", () => {
    assert.deepEqual(recordsQuerySchema.parse({ category: "labs", _since: "2024-01-01" }), {
      category: "labs",
      _since: "2024-01-01",
    });
    assert.deepEqual(recordsQuerySchema.parse({}), {});
    assert.deepEqual(recordsQuerySchema.parse({ _since: "2024-01-01T00:00:00Z" }), {
      _since: "2024-01-01T00:00:00Z",
    });
    rejects(recordsQuerySchema, [
      { category: "genome" },
      { category: "Labs" },
      { _since: "last week" },
      { _since: "2024-13-01" },
    ]);
  });
});

describe("audit schemas", () => {
  const entry = {
    at: "2025-06-01T12:00:00Z",
    actor: ADDRESS.toLowerCase(),
    action: "read-records",
    categories: ["labs", "sensitive"],
    decision: "denied",
    hash: ID,
    prevHash: ROOT,
  };
  test("default", () => {
    const parsed = auditResponseSchema.parse([entry]);
    assert.equal(parsed[0]?.actor, ADDRESS);
    assert.equal(parsed[0]?.decision, "denied");
  });
  test("error", () => {
    rejects(auditEntrySchema, [
      { ...entry, decision: "maybe" },
      { ...entry, categories: ["genome"] },
      { ...entry, hash: "0x12" },
      { ...entry, actor: "someone" },
      { ...entry, at: undefined },
    ]);
  });
});

describe("provider staff schemas", () => {
  test("default", () => {
    assert.deepEqual(
      createPatientRequestSchema.parse({
        mrn: "MRN-0001",
        patientAddress: ADDRESS.toUpperCase().replace("0X", "0x"),
      }),
      {
        mrn: "MRN-0001",
        patientAddress: ADDRESS,
      },
    );
    assert.equal(
      createPatientResponseSchema.parse({ mrn: "m1", patientAddress: ADDRESS, relationship: ID })
        .relationship,
      ID.toLowerCase(),
    );
    assert.equal(uploadRecordsResponseSchema.parse({ stored: 3, recordRoot: ROOT }).stored, 3);
  });
  test("error", () => {
    rejects(createPatientRequestSchema, [
      { mrn: "", patientAddress: ADDRESS },
      { mrn: "../etc", patientAddress: ADDRESS },
      { mrn: "a/b", patientAddress: ADDRESS },
      { mrn: "x".repeat(65), patientAddress: ADDRESS },
      { mrn: "m1", patientAddress: "0x123" },
      { mrn: "m1" },
    ]);
  });
});

describe("problemSchema", () => {
  test("default: extension members kept", () => {
    const problem = problemSchema.parse({
      type: "about:blank",
      title: "Forbidden",
      status: 403,
      detail: "No access.",
      instance: "/x",
    });
    assert.equal(problem.instance, "/x");
  });
  test("error", () => {
    rejects(problemSchema, [
      { title: "Forbidden", status: 403, detail: "x" },
      { type: "about:blank", title: "OK", status: 200, detail: "x" },
      { type: "about:blank", title: "Forbidden", status: "403", detail: "x" },
      { type: "about:blank", title: "Forbidden", status: 403 },
    ]);
  });
});

describe("apiPaths", () => {
  test("default", () => {
    assert.equal(apiPaths.records(ID), `/v1/relationships/${ID}/records`);
    assert.equal(apiPaths.patientRecords("a b"), "/v1/patients/a%20b/records");
  });
});
