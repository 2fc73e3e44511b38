import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type FhirBundle,
  leafHash,
  recordTree,
  requiredScopes,
  SCOPE_BITS,
  scopesToMask,
  verifyBundle,
} from "@medrec/protocol";
import type { Knex } from "knex";
import { prepareRecordSet, serializeBundle } from "../src/access/bundle.ts";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { ProblemError } from "../src/errors.ts";
import { patientsRepository } from "../src/patients/patients.repository.knex.ts";
import { createRecordsService, type RecordsStore } from "../src/records/records.service.ts";
import { generatePatientBundle } from "../src/seed/synthetic.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

let server: TestPostgres;
let db: Knex;
let records: RecordsStore;
let nextPatient = 0;

/** A fresh patient row (the patients domain is not under test here). */
async function newPatient(): Promise<{ mrn: string; id: number }> {
  const n = nextPatient++;
  const mrn = `MRN-T${n}`;
  const row = await patientsRepository(db).insert(mrn, `0x${n.toString(16).padStart(40, "0")}`);
  assert.ok(row);
  return { mrn, id: row.id };
}

const countRows = async (patientId?: number) =>
  Number(
    (
      await db("record_resources")
        .modify((q) => {
          if (patientId !== undefined) q.where({ patient_id: patientId });
        })
        .count({ n: "*" })
        .first()
    )?.n,
  );

async function rejects422(promise: Promise<unknown>, detail: RegExp): Promise<string> {
  let caught: unknown;
  await promise.catch((e: unknown) => {
    caught = e;
  });
  assert.ok(caught instanceof ProblemError, `expected a ProblemError, got ${String(caught)}`);
  assert.equal(caught.kind, "unprocessable");
  assert.match(caught.detail, detail);
  return caught.detail;
}

const bundleOf = (seed: number, index = 0) => generatePatientBundle({ seed, index });

before(async () => {
  server = await startTestPostgres();
  db = createDb(await createTestDatabase(server.url, "records_int"));
  await migrateToLatest(db);
  records = createRecordsService({ db });
});
after(async () => {
  await db?.destroy();
  await server?.stop();
});

