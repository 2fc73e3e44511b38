/**
 * The demo patient of `./medrec start`: one invented person, Maria Elena Alvarez (born
 * 1961-03-14, synthetic: no real patient), with a different, clinically coherent record at each
 * of the three demo providers, 2019–2025:
 *
 * - Riverside General (hospital): an emergency visit for an ankle sprain (2019) and a 4-day
 *   admission for community-acquired pneumonia (January 2024): chest X-ray, CBC / CRP / basic
 *   chemistry on days 1, 3 and 5, vitals, IV ceftriaxone, discharge on clarithromycin, a
 *   discharge summary. The admission's medication history (as reported) omits her statin.
 * - Lakeside Clinic (primary care, 2020–2025): type 2 diabetes, hypertension, hyperlipidaemia,
 *   obesity; metformin, simvastatin 40 mg, lisinopril; HbA1c every 6 months, yearly lipid panel,
 *   creatinine and eGFR (CKD-EPI 2009, then CKD-EPI 2021 from 2022); blood pressure, weight, BMI
 *   at every visit; influenza every autumn, COVID-19, pneumococcal, Tdap; penicillin allergy; a
 *   referral to cardiology; and the one sensitive item: a depressive disorder Condition labelled
 *   confidentiality `R` (docs/protocol.md scopes: it needs `sensitive` in addition to `conditions`).
 * - Hilltop Medical (cardiology, 2024–2025): referral for palpitations, ECG, Holter, transthoracic
 *   echocardiogram, paroxysmal atrial fibrillation, apixaban and metoprolol, consult and
 *   follow-up notes.
 *
 * Across two providers sits one medication pair from the ONC high-priority drug–drug interaction
 * list: simvastatin (Lakeside Clinic, active since 2020) and clarithromycin (Riverside General,
 * discharge prescription 2024-01-12) — see {@link DEMO_INTERACTION}.
 *
 * What was confirmed about that pair, and where (searched 2026, stored public reference text):
 * - The paper: Phansalkar S, Desai AA, Bell D, et al. "High-priority drug–drug interactions for
 *   use in electronic health records". J Am Med Inform Assoc 2012;19(5):735–743,
 *   doi:10.1136/amiajnl-2011-000612, PMID 22539083 (abstract at pubmed.ncbi.nlm.nih.gov/22539083
 *   and psnet.ahrq.gov): "Of 31 DDIs considered to be high risk, the panel approved a final list
 *   of 15 interactions. Panelists agreed that this list represented drugs that are contraindicated
 *   for concurrent use".
 * - The list entry: the paper's own table was not readable in the stored text. The 15 entries as
 *   reproduced in Am J Health-Syst Pharm 2022;79(13):1086–1095 (PMC9218784, Table 4) include
 *   entry 11 "HMG Co-A Reductase Inhibitors/CYP3A4 and protease inhibitors".
 * - Clarithromycin is a strong CYP3A4 inhibitor (e.g. the "strong inhibitors — macrolide
 *   antibiotics: clarithromycin, erythromycin, telithromycin" list in JuliaHealth/CloToP.jl
 *   3a4_inhibitors.md; the cqframework dQM value set "strong CYP3A4 inhibitors … including
 *   clarithromycin"); simvastatin and lovastatin are the statins most affected (Abu Mellal et al.,
 *   Ther Clin Risk Manag 2019, PMC6661989).
 * - NOT confirmed verbatim: the wording "HMG-CoA reductase inhibitors (lovastatin, simvastatin) –
 *   strong CYP3A4 inhibitors (e.g. clarithromycin…)" as printed in the 2012 paper.
 *
 * RxNorm codes are used only where a public source mapped the exact product (openFDA NDC
 * directory `openfda.rxcui` of single-strength products): simvastatin 40 MG Oral Tablet 198211,
 * clarithromycin 500 MG Oral Tablet 197517, metformin hydrochloride 500 MG Oral Tablet 861007,
 * lisinopril 10 MG Oral Tablet 314076, 24 HR metoprolol succinate 25 MG Extended Release Oral
 * Tablet 866427. Apixaban, ceftriaxone and aspirin carry text only (no code confirmed).
 *
 * Deterministic: fixed dates, hand-written clinical series, the seeded PRNG (prng.ts) only for
 * minute offsets and heart rates; no clock, no Math.random.
 */
import { Buffer } from "node:buffer";
import { CONFIDENTIALITY_SYSTEM, type FhirBundle, OBSERVATION_CATEGORY_SYSTEM } from "@medrec/protocol";
import {
  ACT_CODE,
  ALLERGY_CLINICAL,
  ALLERGY_VERIFICATION,
  CONDITION_CATEGORY,
  CONDITION_CLINICAL,
  CONDITION_VERIFICATION,
  CVX,
  INTERPRETATION,
  LOINC,
  RXNORM,
  SNOMED,
  UCUM,
} from "../records/terminology.ts";
import type { FhirResource } from "../seams.ts";
import { createPrng, hashSeed } from "./prng.ts";

/** The three demo providers, in the order `demoPatientBundles` returns them. */
export const DEMO_PROVIDERS = ["Riverside General", "Lakeside Clinic", "Hilltop Medical"] as const;
export type DemoProvider = (typeof DEMO_PROVIDERS)[number];

/** The invented demo patient (same person at every provider). */
export const DEMO_PATIENT = {
  given: ["Maria", "Elena"],
  family: "Alvarez",
  birthDate: "1961-03-14",
  gender: "female",
} as const;

/** The demo patient's MRN at each provider. */
export const DEMO_MRNS: Readonly<Record<DemoProvider, string>> = {
  "Riverside General": "RG-00418273",
  "Lakeside Clinic": "LC-2020-0917",
  "Hilltop Medical": "HM-55102",
};

/**
 * The ONC high-priority interaction that the demo's records contain across two providers
 * (confirmation and its limits: see this file's header).
 */
export const DEMO_INTERACTION = {
  drugs: ["simvastatin", "clarithromycin"],
  providers: ["Lakeside Clinic", "Riverside General"],
  rxnorm: { simvastatin: "198211", clarithromycin: "197517" },
  /** The list entry as reproduced in `entrySource` (the 2012 paper's own wording was not checked). */
  entry: "HMG Co-A Reductase Inhibitors/CYP3A4 and protease inhibitors",
  entrySource: "Am J Health-Syst Pharm 2022;79(13):1086-1095, Table 4 (PMC9218784)",
  source: "Phansalkar et al., JAMIA 2012",
  doi: "10.1136/amiajnl-2011-000612",
} as const;

/** What the demo's family-member viewer is meant to be granted (both providers hold such records). */
export const DEMO_FAMILY_GRANT = {
  providers: ["Lakeside Clinic", "Riverside General"],
  scopes: ["labs", "medications"],
} as const;

export type DemoPatientBundle = { provider: DemoProvider; mrn: string; bundle: FhirBundle };

// ── Building blocks ─────────────────────────────────────────────────────────────────────────

const V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203";
const V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074";
const ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source";
const DISCHARGE_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition";
const MED_REQUEST_CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category";
const DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category";

type Coding = { system: string; code: string; display?: string };
type Concept = { coding?: Coding[]; text: string };

