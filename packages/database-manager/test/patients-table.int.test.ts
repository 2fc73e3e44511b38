/**
 * The `patients` table behind its one repository, on a REAL PostgreSQL server: delegate indexes
 * come from one allocator whoever writes (registration, seeding), so a delegate key — which
 * controls a patient's Relationship on chain — is never given to two patients.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Knex } from "knex";
import { type Address, getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import * as m0006 from "../src/db/migrations/0006_patients_delegate_sequence.ts";
import { type PatientsRepository, patientsRepository } from "../src/patients/patients.repository.knex.ts";
import { createRecordsService, type RecordsStore } from "../src/records/records.service.ts";
import { seedPatients } from "../src/seed/seed.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

let server: TestPostgres;
let db: Knex;
let records: RecordsStore;
let patients: PatientsRepository;
let database = 0;

const address = (): Address => getAddress(privateKeyToAccount(generatePrivateKey()).address);

/** A fresh, migrated database per test: delegate allocation depends on what was written before. */
async function freshDatabase(): Promise<void> {
  await db?.destroy();
  db = createDb(await createTestDatabase(server.url, `patients_table_${++database}`));
  await migrateToLatest(db);
  records = createRecordsService({ db });
  patients = patientsRepository(db);
}

const delegateIndexes = async () =>
  ((await db("patients").orderBy("delegate_index").pluck("delegate_index")) as number[]).map(Number);

before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await db?.destroy();
  await server?.stop();
});

describe("delegate indexes", () => {
  test("behavior: registering after seeding gets a fresh delegate index (no unique violation)", async () => {
    await freshDatabase();
    await seedPatients(db, { count: 2, seed: 7, records });
    const row = await patients.insert("MRN-AFTER-SEED", address());
    assert.ok(row, "the registration's insert was refused: its delegate index was already taken");
    const indexes = await delegateIndexes();
    assert.equal(indexes.length, 3);
    assert.equal(new Set(indexes).size, 3);
  });

  test("behavior: seeding after registering, then registering again, never reuses an index", async () => {
    await freshDatabase();
    assert.ok(await patients.insert("MRN-FIRST", address()));
    await seedPatients(db, { count: 1, seed: 8, records });
    assert.ok(await patients.insert("MRN-SECOND", address()), "delegate index taken by the seed");
    const indexes = await delegateIndexes();
    assert.deepEqual(indexes.length, 3);
    assert.equal(new Set(indexes).size, 3);
  });

  test("behavior: seeding and registering concurrently: every row stored, all indexes distinct", async () => {
    await freshDatabase();
    const mrns = Array.from({ length: 8 }, (_, i) => `MRN-RACE-${i}`);
    const [, ...inserted] = await Promise.all([
      seedPatients(db, { count: 4, seed: 9, records }),
      ...mrns.map((mrn) => patients.insert(mrn, address())),
    ]);
    assert.ok(
      inserted.every((row) => row !== undefined),
      "a registration lost its row to the seed",
    );
    const indexes = await delegateIndexes();
    assert.equal(indexes.length, 12);
    assert.equal(new Set(indexes).size, 12);
  });

  test("default: seeding is idempotent and keeps the patient's delegate index", async () => {
    await freshDatabase();
    const first = await seedPatients(db, { count: 2, seed: 10, records });
    const before = await delegateIndexes();
    const again = await seedPatients(db, { count: 2, seed: 10, records });
    assert.deepEqual(again, first);
    assert.deepEqual(await delegateIndexes(), before);
  });

  test("behavior: migration 0006 repairs a sequence left behind by the old max + 1 seeder", async () => {
    await freshDatabase();
    assert.ok(await patients.insert("MRN-OLD-0", address())); // index 0, sequence → 1
    // What the old seeder wrote: max + 1, beside the sequence.
    await db("patients").insert([
      { mrn: "SYN-OLD-1", patient_address: address(), delegate_index: 1 },
      { mrn: "SYN-OLD-2", patient_address: address(), delegate_index: 2 },
    ]);
    await m0006.up(db);
    await m0006.up(db); // idempotent: it never moves the sequence back
    assert.ok(await patients.insert("MRN-NEW", address()));
    assert.deepEqual(await delegateIndexes(), [0, 1, 2, 3]);
  });
});