describe("records: bundle intake", () => {
  test("behavior: a collection bundle is stored; the root equals recordTree over the stored leaves", async () => {
    const { mrn, id } = await newPatient();
    const { bundle } = bundleOf(1);
    const result = await records.ingestBundle(mrn, bundle);
    assert.equal(result.patientId, id);
    assert.equal(result.stored, bundle.entry?.length);
    const rows = await db("record_resources")
      .where({ patient_id: id })
      .select("content", "leaf", "scope_mask");
    assert.equal(rows.length, bundle.entry?.length);
    for (const row of rows) {
      assert.equal(row.leaf, leafHash(row.content), "stored leaf = SHA-256 of JCS of stored content");
      assert.equal(row.scope_mask, requiredScopes(row.content));
      assert.match(row.content.meta.lastUpdated, /^\d{4}-\d{2}-\d{2}T/);
    }
    const expected = recordTree(rows.map((r) => r.leaf)).root;
    assert.equal(result.root, expected);
    const set = await records.recordSet(id);
    assert.equal(set.root, expected);
    assert.equal(set.resources.length, rows.length);
    assert.deepEqual(await db("record_sets").where({ patient_id: id }).first("root"), { root: expected });
  });

  test("behavior: a transaction bundle (POST with urn:uuid, PUT) assigns ids and rewrites references", async () => {
    const { mrn, id } = await newPatient();
    const uuid = "8f3c2a9e-5b1d-4c7e-9a2f-0d6b4e8c1a35";
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          fullUrl: `urn:uuid:${uuid}`,
          resource: { resourceType: "Patient", gender: "female", birthDate: "1970-02-03" },
          request: { method: "POST", url: "Patient" },
        },
        {
          resource: {
            resourceType: "Condition",
            subject: { reference: `urn:uuid:${uuid}` },
            code: { text: "Asthma" },
          },
          request: { method: "POST", url: "Condition" },
        },
        {
          resource: {
            resourceType: "Observation",
            status: "final",
            code: { text: "Peak flow" },
            subject: { reference: `urn:uuid:${uuid}` },
          },
          request: { method: "PUT", url: "Observation/peak-1" },
        },
      ],
    };
    const result = await records.ingestBundle(mrn, bundle);
    assert.equal(result.stored, 3);
    const rows = await db("record_resources").where({ patient_id: id }).orderBy("resource_type").select("*");
    const byType = Object.fromEntries(rows.map((r) => [r.resource_type, r]));
    assert.equal(byType.Patient.fhir_id, uuid);
    assert.equal(byType.Observation.fhir_id, "peak-1");
    assert.match(byType.Condition.fhir_id, /^[0-9a-f-]{36}$/);
    assert.equal(byType.Condition.content.subject.reference, `Patient/${uuid}`);
    assert.equal(byType.Observation.content.subject.reference, `Patient/${uuid}`);
  });

  test("behavior: re-ingesting the same type+id replaces the resource", async () => {
    const { mrn, id } = await newPatient();
    const { bundle } = bundleOf(2);
    await records.ingestBundle(mrn, bundle);
    const changed = structuredClone(bundle) as FhirBundle;
    const patient = changed.entry?.[0]?.resource as Record<string, unknown>;
    patient.birthDate = "1961-01-01";
    const result = await records.ingestBundle(mrn, { ...changed, entry: [changed.entry?.[0]] });
    assert.equal(result.changed, 1);
    assert.equal(await countRows(id), bundle.entry?.length);
    const row = await db("record_resources")
      .where({ patient_id: id, resource_type: "Patient" })
      .first("content");
    assert.equal(row.content.birthDate, "1961-01-01");
  });

  test("error: unknown MRN → not-found, nothing stored", async () => {
    const before = await countRows();
    await assert.rejects(records.ingestBundle("NO-SUCH-MRN", bundleOf(3).bundle), (e: unknown) => {
      assert.ok(e instanceof ProblemError);
      assert.equal(e.kind, "not-found");
      return true;
    });
    assert.equal(await countRows(), before);
  });
});

