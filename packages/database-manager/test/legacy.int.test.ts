import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { leafHash, recordTree } from "@medrec/protocol";
import type { Knex } from "knex";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { ProblemError } from "../src/errors.ts";
import { syncAllFromLegacy, syncFromLegacy } from "../src/legacy/legacy.service.ts";
import { createRecordsService, type RecordsStore } from "../src/records/records.service.ts";
import type { FhirResource } from "../src/seams.ts";
import { seedLegacy } from "../src/seed/seed.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

let server: TestPostgres;
let db: Knex;
let records: RecordsStore;
let mrns: string[];
let patientId: number;

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON read in assertions
type Any = any;

async function stored(id: number): Promise<FhirResource[]> {
  return (await db("record_resources").where({ patient_id: id }).select("content")).map((r) => r.content);
}
const byId = (resources: FhirResource[], id: string) => resources.find((r) => r.id === id) as Any;

before(async () => {
  server = await startTestPostgres();
  db = createDb(await createTestDatabase(server.url, "legacy_int"));
  await migrateToLatest(db);
  records = createRecordsService({ db });
  mrns = await seedLegacy(db, { count: 2, seed: 3 });
  const [row] = await db("patients")
    .insert({
      mrn: mrns[0],
      patient_address: "0x00000000000000000000000000000000000000a1",
      delegate_index: 0,
    })
    .returning("id");
  patientId = Number(row.id);
});
after(async () => {
  await db?.destroy();
  await server?.stop();
});