const concept = (system: string, code: string, display: string, text = display): Concept => ({
  coding: [{ system, code, display }],
  text,
});
const textOnly = (text: string): Concept => ({ text });
const quantity = (value: number, unit: string, code = unit) => ({ value, unit, system: UCUM, code });
const reference = (type: string, id: string) => ({ reference: `${type}/${id}` });
const instant = (date: string, time = "09:00") => `${date}T${time}:00Z`;
const compact = (date: string) => date.slice(0, 10).replaceAll("-", "");
/** `minutes` after an instant, as an instant (pure arithmetic on the given date, no clock). */
const later = (at: string, minutes: number) =>
  new Date(Date.parse(at) + minutes * 60_000).toISOString().replace(".000Z", "Z");

const ORAL = concept(SNOMED, "26643006", "Oral route");
const IV = concept(SNOMED, "47625008", "Intravenous route");

/** A lab test: LOINC, UCUM unit (display and code) and adult female reference range. */
type LabTest = {
  loinc: string;
  display: string;
  unit: string;
  ucum?: string;
  low?: number;
  high?: number;
  /** Shown with the range, e.g. "<100 mg/dL". */
  rangeText?: string;
};

const LAB = {
  hba1c: {
    loinc: "4548-4",
    display: "Hemoglobin A1c/Hemoglobin.total in Blood",
    unit: "%",
    low: 4.0,
    high: 5.6,
  },
  cholesterol: {
    loinc: "2093-3",
    display: "Cholesterol [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    high: 200,
    rangeText: "<200 mg/dL",
  },
  ldl: {
    loinc: "13457-7",
    display: "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
    unit: "mg/dL",
    high: 100,
    rangeText: "<100 mg/dL",
  },
  hdl: {
    loinc: "2085-9",
    display: "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    low: 50,
    rangeText: ">=50 mg/dL (female)",
  },
  triglycerides: {
    loinc: "2571-8",
    display: "Triglyceride [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    high: 150,
    rangeText: "<150 mg/dL",
  },
  creatinine: {
    loinc: "2160-0",
    display: "Creatinine [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    low: 0.57,
    high: 1.0,
  },
  egfr2009: {
    loinc: "62238-1",
    display:
      "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)",
    unit: "mL/min/{1.73_m2}",
    low: 60,
    rangeText: ">=60 mL/min/1.73 m2",
  },
  egfr2021: {
    loinc: "98979-8",
    display:
      "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)",
    unit: "mL/min/{1.73_m2}",
    low: 60,
    rangeText: ">=60 mL/min/1.73 m2",
  },
  wbc: {
    loinc: "6690-2",
    display: "Leukocytes [#/volume] in Blood by Automated count",
    unit: "10*3/uL",
    low: 4.0,
    high: 11.0,
  },
  hemoglobin: {
    loinc: "718-7",
    display: "Hemoglobin [Mass/volume] in Blood",
    unit: "g/dL",
    low: 12.0,
    high: 15.5,
  },
  platelets: {
    loinc: "777-3",
    display: "Platelets [#/volume] in Blood by Automated count",
    unit: "10*3/uL",
    low: 150,
    high: 400,
  },
  crp: {
    loinc: "1988-5",
    display: "C reactive protein [Mass/volume] in Serum or Plasma",
    unit: "mg/L",
    high: 5.0,
    rangeText: "<5.0 mg/L",
  },
  sodium: {
    loinc: "2951-2",
    display: "Sodium [Moles/volume] in Serum or Plasma",
    unit: "mmol/L",
    low: 135,
    high: 145,
  },
  potassium: {
    loinc: "2823-3",
    display: "Potassium [Moles/volume] in Serum or Plasma",
    unit: "mmol/L",
    low: 3.5,
    high: 5.1,
  },
  glucose: {
    loinc: "2345-7",
    display: "Glucose [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    low: 70,
    high: 99,
  },
  bun: {
    loinc: "3094-0",
    display: "Urea nitrogen [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    low: 7,
    high: 20,
  },
  tsh: {
    loinc: "3016-3",
    display: "Thyrotropin [Units/volume] in Serum or Plasma",
    unit: "mIU/L",
    ucum: "m[IU]/L",
    low: 0.4,
    high: 4.0,
  },
  ntprobnp: {
    loinc: "33762-6",
    display: "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
    unit: "pg/mL",
    high: 125,
    rangeText: "<125 pg/mL",
  },
} as const satisfies Record<string, LabTest>;
type LabKey = keyof typeof LAB;

const VITAL = {
  weight: { loinc: "29463-7", display: "Body weight", unit: "kg" },
  height: { loinc: "8302-2", display: "Body height", unit: "cm" },
  bmi: { loinc: "39156-5", display: "Body mass index (BMI) [Ratio]", unit: "kg/m2" },
  heartRate: { loinc: "8867-4", display: "Heart rate", unit: "/min" },
  respRate: { loinc: "9279-1", display: "Respiratory rate", unit: "/min" },
  temperature: { loinc: "8310-5", display: "Body temperature", unit: "Cel" },
  spo2: { loinc: "59408-5", display: "Oxygen saturation in Arterial blood by Pulse oximetry", unit: "%" },
} as const;
type VitalKey = keyof typeof VITAL;

function interpretation(value: number, test: LabTest) {
  const code =
    test.high !== undefined && value > test.high
      ? "H"
      : test.low !== undefined && value < test.low
        ? "L"
        : "N";
  const display = { H: "High", L: "Low", N: "Normal" }[code];
  return [{ coding: [{ system: INTERPRETATION, code, display }], text: display }];
}

function referenceRange(test: LabTest) {
  const unitCode = "ucum" in test && test.ucum ? test.ucum : test.unit;
  const range: Record<string, unknown> = {};
  if (test.low !== undefined) range.low = quantity(test.low, test.unit, unitCode);
  if (test.high !== undefined) range.high = quantity(test.high, test.unit, unitCode);
  range.text = test.rangeText ?? `${test.low}-${test.high} ${test.unit}`;
  return [range];
}

