/**
 * What is served is what is stored: two records services (as two gatekeeper processes would
 * have) on one REAL PostgreSQL database. Once a change committed through one, the other never
 * serves the old record set — its cache is checked against `record_sets.version` on every read.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type FhirBundle, recordRoot } from "@medrec/protocol";
import type { Knex } from "knex";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { patientsRepository } from "../src/patients/patients.repository.knex.ts";
import { createRecordsService, type RecordsStore } from "../src/records/records.service.ts";
import { generatePatientBundle } from "../src/seed/synthetic.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

let server: TestPostgres;
let dbA: Knex;
let dbB: Knex;
let a: RecordsStore;
let b: RecordsStore;
let patients = 0;

/** A patient with a synthetic bundle stored through `a`. */
async function patientWithRecords(): Promise<{ mrn: string; id: number; bundle: FhirBundle }> {
  const mrn = `MRN-CACHE-${++patients}`;
  const row = await patientsRepository(dbA).insert(mrn, `0x${patients.toString(16).padStart(40, "0")}`);
  assert.ok(row);
  const { bundle } = generatePatientBundle({ seed: 40, index: patients });
  await a.ingestBundle(row.id, bundle);
  return { mrn, id: row.id, bundle };
}

/** The bundle with entry `i` changed (a new `language`), so the root changes. */
function edited(bundle: FhirBundle, i: number, language: string): FhirBundle {
  const copy = structuredClone(bundle);
  (copy.entry?.[i]?.resource as Record<string, unknown>).language = language;
  return copy;
}

const storedRoot = async (db: Knex, id: number) =>
  recordRoot((await db("record_resources").where({ patient_id: id }).pluck("leaf")) as `0x${string}`[]);

before(async () => {
  server = await startTestPostgres();
  const url = await createTestDatabase(server.url, "cache");
  // Two pools, as two processes would have.
  dbA = createDb(url);
  dbB = createDb(url);
  await migrateToLatest(dbA);
  a = createRecordsService({ db: dbA });
  b = createRecordsService({ db: dbB });
});
after(async () => {
  await dbA?.destroy();
  await dbB?.destroy();
  await server?.stop();
});

describe("record sets across processes", () => {
  test("default: a change committed through one instance is what the other serves next", async () => {
    const { id, bundle } = await patientWithRecords();
    const first = await b.recordSet(id);
    assert.equal(first.root, await storedRoot(dbA, id));
    assert.equal(await b.recordSet(id), first, "unchanged: served from b's cache");

    const { root } = await a.ingestBundle(id, edited(bundle, 1, "en"));
    assert.notEqual(root, first.root);
    const next = await b.recordSet(id);
    assert.equal(next.root, root, "b never serves the old version after the commit");
    assert.equal(await b.recordSet(id), next, "and caches the new one");
  });

  test("behavior: alternating writers, every read after each commit serves the committed root", async () => {
    const { id, bundle } = await patientWithRecords();
    const writers = [a, b];
    for (let round = 0; round < 12; round++) {
      await Promise.all([a.recordSet(id), b.recordSet(id)]); // both caches warm
      const writer = writers[round % 2] as RecordsStore;
      const { root } = await writer.ingestBundle(id, edited(bundle, round % 5, `x-round-${round}`));
      const [fromA, fromB] = await Promise.all([a.recordSet(id), b.recordSet(id)]);
      assert.equal(fromA.root, root, `round ${round}: a`);
      assert.equal(fromB.root, root, `round ${round}: b`);
    }
  });

  test("behavior: reads racing writes never go back to an older version once a newer one was served", async () => {
    const { id, bundle } = await patientWithRecords();
    const committed: string[] = [(await a.recordSet(id)).root];
    let writing = true;
    const writes = (async () => {
      for (let i = 0; i < 8; i++) {
        committed.push((await a.ingestBundle(id, edited(bundle, 2, `race-${i}`))).root);
      }
      writing = false;
    })();
    const served: string[] = [];
    const reads = (async () => {
      while (writing) served.push((await b.recordSet(id)).root);
    })();
    await Promise.all([writes, reads]);
    assert.equal((await b.recordSet(id)).root, committed.at(-1));
    // Each served root was committed, and the versions b served never run backwards.
    const versions = served.map((root) => committed.indexOf(root));
    assert.ok(versions.length > 0);
    assert.ok(!versions.includes(-1), "b served a root that was never committed");
    assert.deepEqual(
      versions,
      [...versions].sort((x, y) => x - y),
      "b served an older version again",
    );
  });

  test("error: a write that changes nothing keeps every cache", async () => {
    const { id, bundle } = await patientWithRecords();
    const before = await b.recordSet(id);
    const result = await a.ingestBundle(id, bundle);
    assert.equal(result.changed, 0);
    assert.equal(await b.recordSet(id), before);
  });
});
