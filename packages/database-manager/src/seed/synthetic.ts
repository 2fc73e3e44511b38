import { CONFIDENTIALITY_SYSTEM, type FhirBundle, OBSERVATION_CATEGORY_SYSTEM } from "@medrec/protocol";
import {
  ACT_CODE,
  ALLERGY_CLINICAL,
  ALLERGY_VERIFICATION,
  CITIES,
  CONDITION_CATEGORY,
  CONDITION_CLINICAL,
  CONDITION_VERIFICATION,
  CVX,
  FAMILY_NAMES,
  GIVEN_NAMES,
  INTERPRETATION,
  LAB_TESTS,
  type LabTestKey,
  LOINC,
  MEDICATIONS,
  MRN_SYSTEM,
  RXNORM,
  SNOMED,
  UCUM,
} from "../records/terminology.ts";
import type { FhirResource } from "../seams.ts";
import { createPrng, hashSeed, type Prng } from "./prng.ts";

/** The synthetic clinical timeline ends here: fixed, so the same seed always gives the same records. */
export const SYNTHETIC_EPOCH = Date.UTC(2025, 0, 15, 9, 0, 0);
const DAY = 86_400_000;

export type SyntheticPatientParameters = { seed: number; index: number };

export type SyntheticPatient = {
  mrn: string;
  /** ~21 FHIR R4 resources with ids and `meta.lastUpdated`; one Condition is confidentiality `R`. */
  resources: FhirResource[];
};

/** The MRN of the `index`-th synthetic patient of `seed`. */
export const syntheticMrn = (seed: number, index: number) =>
  `SYN-${seed}-${String(index + 1).padStart(4, "0")}`;

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const isoInstant = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });
const category = (code: "laboratory" | "vital-signs", display: string) => [
  { coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code, display }] },
];

function interpretation(value: number, low: number, high: number) {
  const code = value > high ? "H" : value < low ? "L" : "N";
  const display = { H: "High", L: "Low", N: "Normal" }[code];
  return [{ coding: [{ system: INTERPRETATION, code, display }] }];
}

/** Lab values drift over the visits, the way a chronic patient's do. */
function labSeries(rng: Prng, key: LabTestKey, visits: number): number[] {
  const start = { hba1c: rng.float(6.4, 8.9, 1), creatinine: rng.float(0.8, 1.6, 2), ldl: rng.int(90, 170) }[
    key
  ];
  const step = { hba1c: -rng.float(0.1, 0.5, 1), creatinine: rng.float(0, 0.08, 2), ldl: -rng.int(5, 20) }[
    key
  ];
  const decimals = { hba1c: 1, creatinine: 2, ldl: 0 }[key];
  return Array.from({ length: visits }, (_, v) => Number((start + step * v).toFixed(decimals)));
}

/**
 * One deterministic synthetic patient (seeded PRNG, no real data): demographics, three
 * encounters, labs over time (HbA1c, creatinine, LDL with UCUM units and reference ranges),
 * vitals, medications, conditions, an allergy, immunizations, and one sensitive item (a
 * depression Condition labelled confidentiality `R`).
 */
