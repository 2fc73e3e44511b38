import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FhirResource } from "../fhir.ts";
import { CONFIDENTIALITY_SYSTEM, OBSERVATION_CATEGORY_SYSTEM } from "../scopes.ts";
import {
  buildTimeline,
  filterTimeline,
  lookupIn,
  mergeTimeline,
  resourceDate,
  resourceFlag,
  resourceTitle,
  searchTimeline,
  toTimelineItem,
} from "./timeline.ts";

// Resources as Synthea 3.3 writes them (the population of the records tests), trimmed to the
// fields the timeline reads, plus the demo seed's lab with interpretation and reference range.
const lab = (value: number, extra: Record<string, unknown> = {}): FhirResource => ({
  resourceType: "Observation",
  id: `chol-${value}`,
  status: "final",
  category: [
    { coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory", display: "Laboratory" }] },
  ],
  code: {
    coding: [
      { system: "http://loinc.org", code: "2093-3", display: "Cholesterol [Mass/volume] in Serum or Plasma" },
    ],
    text: "Cholesterol [Mass/volume] in Serum or Plasma",
  },
  effectiveDateTime: "2017-01-29T07:52:26+00:00",
  issued: "2017-01-29T07:52:26.943+00:00",
  valueQuantity: { value, unit: "mg/dL", system: "http://unitsofmeasure.org", code: "mg/dL" },
  ...extra,
});

const a1c: FhirResource = {
  resourceType: "Observation",
  id: "lk-lab-a1c-20240305",
  status: "final",
  category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
  code: {
    coding: [
      { system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c/Hemoglobin.total in Blood" },
    ],
  },
  effectiveDateTime: "2024-03-05T08:10:00Z",
  valueQuantity: { value: 7.4, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
  interpretation: [
    {
      coding: [
        {
          system: "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
          code: "H",
          display: "High",
        },
      ],
      text: "High",
    },
  ],
  referenceRange: [{ high: { value: 5.7, unit: "%" }, text: "< 5.7 %" }],
};

const bloodPressure: FhirResource = {
  resourceType: "Observation",
  id: "bp-1",
  status: "final",
  category: [
    { coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "vital-signs", display: "Vital signs" }] },
  ],
  code: {
    coding: [{ system: "http://loinc.org", code: "85354-9", display: "Blood pressure panel" }],
    text: "Blood pressure panel",
  },
  effectiveDateTime: "2021-06-01T10:00:00+00:00",
  component: [
    { code: { text: "Diastolic Blood Pressure" }, valueQuantity: { value: 82, unit: "mm[Hg]" } },
    { code: { text: "Systolic Blood Pressure" }, valueQuantity: { value: 128, unit: "mm[Hg]" } },
  ],
};

const medication: FhirResource = {
  resourceType: "MedicationRequest",
  id: "med-1",
  status: "active",
  intent: "order",
  medicationCodeableConcept: {
    coding: [
      {
        system: "http://www.nlm.nih.gov/research/umls/rxnorm",
        code: "834102",
        display: "Penicillin V Potassium 500 MG Oral Tablet",
      },
    ],
    text: "Penicillin V Potassium 500 MG Oral Tablet",
  },
  authoredOn: "2026-10-20T19:52:26+00:00",
};

const medicationByReference: FhirResource = {
  resourceType: "MedicationRequest",
  id: "med-2",
  status: "stopped",
  medicationReference: { reference: "urn:uuid:ee77bac8" },
  authoredOn: "2017-02-12T10:43:19+00:00",
};

const immunization: FhirResource = {
  resourceType: "Immunization",
  id: "imm-1",
  status: "completed",
  vaccineCode: {
    coding: [
      {
        system: "http://hl7.org/fhir/sid/cvx",
        code: "140",
        display: "Influenza, seasonal, injectable, preservative free",
      },
    ],
    text: "Influenza, seasonal, injectable, preservative free",
  },
  occurrenceDateTime: "2017-01-29T07:52:26+00:00",
};

const procedure: FhirResource = {
  resourceType: "Procedure",
  id: "proc-1",
  status: "completed",
  code: {
    coding: [
      {
        system: "http://snomed.info/sct",
        code: "710824005",
        display: "Assessment of health and social care needs (procedure)",
      },
    ],
  },
  performedPeriod: { start: "2017-01-29T07:52:26+00:00", end: "2017-01-29T08:34:42+00:00" },
};

const depression: FhirResource = {
  resourceType: "Condition",
  id: "cond-1",
  meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: "R" }] },
  clinicalStatus: {
    coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" }],
  },
  code: { coding: [{ system: "http://snomed.info/sct", code: "35489007", display: "Depressive disorder" }] },
  onsetDateTime: "2022-04-02",
};