/** One provider's record of the demo patient, built resource by resource. */
function providerRecord(prefix: string, provider: DemoProvider) {
  const mrnSystem = `urn:medrec:mrn:${provider.toLowerCase().replaceAll(" ", "-")}`;
  const mrn = DEMO_MRNS[provider];
  const rng = createPrng(hashSeed("medrec-demo", provider));
  const resources: FhirResource[] = [];
  const patientId = `${prefix}-patient`;
  const subject = reference("Patient", patientId);
  const meta = (lastUpdated: string, sensitive = false) =>
    sensitive
      ? { lastUpdated, security: [{ system: CONFIDENTIALITY_SYSTEM, code: "R", display: "restricted" }] }
      : { lastUpdated };
  const add = (resource: FhirResource) => {
    resources.push(resource);
    return resource.id as string;
  };
  const encounterRef = (id: string | undefined) => (id ? { encounter: reference("Encounter", id) } : {});
  /** A time of day on `date` with a seeded minute, e.g. "2021-02-16T09:17:00Z". */
  const at = (date: string, hour: number) =>
    instant(date, `${String(hour).padStart(2, "0")}:${String(rng.int(0, 59)).padStart(2, "0")}`);

  const patient = (lastUpdated: string) =>
    add({
      resourceType: "Patient",
      id: patientId,
      meta: meta(lastUpdated),
      identifier: [
        {
          use: "usual",
          type: { coding: [{ system: V2_0203, code: "MR", display: "Medical record number" }], text: "MRN" },
          system: mrnSystem,
          value: mrn,
        },
      ],
      active: true,
      name: [{ use: "official", family: DEMO_PATIENT.family, given: [...DEMO_PATIENT.given] }],
      telecom: [{ system: "phone", value: "555-0142", use: "mobile" }],
      gender: DEMO_PATIENT.gender,
      birthDate: DEMO_PATIENT.birthDate,
      address: [
        {
          use: "home",
          line: ["2417 Willow Creek Road"],
          city: "Riverside",
          postalCode: "00000",
          country: "US",
        },
      ],
    });

  const encounter = (
    id: string,
    p: {
      classCode: "AMB" | "IMP" | "EMER";
      type: Concept;
      start: string;
      end: string;
      reason: Concept;
      serviceProvider: string;
      hospitalization?: Record<string, unknown>;
    },
  ) =>
    add({
      resourceType: "Encounter",
      id,
      meta: meta(p.end),
      status: "finished",
      class: {
        system: ACT_CODE,
        code: p.classCode,
        display: { AMB: "ambulatory", IMP: "inpatient encounter", EMER: "emergency" }[p.classCode],
      },
      type: [p.type],
      subject,
      period: { start: p.start, end: p.end },
      reasonCode: [p.reason],
      ...(p.hospitalization ? { hospitalization: p.hospitalization } : {}),
      serviceProvider: { display: p.serviceProvider },
    });

  const condition = (
    id: string,
    p: {
      code: Concept;
      category: "problem-list-item" | "encounter-diagnosis";
      onset: string;
      recorded: string;
      encounter?: string;
      abatement?: string;
      sensitive?: boolean;
      note?: string;
    },
  ) =>
    add({
      resourceType: "Condition",
      id,
      meta: meta(p.recorded, p.sensitive),
      clinicalStatus: { coding: [{ system: CONDITION_CLINICAL, code: p.abatement ? "resolved" : "active" }] },
      verificationStatus: { coding: [{ system: CONDITION_VERIFICATION, code: "confirmed" }] },
      category: [
        {
          coding: [
            {
              system: CONDITION_CATEGORY,
              code: p.category,
              display: p.category === "problem-list-item" ? "Problem List Item" : "Encounter Diagnosis",
            },
          ],
        },
      ],
      code: p.code,
      subject,
      ...encounterRef(p.encounter),
      onsetDateTime: p.onset,
      ...(p.abatement ? { abatementDateTime: p.abatement } : {}),
      recordedDate: p.recorded,
      ...(p.note ? { note: [{ text: p.note }] } : {}),
    });

  const lab = (key: LabKey, effective: string, value: number, encounter?: string) => {
    const test: LabTest = LAB[key];
    return add({
      resourceType: "Observation",
      id: `${prefix}-lab-${key}-${compact(effective)}`,
      meta: meta(effective),
      status: "final",
      category: [
        { coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory", display: "Laboratory" }] },
      ],
      code: concept(LOINC, test.loinc, test.display),
      subject,
      ...encounterRef(encounter),
      effectiveDateTime: effective,
      issued: later(effective, 3 * 60),
      valueQuantity: quantity(value, test.unit, test.ucum ?? test.unit),
      interpretation: interpretation(value, test),
      referenceRange: referenceRange(test),
    });
  };

  /** A lab panel: its Observations and the DiagnosticReport that groups them. */
  const panel = (
    id: string,
    p: {
      code: Concept;
      effective: string;
      encounter?: string;
      results: [LabKey, number][];
      conclusion?: string;
    },
  ) => {
    const ids = p.results.map(([key, value]) => lab(key, p.effective, value, p.encounter));
    return add({
      resourceType: "DiagnosticReport",
      id,
      meta: meta(p.effective),
      status: "final",
      category: [{ coding: [{ system: V2_0074, code: "LAB", display: "Laboratory" }] }],
      code: p.code,
      subject,
      ...encounterRef(p.encounter),
      effectiveDateTime: p.effective,
      issued: p.effective,
      result: ids.map((r) => reference("Observation", r)),
      ...(p.conclusion ? { conclusion: p.conclusion } : {}),
    });
  };

  const vitalCategory = [
    { coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "vital-signs", display: "Vital Signs" }] },
  ];
  const vital = (key: VitalKey, effective: string, value: number, encounter?: string) => {
    const v = VITAL[key];
    return add({
      resourceType: "Observation",
      id: `${prefix}-vital-${key}-${compact(effective)}-${effective.slice(11, 13)}`,
      meta: meta(effective),
      status: "final",
      category: vitalCategory,
      code: concept(LOINC, v.loinc, v.display),
      subject,
      ...encounterRef(encounter),
      effectiveDateTime: effective,
      valueQuantity: quantity(value, v.unit),
    });
  };
  const bloodPressure = (effective: string, systolic: number, diastolic: number, encounter?: string) =>
    add({
      resourceType: "Observation",
      id: `${prefix}-vital-bp-${compact(effective)}-${effective.slice(11, 13)}`,
      meta: meta(effective),
      status: "final",
      category: vitalCategory,
      code: concept(LOINC, "85354-9", "Blood pressure panel with all children optional", "Blood pressure"),
      subject,
      ...encounterRef(encounter),
      effectiveDateTime: effective,
      component: [
        {
          code: concept(LOINC, "8480-6", "Systolic blood pressure"),
          valueQuantity: quantity(systolic, "mm[Hg]"),
        },
        {
          code: concept(LOINC, "8462-4", "Diastolic blood pressure"),
          valueQuantity: quantity(diastolic, "mm[Hg]"),
        },
      ],
    });

  const medicationRequest = (
    id: string,
    p: {
      medication: Concept;
      status: "active" | "completed" | "stopped";
      authoredOn: string;
      encounter?: string;
      category?: "inpatient" | "outpatient" | "discharge" | "community";
      dosage: Record<string, unknown>;
      reason?: Concept;
      dispense?: Record<string, unknown>;
      note?: string;
    },
  ) =>
    add({
      resourceType: "MedicationRequest",
      id,
      meta: meta(p.authoredOn),
      status: p.status,
      intent: "order",
      ...(p.category
        ? { category: [{ coding: [{ system: MED_REQUEST_CATEGORY, code: p.category }], text: p.category }] }
        : {}),
      medicationCodeableConcept: p.medication,
      subject,
      ...encounterRef(p.encounter),
      authoredOn: p.authoredOn,
      ...(p.reason ? { reasonCode: [p.reason] } : {}),
      dosageInstruction: [p.dosage],
      ...(p.dispense ? { dispenseRequest: p.dispense } : {}),
      ...(p.note ? { note: [{ text: p.note }] } : {}),
    });

  const oralDose = (
    text: string,
    dose: number,
    unit: string,
    frequency: number,
    extra: Record<string, unknown> = {},
  ) => ({
    text,
    timing: { repeat: { frequency, period: 1, periodUnit: "d", ...extra } },
    route: ORAL,
    doseAndRate: [{ doseQuantity: quantity(dose, unit) }],
  });

  const allergyPenicillin = (recorded: string, note: string) =>
    add({
      resourceType: "AllergyIntolerance",
      id: `${prefix}-allergy-penicillin`,
      meta: meta(recorded),
      clinicalStatus: { coding: [{ system: ALLERGY_CLINICAL, code: "active" }] },
      verificationStatus: { coding: [{ system: ALLERGY_VERIFICATION, code: "confirmed" }] },
      type: "allergy",
      category: ["medication"],
      criticality: "high",
      code: concept(SNOMED, "764146007", "Penicillin"),
      patient: subject,
      recordedDate: recorded,
      reaction: [
        {
          manifestation: [concept(SNOMED, "247472004", "Hives")],
          severity: "moderate",
          description: note,
        },
      ],
    });

  const procedure = (
    id: string,
    p: { code: Concept; performed: string; encounter?: string; outcome?: string; reason?: Concept },
  ) =>
    add({
      resourceType: "Procedure",
      id,
      meta: meta(p.performed),
      status: "completed",
      code: p.code,
      subject,
      ...encounterRef(p.encounter),
      performedDateTime: p.performed,
      ...(p.reason ? { reasonCode: [p.reason] } : {}),
      ...(p.outcome ? { outcome: textOnly(p.outcome) } : {}),
    });

  const document = (
    id: string,
    p: { type: Concept; date: string; title: string; author: string; text: string; encounter?: string },
  ) =>
    add({
      resourceType: "DocumentReference",
      id,
      meta: meta(p.date),
      status: "current",
      docStatus: "final",
      type: p.type,
      category: [{ coding: [{ system: DOC_CATEGORY, code: "clinical-note", display: "Clinical Note" }] }],
      subject,
      date: p.date,
      author: [{ display: p.author }],
      description: p.title,
      content: [
        {
          attachment: {
            contentType: "text/plain",
            language: "en",
            data: Buffer.from(
              `${p.text.trim()}\n\n(Synthetic demo record — not a real patient.)\n`,
              "utf8",
            ).toString("base64"),
            title: p.title,
            creation: p.date,
          },
        },
      ],
      ...(p.encounter ? { context: { encounter: [reference("Encounter", p.encounter)] } } : {}),
    });

  const immunization = (id: string, vaccine: Concept, date: string, lot: string, site: "LA" | "RA") =>
    add({
      resourceType: "Immunization",
      id,
      meta: meta(instant(date, "10:00")),
      status: "completed",
      vaccineCode: vaccine,
      patient: subject,
      occurrenceDateTime: instant(date, "10:00"),
      primarySource: true,
      lotNumber: lot,
      site: {
        coding: [
          {
            system: "http://terminology.hl7.org/CodeSystem/v3-ActSite",
            code: site,
            display: site === "LA" ? "left arm" : "right arm",
          },
        ],
      },
      route: concept(
        "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration",
        "IM",
        "Injection, intramuscular",
      ),
      doseQuantity: quantity(0.5, "mL"),
    });

  return {
    resources,
    rng,
    patientId,
    subject,
    at,
    add,
    meta,
    patient,
    encounter,
    condition,
    lab,
    panel,
    vital,
    bloodPressure,
    medicationRequest,
    oralDose,
    allergyPenicillin,
    procedure,
    document,
    immunization,
  };
}