describe("records: invalid FHIR → 422 naming the element path, nothing stored", () => {
  const cases: {
    name: string;
    mutate: (b: { entry: { resource: Record<string, unknown> }[] } & Record<string, unknown>) => void;
    detail: RegExp;
    secret?: string;
  }[] = [
    {
      name: "an invalid date",
      mutate: (b) => {
        (b.entry[0] as { resource: Record<string, unknown> }).resource.birthDate = "1984-13-45";
      },
      detail: /^Bundle\.entry\[0\]\.resource\.birthDate: Invalid date format/,
      secret: "1984-13-45",
    },
    {
      name: "an unknown element",
      mutate: (b) => {
        (b.entry[2] as { resource: Record<string, unknown> }).resource.favouriteColour = "teal-secret";
      },
      detail: /Bundle\.entry\[2\]\.resource\.favouriteColour: Invalid additional property/,
      secret: "teal-secret",
    },
    {
      name: "a wrong JSON type",
      mutate: (b) => {
        const obs = b.entry.find((e) => e.resource.resourceType === "Observation")?.resource as Record<
          string,
          unknown
        >;
        obs.valueQuantity = { value: "6.1-secret", unit: "%" };
      },
      detail: /Bundle\.entry\[\d+\]\.resource\.value\[x\]\.value: Invalid JSON type/,
      secret: "6.1-secret",
    },
    {
      name: "a missing required element",
      mutate: (b) => {
        const obs = b.entry.find((e) => e.resource.resourceType === "Observation")?.resource as Record<
          string,
          unknown
        >;
        delete obs.status;
      },
      detail: /Bundle\.entry\[\d+\]\.resource\.status: Missing required property/,
    },
    {
      name: "a code outside a required value set",
      mutate: (b) => {
        (b.entry[0] as { resource: Record<string, unknown> }).resource.gender = "robot";
      },
      detail:
        /Bundle\.entry\[0\]\.resource\.gender: code is not in the required value set .*administrative-gender/,
      secret: "robot",
    },
    {
      name: "an unknown resource type",
      mutate: (b) => {
        (b.entry[1] as { resource: Record<string, unknown> }).resource.resourceType = "SecretThing";
      },
      detail: /Bundle\.entry\[1\]\.resource\.resourceType: is not a FHIR R4 resource type/,
      secret: "SecretThing",
    },
    {
      name: "a Bundle type other than collection, transaction or batch",
      mutate: (b) => {
        b.type = "searchset";
      },
      detail: /^Bundle\.type: must be collection, transaction or batch/,
    },
    {
      name: "a transaction entry without a request",
      mutate: (b) => {
        b.type = "transaction";
      },
      detail: /Bundle\.entry\[0\]\.request: is required in a transaction/,
    },
    {
      name: "a malformed id",
      mutate: (b) => {
        (b.entry[3] as { resource: Record<string, unknown> }).resource.id = "has spaces/and slash";
      },
      detail: /Bundle\.entry\[3\]\.resource\.id: invalid id/,
    },
    {
      name: "two entries with the same type and id",
      mutate: (b) => {
        b.entry.push(structuredClone(b.entry[1] as { resource: Record<string, unknown> }));
      },
      detail: /Bundle\.entry\[21\]\.resource: same type and id as Bundle\.entry\[1\]\.resource/,
    },
    {
      name: "a string with a NUL character",
      mutate: (b) => {
        (b.entry[0] as { resource: Record<string, unknown> }).resource.name = [{ text: "a\u0000b" }];
      },
      detail: /Bundle\.entry\[0\]\.resource\.name\[0\]\.text: contains a NUL character/,
    },
    {
      name: "not a Bundle at all",
      mutate: (b) => {
        b.resourceType = "Patient";
      },
      detail: /^Bundle: expected a FHIR R4 Bundle/,
    },
  ];
  for (const c of cases) {
    test(`error: ${c.name}`, async () => {
      const { mrn, id } = await newPatient();
      const bundle = structuredClone(bundleOf(4).bundle) as unknown as Parameters<(typeof c)["mutate"]>[0];
      c.mutate(bundle);
      const detail = await rejects422(records.ingestBundle(mrn, bundle), c.detail);
      if (c.secret) assert.ok(!detail.includes(c.secret), `detail echoes a value: ${detail}`);
      assert.equal(await countRows(id), 0);
    });
  }

  test("behavior: all or nothing — a bad 5th entry leaves an existing set untouched", async () => {
    const { mrn, id } = await newPatient();
    const { bundle } = bundleOf(5);
    const first = await records.ingestBundle(mrn, bundle);
    const beforeRows = await db("record_resources").where({ patient_id: id }).orderBy("id").select("leaf");
    const next = structuredClone(bundle) as FhirBundle;
    // Four good changes, then a bad 5th entry.
    for (let i = 0; i < 4; i++) {
      (next.entry?.[i]?.resource as Record<string, unknown>).language = "en";
    }
    (next.entry?.[4]?.resource as Record<string, unknown>).status = 42;
    await rejects422(records.ingestBundle(mrn, next), /^Bundle\.entry\[4\]\.resource\.status/);
    assert.deepEqual(
      await db("record_resources").where({ patient_id: id }).orderBy("id").select("leaf"),
      beforeRows,
    );
    assert.equal((await records.recordSet(id)).root, first.root);
  });
});