const document: FhirResource = {
  resourceType: "DocumentReference",
  id: "doc-1",
  type: { coding: [{ system: "http://loinc.org", code: "34117-2", display: "History and physical note" }] },
  date: "1976-02-01T07:52:26.943+00:00",
};

const at = (provider: string) => ({ provider, relationship: `0x${"ab".repeat(32)}` });

describe("timeline", () => {
  test("behavior: a lab line has value, unit, reference range and the interpretation's flag", () => {
    const item = toTimelineItem(a1c, at("Lakeside Clinic"));
    assert.equal(item.category, "labs");
    assert.equal(item.title, "Hemoglobin A1c/Hemoglobin.total in Blood");
    assert.equal(item.date, "2024-03-05T08:10:00Z");
    assert.deepEqual(item.value, { value: 7.4, unit: "%", text: "7.4 %" });
    assert.deepEqual(item.range, { high: 5.7, text: "< 5.7 %" });
    assert.equal(item.flag, "high");
    assert.equal(item.key, "Lakeside Clinic:Observation/lk-lab-a1c-20240305");
  });

  test("behavior: without an interpretation the flag comes from the range's bounds; without a range there is none", () => {
    const range = [{ low: { value: 125, unit: "mg/dL" }, high: { value: 200, unit: "mg/dL" } }];
    assert.equal(resourceFlag(lab(243.65, { referenceRange: range })), "high");
    assert.equal(resourceFlag(lab(110, { referenceRange: range })), "low");
    assert.equal(resourceFlag(lab(180, { referenceRange: range })), "normal");
    assert.equal(toTimelineItem(lab(180, { referenceRange: range }), at("x")).range?.text, "125–200 mg/dL");
    assert.equal(resourceFlag(lab(243.65)), undefined, "Synthea labs carry no range: no flag is made up");
  });

  test("behavior: titles in plain words for every kind, from text, display or the kind itself", () => {
    assert.equal(resourceTitle(medication), "Penicillin V Potassium 500 MG Oral Tablet");
    assert.equal(resourceTitle(medicationByReference), "Medication");
    const medicationResource: FhirResource = {
      resourceType: "Medication",
      id: "ee77bac8",
      code: {
        coding: [
          {
            system: "http://www.nlm.nih.gov/research/umls/rxnorm",
            code: "313782",
            display: "Acetaminophen 325 MG Oral Tablet",
          },
        ],
      },
    };
    assert.equal(
      resourceTitle(medicationByReference, lookupIn([medicationResource])),
      "Acetaminophen 325 MG Oral Tablet",
      "a Synthea urn:uuid reference to a Medication of the same provider",
    );
    assert.equal(
      buildTimeline([{ source: at("x"), resources: [medicationByReference, medicationResource] }]).find(
        (i) => i.resourceType === "MedicationRequest",
      )?.title,
      "Acetaminophen 325 MG Oral Tablet",
    );
    assert.equal(
      resourceTitle({ resourceType: "Organization", name: "CARING HEALTH CENTER, INC" }),
      "CARING HEALTH CENTER, INC",
    );
    assert.equal(
      resourceTitle({
        resourceType: "SupplyDelivery",
        type: { coding: [{ display: "Device" }] },
        suppliedItem: { itemCodeableConcept: { text: "Glucose meter" } },
      }),
      "Glucose meter",
    );
    assert.equal(resourceTitle(immunization), "Influenza, seasonal, injectable, preservative free");
    assert.equal(resourceTitle(procedure), "Assessment of health and social care needs (procedure)");
    assert.equal(resourceTitle(document), "History and physical note");
    assert.equal(resourceTitle({ resourceType: "ExplanationOfBenefit" }), "Explanation of benefit");
    assert.equal(resourceTitle({ resourceType: "SomethingNew" }), "Something New");
  });

  test("behavior: the date each kind is about", () => {
    assert.equal(resourceDate(procedure), "2017-01-29T07:52:26+00:00");
    assert.equal(resourceDate(medication), "2026-10-20T19:52:26+00:00");
    assert.equal(resourceDate(depression), "2022-04-02");
    assert.equal(resourceDate(document), "1976-02-01T07:52:26.943+00:00");
    assert.equal(resourceDate({ resourceType: "Basic" }), undefined);
  });

  test("behavior: blood pressure's components read as one value; vitals and sensitive are told", () => {
    const item = toTimelineItem(bloodPressure, at("x"));
    assert.equal(item.category, "vitals");
    assert.equal(item.value?.text, "82/128 mm[Hg]");
    const sensitive = toTimelineItem(depression, at("x"));
    assert.equal(sensitive.category, "conditions");
    assert.equal(sensitive.sensitive, true);
    assert.equal(sensitive.status, "active");
  });

  test("behavior: providers merged and sorted newest first, undated last", () => {
    const timeline = buildTimeline([
      { source: at("Riverside General"), resources: [procedure, { resourceType: "Basic", id: "b" }] },
      { source: at("Lakeside Clinic"), resources: [a1c, medication, depression] },
    ]);
    assert.deepEqual(
      timeline.map((i) => i.resource.id),
      ["med-1", "lk-lab-a1c-20240305", "cond-1", "proc-1", "b"],
    );
    const merged = mergeTimeline(timeline, [toTimelineItem(immunization, at("Hilltop Medical"))]);
    assert.deepEqual(
      merged.map((i) => i.resource.id),
      ["med-1", "lk-lab-a1c-20240305", "cond-1", "imm-1", "proc-1", "b"],
      "a Hilltop line of the same instant sorts by provider",
    );
  });

  test("behavior: filters by category, provider, dates, out of range and sensitivity; search by words", () => {
    const timeline = buildTimeline([
      { source: at("Lakeside Clinic"), resources: [a1c, lab(243.65), medication, depression, bloodPressure] },
      { source: at("Hilltop Medical"), resources: [immunization, procedure, document] },
    ]);
    assert.deepEqual(
      filterTimeline(timeline, { categories: ["labs"] }).map((i) => i.resource.id),
      ["lk-lab-a1c-20240305", "chol-243.65"],
    );
    assert.deepEqual(
      filterTimeline(timeline, { outOfRange: true }).map((i) => i.resource.id),
      ["lk-lab-a1c-20240305"],
    );
    assert.deepEqual(
      filterTimeline(timeline, { providers: ["Hilltop Medical"], from: "2000-01-01" }).map(
        (i) => i.resource.id,
      ),
      ["proc-1", "imm-1"],
      "same instant, same provider: by title",
    );
    assert.deepEqual(
      filterTimeline(timeline, { from: "2022-04-02", to: "2022-04-02" }).map((i) => i.resource.id),
      ["cond-1"],
      "a date as `to` takes the whole day",
    );
    assert.ok(!filterTimeline(timeline, { sensitive: false }).some((i) => i.sensitive));
    assert.deepEqual(
      searchTimeline(timeline, "influenza HILLTOP").map((i) => i.resource.id),
      ["imm-1"],
    );
    assert.deepEqual(
      searchTimeline(timeline, "7.4").map((i) => i.resource.id),
      ["lk-lab-a1c-20240305"],
    );
    assert.equal(searchTimeline(timeline, "  ").length, timeline.length);
  });
});