const MED = {
  simvastatin: concept(RXNORM, "198211", "simvastatin 40 MG Oral Tablet", "simvastatin 40 mg oral tablet"),
  clarithromycin: concept(
    RXNORM,
    "197517",
    "clarithromycin 500 MG Oral Tablet",
    "clarithromycin 500 mg oral tablet",
  ),
  metformin: concept(
    RXNORM,
    "861007",
    "metformin hydrochloride 500 MG Oral Tablet",
    "metformin hydrochloride 500 mg oral tablet",
  ),
  lisinopril: concept(RXNORM, "314076", "lisinopril 10 MG Oral Tablet", "lisinopril 10 mg oral tablet"),
  metoprolol: concept(
    RXNORM,
    "866427",
    "24 HR metoprolol succinate 25 MG Extended Release Oral Tablet",
    "metoprolol succinate ER 25 mg oral tablet",
  ),
  apixaban: textOnly("apixaban 5 mg oral tablet"),
  ceftriaxone: textOnly("ceftriaxone 1 g powder for injection"),
  aspirin: textOnly("aspirin 81 mg oral tablet (over the counter)"),
} as const;

const COND = {
  diabetes: concept(SNOMED, "44054006", "Diabetes mellitus type 2", "Type 2 diabetes mellitus"),
  hypertension: concept(SNOMED, "59621000", "Essential hypertension"),
  hyperlipidaemia: concept(SNOMED, "55822004", "Hyperlipidemia"),
  obesity: concept(SNOMED, "414916001", "Obesity"),
  depression: concept(SNOMED, "35489007", "Depressive disorder"),
  pneumonia: concept(SNOMED, "385093006", "Community acquired pneumonia", "Community-acquired pneumonia"),
  ankleSprain: concept(SNOMED, "44465007", "Sprain of ankle", "Sprain of right ankle"),
  paf: concept(SNOMED, "282825002", "Paroxysmal atrial fibrillation"),
  palpitations: concept(SNOMED, "80313002", "Palpitations"),
} as const;

// ── Riverside General ───────────────────────────────────────────────────────────────────────