describe("records: record set, root, cache and change events", () => {
  test("behavior: the root changes exactly when content changes; onChange fires after commit", async () => {
    const { mrn, id } = await newPatient();
    const events: number[] = [];
    const rootsSeen: string[] = [];
    const off = records.onChange((patientId) => {
      events.push(patientId);
      // After commit: the new state is already readable.
      void db("record_sets")
        .where({ patient_id: patientId })
        .first("root")
        .then((r) => rootsSeen.push(r.root));
    });
    try {
      const { bundle } = bundleOf(6);
      const first = await records.ingestBundle(mrn, bundle);
      assert.deepEqual(events, [id]);

      const again = await records.ingestBundle(mrn, bundle);
      assert.equal(again.root, first.root, "unchanged content → same root");
      assert.equal(again.changed, 0);
      assert.deepEqual(events, [id], "no event without a change");

      const edited = structuredClone(bundle) as FhirBundle;
      (edited.entry?.[7]?.resource as Record<string, unknown>).language = "en";
      const third = await records.ingestBundle(mrn, edited);
      assert.notEqual(third.root, first.root);
      assert.equal(third.changed, 1);
      assert.deepEqual(events, [id, id]);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(rootsSeen, [first.root, third.root]);
    } finally {
      off();
    }
    await records.ingestBundle(mrn, {
      resourceType: "Bundle",
      type: "collection",
      entry: [{ resource: { resourceType: "Basic", code: { text: "x" } } }],
    });
    assert.equal(events.length, 2, "unsubscribed");
  });

  test("behavior: the record set is cached and invalidated on change", async () => {
    const { mrn, id } = await newPatient();
    await records.ingestBundle(mrn, bundleOf(7).bundle);
    const a = await records.recordSet(id);
    const b = await records.recordSet(id);
    assert.equal(a, b, "second read is served from the cache");
    await db("record_resources").where({ patient_id: id }).delete();
    assert.equal(
      (await records.recordSet(id)).root,
      a.root,
      "an out-of-band write is not seen until invalidated",
    );
    records.invalidate(id);
    assert.equal((await records.recordSet(id)).resources.length, 0);

    await records.ingestBundle(mrn, bundleOf(7).bundle);
    const c = await records.recordSet(id);
    assert.notEqual(c, a);
    assert.equal(c.resources.length, a.resources.length, "re-ingested after the out-of-band delete");
    const edited = structuredClone(bundleOf(7).bundle) as FhirBundle;
    (edited.entry?.[1]?.resource as Record<string, unknown>).language = "en";
    await records.ingestBundle(mrn, edited);
    const d = await records.recordSet(id);
    assert.notEqual(d.root, c.root, "a change invalidates the cache");
  });

  test("behavior: served bundles verify against the root, whole or filtered by scopes", async () => {
    const { mrn, id } = await newPatient();
    const { root } = await records.ingestBundle(mrn, bundleOf(8).bundle);
    const set = await records.recordSet(id);
    assert.equal(set.root, recordTree(set.resources.map((r) => leafHash(r.resource))).root);

    const prepared = prepareRecordSet(set);
    const serve = (filter: Partial<Parameters<typeof serializeBundle>[1]>) =>
      serializeBundle(prepared, { granted: 0xffff, ...filter });
    const whole = JSON.parse(serve({}).body);
    assert.equal(whole.type, "searchset");
    assert.equal(whole.total, set.resources.length);
    assert.equal(verifyBundle(whole, root).valid, true);

    const labsOnly = serve({ granted: scopesToMask(["labs"]) });
    assert.equal(labsOnly.total, 6);
    assert.equal(verifyBundle(JSON.parse(labsOnly.body), root).valid, true);

    const sensitiveBit = 1 << SCOPE_BITS.sensitive;
    assert.equal(
      serve({ granted: scopesToMask(["conditions"]) }).total,
      2,
      "the sensitive condition needs `sensitive` too",
    );
    assert.equal(serve({ granted: scopesToMask(["conditions"]) | sensitiveBit }).total, 3);
    assert.equal(serve({ categoryBit: sensitiveBit }).total, 1);
    assert.equal(serve({ sinceMs: Date.now() + 60_000 }).total, 0);
    assert.equal(serve({ sinceMs: 0 }).total, set.resources.length);
  });
});
