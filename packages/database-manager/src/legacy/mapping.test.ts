import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  legacyId,
  mapDocument,
  mapEncounter,
  mapLabResult,
  mapLegacyPatient,
  mapMedication,
  mapPatient,
  quantity,
} from "./mapping.ts";

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON read in assertions
type Loose = any;

const at = new Date("2024-03-04T05:06:07Z");
const patient = {
  patient_key: "17",
  mrn: "H-0017",
  family_name: "Quinn",
  given_names: "Ada  J",
  birth_date: "1960-02-29",
  gender: "female" as const,
  phone: null,
  address_line: "1 Main St",
  city: "Fairview",
  postal_code: null,
  country: "US",
  updated_at: at,
};
const lab = {
  result_key: "901",
  patient_key: "17",
  encounter_key: "5",
  loinc_code: "4548-4",
  test_name: "HbA1c",
  value_numeric: 7.2,
  value_text: null,
  unit: "%",
  ref_low: 4,
  ref_high: 5.6,
  ref_text: "4.0-5.6",
  interpretation: "H" as const,
  status: "final" as const,
  collected_at: at,
  updated_at: at,
};
const med = {
  medication_key: "33",
  patient_key: "17",
  encounter_key: null,
  kind: "order" as const,
  rxnorm_code: "860975",
  drug_name: "metformin 500 MG Oral Tablet",
  dose_value: 500,
  dose_unit: "MG",
  route: "oral",
  instructions: "twice daily",
  start_date: "2024-01-01",
  end_date: null,
  status: "active" as const,
  updated_at: at,
};

describe("legacy mapping", () => {
  test("default: Patient from the patient view", () => {
    assert.deepEqual(mapPatient(patient), {
      resourceType: "Patient",
      id: "legacy-patient-17",
      meta: { lastUpdated: "2024-03-04T05:06:07Z" },
      identifier: [{ use: "usual", system: "urn:medrec:mrn", value: "H-0017" }],
      name: [{ use: "official", family: "Quinn", given: ["Ada", "J"] }],
      gender: "female",
      birthDate: "1960-02-29",
      address: [{ line: ["1 Main St"], city: "Fairview", country: "US" }],
    });
  });

  test("behavior: a lab result becomes a laboratory Observation with UCUM quantity, range and flag", () => {
    const obs = mapLabResult(lab) as Loose;
    assert.equal(obs.id, "legacy-lab-901");
    assert.equal(obs.category[0].coding[0].code, "laboratory");
    assert.deepEqual(obs.valueQuantity, {
      value: 7.2,
      unit: "%",
      system: "http://unitsofmeasure.org",
      code: "%",
    });
    assert.equal(obs.referenceRange[0].low.value, 4);
    assert.equal(obs.referenceRange[0].high.value, 5.6);
    assert.equal(obs.interpretation[0].coding[0].code, "H");
    assert.equal(obs.encounter.reference, "Encounter/legacy-encounter-5");
    const text = mapLabResult({ ...lab, value_numeric: null, value_text: "positive", unit: null }) as Loose;
    assert.equal(text.valueQuantity, undefined);
    assert.equal(text.valueString, "positive");
  });

  test("behavior: units are matched to UCUM case-insensitively; unknown units keep only their text", () => {
    assert.deepEqual(quantity(1.1, "MG/DL"), {
      value: 1.1,
      unit: "MG/DL",
      system: "http://unitsofmeasure.org",
      code: "mg/dL",
    });
    assert.deepEqual(quantity(3, "tabs"), { value: 3, unit: "tabs" });
    assert.deepEqual(quantity(3, null), { value: 3 });
  });

  test("behavior: an order is a MedicationRequest, a reported medication a MedicationStatement", () => {
    const rx = mapMedication(med) as Loose;
    assert.equal(rx.resourceType, "MedicationRequest");
    assert.equal(rx.intent, "order");
    assert.equal(rx.dosageInstruction[0].doseAndRate[0].doseQuantity.code, "mg");
    const stmt = mapMedication({
      ...med,
      kind: "reported",
      end_date: "2024-02-01",
      status: "completed",
    }) as Loose;
    assert.equal(stmt.resourceType, "MedicationStatement");
    assert.equal(stmt.id, "legacy-medstmt-33");
    assert.deepEqual(stmt.effectivePeriod, { start: "2024-01-01", end: "2024-02-01" });
  });

  test("behavior: encounters and documents", () => {
    const enc = mapEncounter({
      encounter_key: "5",
      patient_key: "17",
      class_code: "EMER",
      department: null,
      start_at: at,
      end_at: null,
      reason_text: "chest pain",
      updated_at: at,
    }) as Loose;
    assert.equal(enc.status, "in-progress");
    assert.equal(enc.class.code, "EMER");
    assert.deepEqual(enc.period, { start: "2024-03-04T05:06:07Z" });
    const doc = mapDocument({
      document_key: "8",
      patient_key: "17",
      encounter_key: null,
      loinc_code: "11506-3",
      title: "Progress note",
      content_type: "text/plain",
      content: "héllo",
      author: null,
      created_at: at,
      updated_at: at,
    }) as Loose;
    assert.equal(Buffer.from(doc.content[0].attachment.data, "base64").toString("utf8"), "héllo");
    assert.equal(doc.context, undefined);
  });

  test("behavior: ids are deterministic; keys that do not fit a FHIR id are hashed", () => {
    assert.equal(legacyId("lab", "901"), "legacy-lab-901");
    assert.equal(legacyId("lab", "a/b c"), legacyId("lab", "a/b c"));
    assert.match(legacyId("lab", "a/b c"), /^legacy-lab-[0-9a-f]{32}$/);
    const record = { patient, encounters: [], documents: [], labResults: [lab], medications: [med] };
    assert.deepEqual(mapLegacyPatient(record), mapLegacyPatient(structuredClone(record)));
    assert.equal(mapLegacyPatient(record, { idPrefix: "ehr2" })[0]?.id, "ehr2-patient-17");
  });
});