function riversideGeneral(): FhirResource[] {
  const provider = "Riverside General";
  const r = providerRecord("rg", provider);

  // 2019: emergency visit, right ankle sprain.
  const ed = r.encounter("rg-enc-20191102-ed", {
    classCode: "EMER",
    type: concept(SNOMED, "50849002", "Emergency room admission", "Emergency department visit"),
    start: instant("2019-11-02", "16:40"),
    end: instant("2019-11-02", "19:05"),
    reason: textOnly("Right ankle injury after a fall on stairs"),
    serviceProvider: provider,
  });
  r.condition("rg-cond-ankle-sprain-2019", {
    code: COND.ankleSprain,
    category: "encounter-diagnosis",
    onset: "2019-11-02",
    recorded: instant("2019-11-02", "18:30"),
    encounter: ed,
    abatement: "2019-12-15",
    note: "Ottawa ankle rules negative; no imaging. RICE, ibuprofen as needed.",
  });
  r.vital("heartRate", instant("2019-11-02", "16:55"), 84, ed);
  r.bloodPressure(instant("2019-11-02", "16:55"), 146, 90, ed);
  r.allergyPenicillin(
    instant("2019-11-02", "16:50"),
    "Hives after amoxicillin in childhood (patient report).",
  );

  // January 2024: admission for community-acquired pneumonia.
  const admit = instant("2024-01-08", "14:20");
  const discharge = instant("2024-01-12", "11:00");
  const stay = r.encounter("rg-enc-20240108-inpatient", {
    classCode: "IMP",
    type: concept(SNOMED, "32485007", "Hospital admission"),
    start: admit,
    end: discharge,
    reason: COND.pneumonia,
    serviceProvider: provider,
    hospitalization: {
      admitSource: {
        coding: [{ system: ADMIT_SOURCE, code: "emd", display: "From accident/emergency department" }],
      },
      dischargeDisposition: { coding: [{ system: DISCHARGE_DISPOSITION, code: "home", display: "Home" }] },
    },
  });
  r.condition("rg-cond-cap-2024", {
    code: COND.pneumonia,
    category: "encounter-diagnosis",
    onset: "2024-01-05",
    recorded: instant("2024-01-08", "13:40"),
    encounter: stay,
    abatement: "2024-01-17",
    note: "Right lower lobe pneumonia, CURB-65 score 1. Treated with ceftriaxone and clarithromycin.",
  });
  r.procedure("rg-proc-cxr-20240108", {
    code: concept(SNOMED, "399208008", "Plain X-ray of chest", "Chest X-ray, PA and lateral"),
    performed: instant("2024-01-08", "12:55"),
    encounter: stay,
    reason: textOnly("Fever, productive cough, hypoxaemia"),
  });
  r.add({
    resourceType: "DiagnosticReport",
    id: "rg-dr-cxr-20240108",
    meta: r.meta(instant("2024-01-08", "13:30")),
    status: "final",
    category: [{ coding: [{ system: V2_0074, code: "RAD", display: "Radiology" }] }],
    code: concept(LOINC, "36643-5", "XR Chest 2 Views", "Chest X-ray, 2 views"),
    subject: r.subject,
    encounter: reference("Encounter", stay),
    effectiveDateTime: instant("2024-01-08", "12:55"),
    issued: instant("2024-01-08", "13:30"),
    resultsInterpreter: [{ display: "Dr. Samuel Okoye, Radiology" }],
    conclusion:
      "Airspace consolidation in the right lower lobe with air bronchograms, consistent with pneumonia. " +
      "No pleural effusion or pneumothorax. Heart size normal.",
  });

  const cbc = concept(LOINC, "58410-2", "CBC panel - Blood by Automated count", "Complete blood count");
  const chemistry = textOnly("Basic metabolic panel");
  const days: {
    date: string;
    cbc: [number, number, number];
    crp: number;
    chem?: [number, number, number, number, number];
  }[] = [
    // WBC, haemoglobin, platelets; CRP; sodium, potassium, glucose, urea nitrogen, creatinine
    {
      date: instant("2024-01-08", "13:10"),
      cbc: [14.8, 12.9, 312],
      crp: 142,
      chem: [134, 4.1, 212, 24, 1.08],
    },
    {
      date: instant("2024-01-10", "06:15"),
      cbc: [10.2, 12.4, 298],
      crp: 61,
      chem: [137, 4.3, 168, 18, 0.97],
    },
    { date: instant("2024-01-12", "06:20"), cbc: [8.1, 12.6, 305], crp: 18 },
  ];
  for (const day of days) {
    const [wbc, hb, plt] = day.cbc;
    r.panel(`rg-dr-cbc-${compact(day.date)}`, {
      code: cbc,
      effective: day.date,
      encounter: stay,
      results: [
        ["wbc", wbc],
        ["hemoglobin", hb],
        ["platelets", plt],
      ],
    });
    r.lab("crp", day.date, day.crp, stay);
    if (day.chem) {
      const [na, k, glucose, bun, creatinine] = day.chem;
      r.panel(`rg-dr-bmp-${compact(day.date)}`, {
        code: chemistry,
        effective: day.date,
        encounter: stay,
        results: [
          ["sodium", na],
          ["potassium", k],
          ["glucose", glucose],
          ["bun", bun],
          ["creatinine", creatinine],
        ],
      });
    }
  }
  r.lab("egfr2021", instant("2024-01-08", "13:10"), 58, stay);
  r.lab("hba1c", instant("2024-01-09", "06:10"), 7.6, stay);

  // Vitals: admission, day 3, discharge morning.
  const vitals: [string, number, number, number, number, [number, number]][] = [
    // time, temperature, heart rate, respiratory rate, SpO2, blood pressure
    [instant("2024-01-08", "12:30"), 38.6, 108, 24, 91, [128, 76]],
    [instant("2024-01-10", "08:00"), 37.4, 88, 18, 95, [124, 74]],
    [instant("2024-01-12", "08:00"), 36.8, 76, 16, 97, [126, 78]],
  ];
  for (const [time, temperature, hr, rr, spo2, [sys, dia]] of vitals) {
    r.vital("temperature", time, temperature, stay);
    r.vital("heartRate", time, hr, stay);
    r.vital("respRate", time, rr, stay);
    r.vital("spo2", time, spo2, stay);
    r.bloodPressure(time, sys, dia, stay);
  }

  r.medicationRequest("rg-med-ceftriaxone-20240108", {
    medication: MED.ceftriaxone,
    status: "completed",
    authoredOn: instant("2024-01-08", "14:45"),
    encounter: stay,
    category: "inpatient",
    reason: COND.pneumonia,
    dosage: {
      text: "1 g IV every 24 hours (penicillin allergy: hives only, cephalosporin given with monitoring)",
      timing: {
        repeat: {
          frequency: 1,
          period: 1,
          periodUnit: "d",
          boundsPeriod: { start: "2024-01-08", end: "2024-01-11" },
        },
      },
      route: IV,
      doseAndRate: [{ doseQuantity: quantity(1, "g") }],
    },
  });
  r.medicationRequest("rg-med-clarithromycin-20240112", {
    medication: MED.clarithromycin,
    status: "completed",
    authoredOn: instant("2024-01-12", "10:20"),
    encounter: stay,
    category: "discharge",
    reason: COND.pneumonia,
    dosage: r.oralDose(
      "500 mg by mouth twice daily for 5 more days to complete a 7-day course (started in hospital 2024-01-10)",
      500,
      "mg",
      2,
      { boundsPeriod: { start: "2024-01-12", end: "2024-01-16" } },
    ),
    dispense: {
      quantity: {
        value: 10,
        unit: "tablet",
        system: "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
        code: "TAB",
      },
      numberOfRepeatsAllowed: 0,
      expectedSupplyDuration: { value: 5, unit: "days", system: UCUM, code: "d" },
    },
  });

  r.document("rg-doc-discharge-20240112", {
    type: concept(LOINC, "18842-5", "Discharge summary"),
    date: instant("2024-01-12", "12:10"),
    title: "Discharge summary — community-acquired pneumonia",
    author: "Dr. Priya Raman, Internal Medicine, Riverside General",
    encounter: stay,
    text: `
DISCHARGE SUMMARY — Riverside General, Internal Medicine
Patient: Maria Elena Alvarez, DOB 1961-03-14, MRN ${DEMO_MRNS["Riverside General"]}
Admitted 2024-01-08 via the emergency department; discharged home 2024-01-12.

Diagnosis: community-acquired pneumonia, right lower lobe (CURB-65 1).
Presentation: 3 days of fever, productive cough and dyspnoea. T 38.6 C, HR 108, RR 24, SpO2 91% on air.
Chest X-ray: right lower lobe consolidation. WBC 14.8, CRP 142 mg/L, glucose 212 mg/dL, creatinine 1.08 mg/dL.

Course: oxygen 2 L/min for 36 hours; ceftriaxone 1 g IV daily (documented penicillin allergy: hives; tolerated
without reaction) and clarithromycin 500 mg twice daily from 2024-01-10. Afebrile from day 3; WBC 8.1 and CRP 18
on the day of discharge; creatinine back to 0.97. Glucose 150-220 on sliding-scale insulin; HbA1c 7.6%.

Discharge medications:
  - clarithromycin 500 mg by mouth twice daily until 2024-01-16 (7-day course in total)
  - home medications as reported by the patient: metformin 500 mg twice daily, lisinopril 10 mg daily

Follow-up: primary care (Lakeside Clinic) within 1 week; repeat chest X-ray in 6-8 weeks.
`,
  });

  r.patient(discharge);
  return r.resources;
}