export function generatePatientRecords({ seed, index }: SyntheticPatientParameters): SyntheticPatient {
  const rng = createPrng(hashSeed("medrec-synthetic", seed, index));
  const mrn = syntheticMrn(seed, index);
  const pid = `syn-${seed}-${index + 1}`;
  const subject = { reference: `Patient/${pid}` };
  const gender = rng.pick(["female", "male"] as const);
  const birth = SYNTHETIC_EPOCH - rng.int(35, 80) * 365.25 * DAY - rng.int(0, 364) * DAY;
  const visits = [540, 270, 30].map((d) => SYNTHETIC_EPOCH - (d + rng.int(0, 20)) * DAY);
  const lastUpdated = isoInstant(SYNTHETIC_EPOCH);
  const meta = () => ({ lastUpdated });
  const resources: FhirResource[] = [];

  resources.push({
    resourceType: "Patient",
    id: pid,
    meta: meta(),
    identifier: [{ system: MRN_SYSTEM, value: mrn }],
    active: true,
    name: [{ use: "official", family: rng.pick(FAMILY_NAMES), given: [rng.pick(GIVEN_NAMES[gender])] }],
    gender,
    birthDate: isoDate(birth),
    telecom: [{ system: "phone", value: `555-01${String(rng.int(0, 99)).padStart(2, "0")}`, use: "home" }],
    address: [
      { use: "home", line: [`${rng.int(1, 999)} Synthetic Way`], city: rng.pick(CITIES), country: "US" },
    ],
  });

  const encounterIds = visits.map((start, v) => {
    const id = `${pid}-enc-${v + 1}`;
    resources.push({
      resourceType: "Encounter",
      id,
      meta: meta(),
      status: "finished",
      class: { system: ACT_CODE, code: "AMB", display: "ambulatory" },
      type: [{ coding: [{ system: SNOMED, code: "185349003", display: "Encounter for check up" }] }],
      subject,
      period: { start: isoInstant(start), end: isoInstant(start + 40 * 60_000) },
      reasonCode: [{ text: "Diabetes and blood pressure follow-up" }],
    });
    return id;
  });

  const condition = (id: string, code: string, display: string, onset: number, sensitive = false) =>
    resources.push({
      resourceType: "Condition",
      id: `${pid}-${id}`,
      meta: sensitive
        ? { ...meta(), security: [{ system: CONFIDENTIALITY_SYSTEM, code: "R", display: "restricted" }] }
        : meta(),
      clinicalStatus: { coding: [{ system: CONDITION_CLINICAL, code: "active" }] },
      verificationStatus: { coding: [{ system: CONDITION_VERIFICATION, code: "confirmed" }] },
      category: [{ coding: [{ system: CONDITION_CATEGORY, code: "problem-list-item" }] }],
      code: { coding: [{ system: SNOMED, code, display }], text: display },
      subject,
      onsetDateTime: isoDate(onset),
    });
  condition("cond-diabetes", "44054006", "Diabetes mellitus type 2", visits[0] as number);
  condition("cond-hypertension", "59621000", "Essential hypertension", visits[0] as number);
  condition("cond-depression", "370143000", "Major depressive disorder", visits[1] as number, true);

  for (const key of Object.keys(LAB_TESTS) as LabTestKey[]) {
    const test = LAB_TESTS[key];
    // The first and the last visit: two values over time per test.
    const series = labSeries(rng, key, 2);
    series.forEach((value, t) => {
      const v = t === 0 ? 0 : visits.length - 1;
      resources.push({
        resourceType: "Observation",
        id: `${pid}-lab-${key}-${t + 1}`,
        meta: meta(),
        status: "final",
        category: category("laboratory", "Laboratory"),
        code: { coding: [{ system: LOINC, code: test.loinc, display: test.name }] },
        subject,
        encounter: { reference: `Encounter/${encounterIds[v]}` },
        effectiveDateTime: isoInstant((visits[v] as number) + 15 * 60_000),
        valueQuantity: quantity(value, test.unit),
        interpretation: interpretation(value, test.low, test.high),
        referenceRange: [
          key === "ldl"
            ? { high: quantity(test.high, test.unit), text: `<${test.high} ${test.unit}` }
            : { low: quantity(test.low, test.unit), high: quantity(test.high, test.unit) },
        ],
      });
    });
  }

  const lastVisit = visits[visits.length - 1] as number;
  const vital = (id: string, loinc: string, display: string, body: Record<string, unknown>) =>
    resources.push({
      resourceType: "Observation",
      id: `${pid}-vital-${id}`,
      meta: meta(),
      status: "final",
      category: category("vital-signs", "Vital Signs"),
      code: { coding: [{ system: LOINC, code: loinc, display }] },
      subject,
      encounter: { reference: `Encounter/${encounterIds[encounterIds.length - 1]}` },
      effectiveDateTime: isoInstant(lastVisit + 5 * 60_000),
      ...body,
    });
  vital("bp", "85354-9", "Blood pressure panel with all children optional", {
    component: [
      {
        code: { coding: [{ system: LOINC, code: "8480-6", display: "Systolic blood pressure" }] },
        valueQuantity: quantity(rng.int(118, 158), "mm[Hg]"),
      },
      {
        code: { coding: [{ system: LOINC, code: "8462-4", display: "Diastolic blood pressure" }] },
        valueQuantity: quantity(rng.int(72, 98), "mm[Hg]"),
      },
    ],
  });
  vital("weight", "29463-7", "Body weight", { valueQuantity: quantity(rng.float(58, 112, 1), "kg") });
  vital("heart-rate", "8867-4", "Heart rate", { valueQuantity: quantity(rng.int(58, 94), "/min") });

  const dosage = (med: (typeof MEDICATIONS)[keyof typeof MEDICATIONS], text: string) => [
    {
      text,
      route: { coding: [{ system: SNOMED, code: "26643006", display: "Oral route" }] },
      doseAndRate: [{ doseQuantity: quantity(med.dose, med.unit) }],
    },
  ];
  const metformin = MEDICATIONS.metformin;
  resources.push({
    resourceType: "MedicationRequest",
    id: `${pid}-med-metformin`,
    meta: meta(),
    status: "active",
    intent: "order",
    medicationCodeableConcept: {
      coding: [{ system: RXNORM, code: metformin.rxnorm, display: metformin.name }],
    },
    subject,
    encounter: { reference: `Encounter/${encounterIds[0]}` },
    authoredOn: isoInstant(visits[0] as number),
    dosageInstruction: dosage(metformin, "500 mg by mouth twice daily with meals"),
  });
  const lisinopril = MEDICATIONS.lisinopril;
  resources.push({
    resourceType: "MedicationStatement",
    id: `${pid}-med-lisinopril`,
    meta: meta(),
    status: "active",
    medicationCodeableConcept: {
      coding: [{ system: RXNORM, code: lisinopril.rxnorm, display: lisinopril.name }],
    },
    subject,
    effectivePeriod: { start: isoDate(visits[0] as number) },
    dosage: dosage(lisinopril, "10 mg by mouth once daily"),
  });

  resources.push({
    resourceType: "AllergyIntolerance",
    id: `${pid}-allergy-penicillin`,
    meta: meta(),
    clinicalStatus: { coding: [{ system: ALLERGY_CLINICAL, code: "active" }] },
    verificationStatus: { coding: [{ system: ALLERGY_VERIFICATION, code: "confirmed" }] },
    type: "allergy",
    category: ["medication"],
    criticality: "high",
    code: { coding: [{ system: SNOMED, code: "764146007", display: "Penicillin" }] },
    patient: subject,
    reaction: [
      {
        manifestation: [{ coding: [{ system: SNOMED, code: "247472004", display: "Hives" }] }],
        severity: "moderate",
      },
    ],
  });

  const immunization = (id: string, cvx: string, display: string, at: number) =>
    resources.push({
      resourceType: "Immunization",
      id: `${pid}-imm-${id}`,
      meta: meta(),
      status: "completed",
      vaccineCode: { coding: [{ system: CVX, code: cvx, display }] },
      patient: subject,
      occurrenceDateTime: isoInstant(at),
      primarySource: true,
    });
  immunization("flu", "140", "Influenza, seasonal, injectable, preservative free", visits[1] as number);
  immunization("tdap", "115", "Tdap", visits[0] as number);

  return { mrn, resources };
}

/** The same patient as a FHIR R4 `collection` Bundle (what a hospital would POST). */
export function generatePatientBundle(parameters: SyntheticPatientParameters): {
  mrn: string;
  bundle: FhirBundle;
} {
  const { mrn, resources } = generatePatientRecords(parameters);
  return {
    mrn,
    bundle: {
      resourceType: "Bundle",
      type: "collection",
      entry: resources.map((resource) => ({ resource })),
    },
  };
}