describe("legacy adapter: hospital tables → FHIR R4", () => {
  test("behavior: every table maps to its resource with the right values and units", async () => {
    const result = await syncFromLegacy(db, mrns[0] as string, { records });
    assert.equal(result.patientId, patientId);
    const resources = await stored(patientId);
    const count = (type: string) => resources.filter((r) => r.resourceType === type).length;
    assert.deepEqual(
      {
        Patient: count("Patient"),
        Encounter: count("Encounter"),
        DocumentReference: count("DocumentReference"),
        Observation: count("Observation"),
        MedicationRequest: count("MedicationRequest"),
        MedicationStatement: count("MedicationStatement"),
      },
      {
        Patient: 1,
        Encounter: 3,
        DocumentReference: 2,
        Observation: 9,
        MedicationRequest: 2,
        MedicationStatement: 1,
      },
    );

    const legacyPatient = await db.withSchema("legacy").from("patients").where({ mrn: mrns[0] }).first();
    const pid = `legacy-patient-${legacyPatient.pat_id}`;
    const patient = byId(resources, pid);
    assert.equal(patient.identifier[0].value, mrns[0]);
    assert.equal(patient.name[0].family, legacyPatient.last_name);
    assert.equal(patient.gender, legacyPatient.sex === "F" ? "female" : "male");
    assert.match(patient.birthDate, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(
      patient.birthDate,
      (await db.raw("select dob::text as d from legacy.patients where pat_id = ?", [legacyPatient.pat_id]))
        .rows[0].d,
    );

    const enc = await db
      .withSchema("legacy")
      .from("encounters")
      .where({ pat_id: legacyPatient.pat_id })
      .orderBy("enc_id");
    const inpatient = byId(resources, `legacy-encounter-${enc[1].enc_id}`);
    assert.equal(inpatient.class.code, "IMP");
    assert.equal(inpatient.status, "finished");
    assert.equal(inpatient.subject.reference, `Patient/${pid}`);

    const docRow = await db
      .withSchema("legacy")
      .from("documents")
      .where({ pat_id: legacyPatient.pat_id, doc_class: "DS" })
      .first();
    const doc = byId(resources, `legacy-document-${docRow.doc_id}`);
    assert.equal(doc.type.coding[0].code, "18842-5");
    assert.equal(Buffer.from(doc.content[0].attachment.data, "base64").toString("utf8"), docRow.body);
    assert.equal(doc.context.encounter[0].reference, `Encounter/legacy-encounter-${docRow.enc_id}`);

    const labRow = await db
      .withSchema("legacy")
      .from("lab_results")
      .where({ pat_id: legacyPatient.pat_id, loinc: "2160-0" })
      .orderBy("result_id")
      .first();
    const creatinine = byId(resources, `legacy-lab-${labRow.result_id}`);
    assert.equal(creatinine.category[0].coding[0].code, "laboratory");
    assert.equal(creatinine.code.coding[0].system, "http://loinc.org");
    assert.equal(creatinine.code.coding[0].code, "2160-0");
    assert.deepEqual(creatinine.valueQuantity, {
      value: Number(labRow.result_value),
      unit: "MG/DL",
      system: "http://unitsofmeasure.org",
      code: "mg/dL",
    });
    assert.equal(creatinine.referenceRange[0].low.value, 0.7);
    assert.equal(creatinine.referenceRange[0].high.value, 1.3);
    assert.equal(creatinine.interpretation[0].coding[0].code, labRow.flag);
    const ldlRow = await db
      .withSchema("legacy")
      .from("lab_results")
      .where({ pat_id: legacyPatient.pat_id, loinc: "18262-6" })
      .first();
    const ldl = byId(resources, `legacy-lab-${ldlRow.result_id}`);
    assert.equal(ldl.referenceRange[0].high.value, 100);
    assert.equal(ldl.referenceRange[0].low, undefined);
    assert.equal(ldl.referenceRange[0].text, "<100");

    const meds = await db
      .withSchema("legacy")
      .from("medications")
      .where({ pat_id: legacyPatient.pat_id })
      .orderBy("med_id");
    const rx = byId(resources, `legacy-medreq-${meds[0].med_id}`);
    assert.equal(rx.intent, "order");
    assert.equal(rx.status, "active");
    assert.equal(rx.medicationCodeableConcept.coding[0].code, meds[0].rxnorm);
    assert.deepEqual(rx.dosageInstruction[0].doseAndRate[0].doseQuantity, {
      value: 500,
      unit: "mg",
      system: "http://unitsofmeasure.org",
      code: "mg",
    });
    const home = byId(resources, `legacy-medstmt-${meds[2].med_id}`);
    assert.equal(home.resourceType, "MedicationStatement");
    assert.match(home.effectivePeriod.start, /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(home.dosage[0].text, meds[2].sig);

    const set = await records.recordSet(patientId);
    assert.equal(set.root, recordTree(resources.map((r) => leafHash(r))).root);
    assert.equal(result.root, set.root);
  });

  test("behavior: a re-sync of unchanged rows is idempotent (same root, no change event)", async () => {
    const before = await records.recordSet(patientId);
    const events: number[] = [];
    const off = records.onChange((id) => events.push(id));
    const again = await syncFromLegacy(db, mrns[0] as string, { records });
    off();
    assert.equal(again.changed, 0);
    assert.equal(again.removed, 0);
    assert.equal(again.root, before.root);
    assert.deepEqual(events, []);
  });

  test("behavior: a changed row is replaced and a deleted row removed on re-sync", async () => {
    const before = await records.recordSet(patientId);
    const pat = await db.withSchema("legacy").from("patients").where({ mrn: mrns[0] }).first("pat_id");
    const lab = await db
      .withSchema("legacy")
      .from("lab_results")
      .where({ pat_id: pat.pat_id })
      .orderBy("result_id")
      .first();
    await db
      .withSchema("legacy")
      .table("lab_results")
      .where({ result_id: lab.result_id })
      .update({ result_value: "12.5", modified_at: "2025-02-01 10:00:00" });
    const med = await db
      .withSchema("legacy")
      .from("medications")
      .where({ pat_id: pat.pat_id })
      .orderBy("med_id", "desc")
      .first();
    await db.withSchema("legacy").table("medications").where({ med_id: med.med_id }).delete();

    const events: number[] = [];
    const off = records.onChange((id) => events.push(id));
    const result = await syncFromLegacy(db, mrns[0] as string, { records });
    off();
    assert.equal(result.changed, 1);
    assert.equal(result.removed, 1);
    assert.notEqual(result.root, before.root);
    assert.deepEqual(events, [patientId]);
    const resources = await stored(patientId);
    const changed = byId(resources, `legacy-lab-${lab.result_id}`);
    assert.equal(changed.valueQuantity.value, 12.5);
    assert.equal(changed.meta.lastUpdated, "2025-02-01T10:00:00Z");
    assert.equal(byId(resources, `legacy-medstmt-${med.med_id}`), undefined);
  });

  test("behavior: resources from a bundle survive a legacy re-sync (pruning is per source)", async () => {
    await records.ingestBundle(mrns[0] as string, {
      resourceType: "Bundle",
      type: "collection",
      entry: [{ resource: { resourceType: "Basic", id: "note-1", code: { text: "from a bundle" } } }],
    });
    await syncFromLegacy(db, mrns[0] as string, { records });
    assert.ok(byId(await stored(patientId), "note-1"));
  });

  test("behavior: syncAll syncs known MRNs and skips the ones the gatekeeper does not know", async () => {
    const results = await syncAllFromLegacy(db, { records });
    assert.deepEqual(
      results.map((r) => [r.mrn, r.skipped ?? "synced"]),
      [
        [mrns[0], "synced"],
        [mrns[1], "unknown-mrn"],
      ],
    );
  });

  test("error: a contract row that breaks the contract → 422 naming the view, key and column, not the value", async () => {
    await db.raw("create schema broken");
    for (const view of ["medrec_encounter", "medrec_document", "medrec_lab_result", "medrec_medication"]) {
      await db.raw(`create view broken.${view} as select * from legacy.${view}`);
    }
    await db.raw(
      "create view broken.medrec_patient as select patient_key, mrn, family_name, given_names, birth_date, 'martian'::text as gender, phone, address_line, city, postal_code, country, updated_at from legacy.medrec_patient",
    );
    await assert.rejects(
      syncFromLegacy(db, mrns[0] as string, { records, schema: "broken" }),
      (e: unknown) => {
        assert.ok(e instanceof ProblemError);
        assert.equal(e.kind, "unprocessable");
        assert.match(e.detail, /broken\.medrec_patient row \d+: gender/);
        assert.ok(!e.detail.includes("martian"));
        return true;
      },
    );
  });
});