// ── Lakeside Clinic ─────────────────────────────────────────────────────────────────────────

function lakesideClinic(): FhirResource[] {
  const provider = "Lakeside Clinic";
  const r = providerRecord("lc", provider);
  const heightCm = 162;

  // Chronic-care visits about every 6 months: HbA1c, blood pressure, weight and BMI each time.
  // [date, HbA1c %, systolic, diastolic, weight kg, reason]
  const visits: [string, number, number, number, number, string][] = [
    ["2020-02-11", 7.8, 142, 88, 84.2, "New patient: diabetes, hypertension, lipids"],
    ["2020-08-18", 7.5, 138, 86, 83.5, "Diabetes and blood pressure follow-up"],
    ["2021-02-16", 7.2, 134, 84, 82.9, "Annual review"],
    ["2021-08-24", 7.0, 132, 82, 82.0, "Diabetes follow-up"],
    ["2022-02-15", 6.9, 136, 84, 81.6, "Annual review"],
    ["2022-08-23", 7.1, 130, 80, 82.3, "Diabetes follow-up"],
    ["2023-02-14", 7.3, 134, 82, 83.0, "Annual review"],
    ["2023-08-22", 7.6, 138, 86, 83.8, "Diabetes follow-up: metformin increased"],
    ["2024-02-20", 7.2, 128, 78, 81.2, "Annual review; after pneumonia admission"],
    ["2024-08-20", 6.9, 126, 78, 80.5, "Diabetes follow-up"],
    ["2025-02-18", 6.8, 130, 80, 80.1, "Annual review"],
    ["2025-08-19", 7.0, 128, 76, 79.8, "Diabetes follow-up"],
  ];
  const visitType = concept(SNOMED, "185349003", "Encounter for check up", "Chronic disease follow-up");
  const encounterOf = new Map<string, string>();
  for (const [date, hba1c, systolic, diastolic, weight, reason] of visits) {
    const start = r.at(date, 9);
    const id = r.encounter(`lc-enc-${compact(date)}`, {
      classCode: "AMB",
      type: visitType,
      start,
      end: later(start, 40),
      reason: textOnly(reason),
      serviceProvider: provider,
    });
    encounterOf.set(date, id);
    r.lab("hba1c", instant(date, "08:15"), hba1c, id);
    r.bloodPressure(start, systolic, diastolic, id);
    r.vital("weight", start, weight, id);
    r.vital("bmi", start, Math.round((weight / (heightCm / 100) ** 2) * 10) / 10, id);
    r.vital("heartRate", start, r.rng.int(64, 82), id);
    if (date === "2020-02-11") r.vital("height", start, heightCm, id);
  }

  // An unscheduled visit for palpitations, which led to the cardiology referral.
  const palpitationsStart = instant("2024-06-11", "14:40");
  const palpitations = r.encounter("lc-enc-20240611", {
    classCode: "AMB",
    type: concept(SNOMED, "185345009", "Encounter for symptom", "Same-day visit"),
    start: palpitationsStart,
    end: later(palpitationsStart, 30),
    reason: COND.palpitations,
    serviceProvider: provider,
  });
  r.bloodPressure(palpitationsStart, 132, 80, palpitations);
  r.vital("heartRate", palpitationsStart, 74, palpitations);

  // Yearly (February) lipid panel, creatinine and eGFR. LDL calculated (Friedewald).
  const yearly: {
    date: string;
    lipids: [number, number, number, number];
    creatinine: number;
    egfr: number;
  }[] = [
    // total cholesterol, LDL, HDL, triglycerides
    { date: "2020-02-11", lipids: [192, 112, 46, 170], creatinine: 0.82, egfr: 79 },
    { date: "2021-02-16", lipids: [178, 98, 48, 160], creatinine: 0.85, egfr: 75 },
    { date: "2022-02-15", lipids: [174, 94, 49, 155], creatinine: 0.88, egfr: 75 },
    { date: "2023-02-14", lipids: [186, 104, 47, 175], creatinine: 0.9, egfr: 73 },
    { date: "2024-02-20", lipids: [170, 91, 50, 145], creatinine: 0.93, egfr: 69 },
    { date: "2025-02-18", lipids: [167, 88, 51, 140], creatinine: 0.95, egfr: 67 },
  ];
  for (const y of yearly) {
    const effective = instant(y.date, "08:15");
    const enc = encounterOf.get(y.date);
    const [total, ldl, hdl, tg] = y.lipids;
    r.panel(`lc-dr-lipids-${compact(y.date)}`, {
      code: concept(LOINC, "24331-1", "Lipid 1996 panel - Serum or Plasma", "Lipid panel"),
      effective,
      ...(enc ? { encounter: enc } : {}),
      results: [
        ["cholesterol", total],
        ["ldl", ldl],
        ["hdl", hdl],
        ["triglycerides", tg],
      ],
    });
    r.lab("creatinine", effective, y.creatinine, enc);
    // Labs reported CKD-EPI 2009 until 2021, CKD-EPI 2021 (race-free) from 2022.
    r.lab(y.date < "2022" ? "egfr2009" : "egfr2021", effective, y.egfr, enc);
  }

  // Problem list, recorded at the first visit.
  const first = encounterOf.get("2020-02-11");
  const problems: [string, Concept, string][] = [
    ["diabetes", COND.diabetes, "2016-05-10"],
    ["hypertension", COND.hypertension, "2014-09-01"],
    ["hyperlipidaemia", COND.hyperlipidaemia, "2018-03-20"],
    ["obesity", COND.obesity, "2016-05-10"],
  ];
  for (const [key, code, onset] of problems) {
    r.condition(`lc-cond-${key}`, {
      code,
      category: "problem-list-item",
      onset,
      recorded: instant("2020-02-11", "09:40"),
      ...(first ? { encounter: first } : {}),
    });
  }
  // The one sensitive item: confidentiality R (mental health).
  const moodVisit = encounterOf.get("2022-08-23");
  r.condition("lc-cond-depression", {
    code: COND.depression,
    category: "problem-list-item",
    onset: "2022-06",
    recorded: instant("2022-08-23", "09:50"),
    ...(moodVisit ? { encounter: moodVisit } : {}),
    sensitive: true,
    note: "PHQ-9 score 12 (moderate). Referred for counselling; no medication for now.",
  });

  // Medications.
  r.medicationRequest("lc-med-metformin-20200211", {
    medication: MED.metformin,
    status: "stopped",
    authoredOn: instant("2020-02-11", "09:45"),
    ...(first ? { encounter: first } : {}),
    category: "community",
    reason: COND.diabetes,
    dosage: r.oralDose("500 mg by mouth twice daily with meals", 500, "mg", 2),
    note: "Replaced 2023-08-22 by 1000 mg twice daily.",
  });
  const titration = encounterOf.get("2023-08-22");
  r.medicationRequest("lc-med-metformin-20230822", {
    medication: MED.metformin,
    status: "active",
    authoredOn: instant("2023-08-22", "09:45"),
    ...(titration ? { encounter: titration } : {}),
    category: "community",
    reason: COND.diabetes,
    dosage: r.oralDose("1000 mg (two 500 mg tablets) by mouth twice daily with meals", 1000, "mg", 2),
    dispense: { numberOfRepeatsAllowed: 3, quantity: { value: 360, unit: "tablet" } },
  });
  r.medicationRequest("lc-med-simvastatin-20200211", {
    medication: MED.simvastatin,
    status: "active",
    authoredOn: instant("2020-02-11", "09:46"),
    ...(first ? { encounter: first } : {}),
    category: "community",
    reason: COND.hyperlipidaemia,
    dosage: r.oralDose("40 mg by mouth once daily in the evening", 40, "mg", 1, { when: ["HS"] }),
    dispense: { numberOfRepeatsAllowed: 3, quantity: { value: 90, unit: "tablet" } },
  });
  r.medicationRequest("lc-med-lisinopril-20200211", {
    medication: MED.lisinopril,
    status: "active",
    authoredOn: instant("2020-02-11", "09:47"),
    ...(first ? { encounter: first } : {}),
    category: "community",
    reason: COND.hypertension,
    dosage: r.oralDose("10 mg by mouth once daily", 10, "mg", 1),
    dispense: { numberOfRepeatsAllowed: 3, quantity: { value: 90, unit: "tablet" } },
  });
  r.add({
    resourceType: "MedicationStatement",
    id: "lc-medstmt-aspirin",
    meta: r.meta(instant("2024-08-20", "09:50")),
    status: "stopped",
    medicationCodeableConcept: MED.aspirin,
    subject: r.subject,
    effectivePeriod: { start: "2019-01", end: "2024-07-16" },
    dateAsserted: instant("2024-08-20", "09:50"),
    informationSource: r.subject,
    reasonCode: [textOnly("Primary prevention (self-started)")],
    statusReason: [textOnly("Stopped on cardiology advice when apixaban was started")],
    dosage: [{ text: "81 mg by mouth once daily", route: ORAL }],
  });

  r.allergyPenicillin(instant("2020-02-11", "09:20"), "Hives after amoxicillin in childhood.");

  // Immunizations.
  const flu = concept(CVX, "140", "Influenza, seasonal, injectable, preservative free", "Influenza vaccine");
  const fluDates = ["2020-10-06", "2021-10-12", "2022-10-04", "2023-10-10", "2024-10-08", "2025-10-07"];
  fluDates.forEach((date, i) => {
    r.immunization(
      `lc-imm-flu-${date.slice(0, 4)}`,
      flu,
      date,
      `FL${date.slice(2, 4)}0${i + 3}A`,
      i % 2 ? "RA" : "LA",
    );
  });
  const covid = concept(
    CVX,
    "208",
    "SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose",
    "COVID-19 vaccine, mRNA",
  );
  r.immunization("lc-imm-covid-1", covid, "2021-04-08", "EW0182", "LA");
  r.immunization("lc-imm-covid-2", covid, "2021-04-29", "EW0191", "LA");
  r.immunization("lc-imm-covid-3", covid, "2021-11-09", "FK5127", "RA");
  r.immunization(
    "lc-imm-ppsv23",
    concept(CVX, "33", "pneumococcal polysaccharide vaccine, 23 valent", "Pneumococcal vaccine (PPSV23)"),
    "2020-08-18",
    "R012334",
    "RA",
  );
  r.immunization("lc-imm-tdap", concept(CVX, "115", "Tdap"), "2021-02-16", "AC52B047CA", "LA");

  // Notes.
  r.document("lc-doc-referral-20240611", {
    type: concept(LOINC, "57133-1", "Referral note"),
    date: instant("2024-06-11", "15:30"),
    title: "Referral to cardiology — palpitations",
    author: "Dr. Helen Brooks, Family Medicine, Lakeside Clinic",
    encounter: palpitations,
    text: `
Referral to Hilltop Medical, Cardiology
Re: Maria Elena Alvarez, DOB 1961-03-14

Dear colleague, I would be grateful if you could see Mrs Alvarez, 63, with 6 weeks of intermittent palpitations,
episodes lasting minutes to hours, once with light-headedness. ECG in clinic today: sinus rhythm 74/min.
Background: type 2 diabetes (HbA1c 7.2%), hypertension, hyperlipidaemia, obesity (BMI 30.9).
Admitted to Riverside General in January 2024 with community-acquired pneumonia.
Medications: metformin 1000 mg twice daily, simvastatin 40 mg at night, lisinopril 10 mg daily,
aspirin 81 mg daily (self-started). Allergy: penicillin (hives).
`,
  });
  r.document("lc-doc-progress-20250218", {
    type: concept(LOINC, "11506-3", "Progress note"),
    date: instant("2025-02-18", "10:05"),
    title: "Annual review",
    author: "Dr. Helen Brooks, Family Medicine, Lakeside Clinic",
    encounter: encounterOf.get("2025-02-18") as string,
    text: `
Annual review. Feels well. Paroxysmal AF under Hilltop Medical cardiology: on apixaban 5 mg twice daily and
metoprolol succinate 25 mg daily; aspirin stopped. BP 130/80. Weight 80.1 kg (BMI 30.5), down 4 kg since 2020.
HbA1c 6.8%. LDL 88 mg/dL on simvastatin 40 mg. eGFR 67. Influenza vaccine 2024 given.
Plan: continue current medications; retinal screening due; foot check normal; review in 6 months.
`,
  });

  r.patient(instant("2025-10-07", "10:00"));
  return r.resources;
}

