import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { isSensitive, SCOPE_BITS } from "@medrec/protocol";
import type { Knex } from "knex";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { createRecordsService } from "../src/records/records.service.ts";
import { seedLegacy, seedPatients } from "../src/seed/seed.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

let server: TestPostgres;
const dbs: Knex[] = [];

async function freshDb(name: string): Promise<Knex> {
  const db = createDb(await createTestDatabase(server.url, name));
  dbs.push(db);
  await migrateToLatest(db);
  return db;
}

before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  for (const db of dbs) await db.destroy();
  await server?.stop();
});

describe("seeding", () => {
  test("behavior: the same seed gives the same roots in two databases; another seed differs", async () => {
    const a = await freshDb("seed_a");
    const b = await freshDb("seed_b");
    const first = await seedPatients(a, { count: 3, seed: 42 });
    const second = await seedPatients(b, { count: 3, seed: 42 });
    assert.deepEqual(
      first.map((p) => [p.mrn, p.root]),
      second.map((p) => [p.mrn, p.root]),
    );
    assert.equal(new Set(first.map((p) => p.root)).size, 3, "each patient has their own records");
    const other = await seedPatients(b, { count: 1, seed: 43 });
    assert.notEqual(other[0]?.root, first[0]?.root);
  });

  test("behavior: seeding again is idempotent", async () => {
    const db = await freshDb("seed_again");
    const records = createRecordsService({ db });
    const first = await seedPatients(db, { count: 2, seed: 5, records });
    const events: number[] = [];
    records.onChange((id) => events.push(id));
    const again = await seedPatients(db, { count: 2, seed: 5, records });
    assert.deepEqual(again, first);
    assert.deepEqual(events, []);
    assert.equal(Number((await db("patients").count({ n: "*" }).first())?.n), 2);
  });

  test("behavior: ~20 realistic resources per patient with exactly one sensitive item", async () => {
    const db = await freshDb("seed_content");
    const records = createRecordsService({ db });
    const [p] = await seedPatients(db, { count: 1, seed: 9, records });
    const set = await records.recordSet(p?.patientId as number);
    assert.ok(set.resources.length >= 18 && set.resources.length <= 24, `${set.resources.length} resources`);
    const types = new Set(set.resources.map((r) => r.resource.resourceType));
    for (const t of [
      "Patient",
      "Encounter",
      "Observation",
      "Condition",
      "MedicationRequest",
      "MedicationStatement",
      "AllergyIntolerance",
      "Immunization",
    ]) {
      assert.ok(types.has(t), t);
    }
    const sensitive = set.resources.filter((r) => isSensitive(r.resource));
    assert.equal(sensitive.length, 1);
    assert.equal(sensitive[0]?.resource.resourceType, "Condition");
    assert.ok((sensitive[0]?.scopeMask ?? 0) & (1 << SCOPE_BITS.sensitive));
    const codes = set.resources.flatMap((r) =>
      r.resource.resourceType === "Observation"
        ? [(r.resource as unknown as { code: { coding: { code: string }[] } }).code.coding[0]?.code]
        : [],
    );
    for (const loinc of ["4548-4", "2160-0", "18262-6"]) {
      assert.equal(codes.filter((c) => c === loinc).length, 2, `${loinc} over time`);
    }
    assert.ok(set.resources.some((r) => (r.scopeMask & (1 << SCOPE_BITS.vitals)) !== 0));
  });

  test("behavior: the legacy seed fills the sample hospital tables deterministically", async () => {
    const a = await freshDb("seed_legacy_a");
    const b = await freshDb("seed_legacy_b");
    const mrns = await seedLegacy(a, { count: 2, seed: 8 });
    await seedLegacy(b, { count: 2, seed: 8 });
    await seedLegacy(b, { count: 2, seed: 8 }); // re-seeding replaces rows
    assert.deepEqual(mrns, ["LEG-8-0001", "LEG-8-0002"]);
    const keys = {
      patients: "pat_id",
      encounters: "enc_id",
      documents: "doc_id",
      lab_results: "result_id",
      medications: "med_id",
    };
    for (const [table, key] of Object.entries(keys)) {
      const rows = async (db: Knex) =>
        (await db.raw(`select to_jsonb(t) as r from legacy.${table} t order by ${key}`)).rows;
      assert.deepEqual(await rows(b), await rows(a), table);
    }
    assert.equal(Number((await a.withSchema("legacy").from("lab_results").count({ n: "*" }).first())?.n), 18);
  });
});