// ── Hilltop Medical (cardiology) ────────────────────────────────────────────────────────────

function hilltopMedical(): FhirResource[] {
  const provider = "Hilltop Medical";
  const r = providerRecord("hm", provider);
  const consultation = concept(SNOMED, "11429006", "Consultation", "Cardiology consultation");

  const visit = (date: string, reason: Concept, bp: [number, number], hr: number, weight: number) => {
    const start = r.at(date, 10);
    const id = r.encounter(`hm-enc-${compact(date)}`, {
      classCode: "AMB",
      type: consultation,
      start,
      end: later(start, 45),
      reason,
      serviceProvider: provider,
    });
    r.bloodPressure(start, bp[0], bp[1], id);
    r.vital("heartRate", start, hr, id);
    r.vital("weight", start, weight, id);
    return id;
  };

  const first = visit("2024-07-02", COND.palpitations, [134, 82], 78, 80.9);
  r.procedure("hm-proc-ecg-20240702", {
    code: concept(SNOMED, "29303009", "Electrocardiographic procedure", "12-lead ECG"),
    performed: instant("2024-07-02", "10:20"),
    encounter: first,
    outcome: "Sinus rhythm 76/min, PR 168 ms, QRS 92 ms, QTc 428 ms; no ischaemic changes.",
  });
  r.procedure("hm-proc-holter-20240703", {
    code: textOnly("48-hour ambulatory ECG (Holter) monitoring"),
    performed: instant("2024-07-03", "09:00"),
    encounter: first,
    reason: COND.palpitations,
    outcome:
      "Two episodes of atrial fibrillation (longest 3 h 10 min, ventricular rate 110-140/min), self-terminating.",
  });
  r.panel("hm-dr-workup-20240702", {
    code: textOnly("Atrial fibrillation work-up"),
    effective: instant("2024-07-02", "10:40"),
    encounter: first,
    results: [
      ["tsh", 2.1],
      ["ntprobnp", 210],
      ["creatinine", 0.91],
    ],
    conclusion:
      "Normal thyroid function. Mildly raised NT-proBNP. Creatinine normal (apixaban dose not reduced).",
  });
  r.condition("hm-cond-paf", {
    code: COND.paf,
    category: "encounter-diagnosis",
    onset: "2024-07-04",
    recorded: instant("2024-07-16", "11:00"),
    encounter: first,
    note: "CHA2DS2-VASc 3 (female, hypertension, diabetes). HAS-BLED 1.",
  });

  // Echocardiogram.
  const echoDate = instant("2024-07-16", "09:30");
  const echoVisit = visit("2024-07-16", textOnly("Echocardiogram and results"), [130, 80], 72, 80.6);
  r.procedure("hm-proc-echo-20240716", {
    code: concept(SNOMED, "40701008", "Echocardiography", "Transthoracic echocardiogram"),
    performed: echoDate,
    encounter: echoVisit,
    reason: COND.paf,
  });
  const lvef = r.add({
    resourceType: "Observation",
    id: "hm-obs-lvef-20240716",
    meta: r.meta(echoDate),
    status: "final",
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "imaging", display: "Imaging" }] }],
    code: concept(LOINC, "10230-1", "Left ventricular Ejection fraction"),
    subject: r.subject,
    encounter: reference("Encounter", echoVisit),
    effectiveDateTime: echoDate,
    valueQuantity: quantity(58, "%"),
    referenceRange: [{ low: quantity(52, "%"), high: quantity(72, "%"), text: "52-72 % (female)" }],
  });
  r.add({
    resourceType: "DiagnosticReport",
    id: "hm-dr-echo-20240716",
    meta: r.meta(instant("2024-07-16", "10:15")),
    status: "final",
    category: [{ coding: [{ system: V2_0074, code: "CUS", display: "Cardiac Ultrasound" }] }],
    code: { coding: [{ system: LOINC, code: "34552-0" }], text: "Transthoracic echocardiogram" },
    subject: r.subject,
    encounter: reference("Encounter", echoVisit),
    effectiveDateTime: echoDate,
    issued: instant("2024-07-16", "10:15"),
    resultsInterpreter: [{ display: "Dr. Jonas Lindqvist, Cardiology, Hilltop Medical" }],
    result: [reference("Observation", lvef)],
    conclusion:
      "Normal left ventricular size and systolic function, LVEF 58%. Mild left atrial enlargement " +
      "(LA volume index 38 mL/m2). No significant valvular disease. Normal right ventricle.",
  });

  r.medicationRequest("hm-med-apixaban-20240716", {
    medication: MED.apixaban,
    status: "active",
    authoredOn: instant("2024-07-16", "10:30"),
    encounter: echoVisit,
    category: "outpatient",
    reason: COND.paf,
    dosage: r.oralDose("5 mg by mouth twice daily", 5, "mg", 2),
    dispense: { numberOfRepeatsAllowed: 5, quantity: { value: 60, unit: "tablet" } },
    note: "Stroke prevention, CHA2DS2-VASc 3. Stop aspirin.",
  });
  r.medicationRequest("hm-med-metoprolol-20240716", {
    medication: MED.metoprolol,
    status: "active",
    authoredOn: instant("2024-07-16", "10:31"),
    encounter: echoVisit,
    category: "outpatient",
    reason: COND.paf,
    dosage: r.oralDose("25 mg by mouth once daily", 25, "mg", 1),
    dispense: { numberOfRepeatsAllowed: 5, quantity: { value: 30, unit: "tablet" } },
  });

  r.document("hm-doc-consult-20240716", {
    type: concept(LOINC, "11488-4", "Consult note"),
    date: instant("2024-07-16", "11:00"),
    title: "Cardiology consultation — paroxysmal atrial fibrillation",
    author: "Dr. Jonas Lindqvist, Cardiology, Hilltop Medical",
    encounter: echoVisit,
    text: `
Cardiology consultation — Hilltop Medical
Re: Maria Elena Alvarez, DOB 1961-03-14, referred by Dr. Helen Brooks (Lakeside Clinic) for palpitations.

Findings: 12-lead ECG sinus rhythm. 48-h Holter: two self-terminating episodes of atrial fibrillation, longest
3 h 10 min, rates 110-140/min. Echo: LVEF 58%, mild LA enlargement, no valve disease. TSH 2.1, NT-proBNP 210.

Assessment: paroxysmal atrial fibrillation. CHA2DS2-VASc 3 (female sex, hypertension, diabetes); HAS-BLED 1.
Plan: start apixaban 5 mg twice daily (no dose-reduction criteria); stop aspirin. Metoprolol succinate 25 mg
daily for rate control and symptoms. Continue lisinopril, metformin and simvastatin 40 mg per primary care.
Review in 6 months, sooner if symptoms; consider rhythm control if episodes become frequent.
`,
  });

  visit("2025-01-14", textOnly("Atrial fibrillation follow-up"), [126, 78], 64, 80.2);
  const last = visit("2025-12-09", textOnly("Atrial fibrillation annual review"), [128, 76], 62, 79.5);
  r.procedure("hm-proc-ecg-20251209", {
    code: concept(SNOMED, "29303009", "Electrocardiographic procedure", "12-lead ECG"),
    performed: instant("2025-12-09", "10:25"),
    encounter: last,
    outcome: "Sinus rhythm 62/min; QTc 431 ms.",
  });
  r.document("hm-doc-followup-20251209", {
    type: concept(LOINC, "11506-3", "Progress note"),
    date: instant("2025-12-09", "11:10"),
    title: "Cardiology follow-up — atrial fibrillation",
    author: "Dr. Jonas Lindqvist, Cardiology, Hilltop Medical",
    encounter: last,
    text: `
Annual review of paroxysmal atrial fibrillation. One brief episode of palpitations in September, none since.
No bleeding on apixaban. ECG: sinus rhythm 62/min. BP 128/76.
Plan: continue apixaban 5 mg twice daily and metoprolol succinate 25 mg daily. Review in 12 months.
`,
  });

  r.patient(instant("2025-12-09", "11:10"));
  return r.resources;
}

// ── API ─────────────────────────────────────────────────────────────────────────────────────

const collection = (resources: FhirResource[]): FhirBundle => ({
  resourceType: "Bundle",
  type: "collection",
  entry: resources.map((resource) => ({ resource })),
});

/**
 * The demo patient's record at each demo provider, as FHIR R4 `collection` Bundles (what the
 * provider would POST to `/v1/patients/{mrn}/records`), in the order Riverside General, Lakeside
 * Clinic, Hilltop Medical. The same on every call and machine.
 */
export function demoPatientBundles(): DemoPatientBundle[] {
  const builders: Record<DemoProvider, () => FhirResource[]> = {
    "Riverside General": riversideGeneral,
    "Lakeside Clinic": lakesideClinic,
    "Hilltop Medical": hilltopMedical,
  };
  return DEMO_PROVIDERS.map((provider) => ({
    provider,
    mrn: DEMO_MRNS[provider],
    bundle: collection(builders[provider]()),
  }));
}

/** The resources of one provider's demo bundle (e.g. for `RecordsStore.ingestResources`). */
export function demoPatientResources(provider: DemoProvider): FhirResource[] {
  const found = demoPatientBundles().find((b) => b.provider === provider);
  return (found?.bundle.entry ?? []).map((e) => e.resource as FhirResource);
}
