/**
 * Pure mapping of contract rows (contract.ts) to FHIR R4 resources. Ids are derived from the
 * hospital's primary keys, so a re-sync of unchanged rows yields identical resources (and the
 * same record root). `meta.lastUpdated` is the row's `updated_at`.
 */
import { createHash } from "node:crypto";
import { OBSERVATION_CATEGORY_SYSTEM } from "@medrec/protocol";
import { ACT_CODE, INTERPRETATION, LOINC, MRN_SYSTEM, RXNORM, UCUM } from "../records/terminology.ts";
import type { FhirResource } from "../seams.ts";
import type {
  LegacyDocumentRow,
  LegacyEncounterRow,
  LegacyLabResultRow,
  LegacyMedicationRow,
  LegacyPatientRecord,
  LegacyPatientRow,
} from "./contract.ts";

export type LegacyMappingOptions = {
  /** Identifier system of the hospital's MRNs. Default `urn:medrec:mrn`. */
  mrnSystem?: string;
  /** Prefix of every derived id (keeps sources apart). Default `legacy`. */
  idPrefix?: string;
};

const SAFE_KEY = /^[A-Za-z0-9.-]{1,40}$/;

/** The FHIR id of a legacy row: `<prefix>-<kind>-<key>`, or a hash of the key when it does not fit an id. */
export function legacyId(kind: string, key: string, prefix = "legacy"): string {
  const k = SAFE_KEY.test(key) ? key : createHash("sha256").update(key).digest("hex").slice(0, 32);
  return `${prefix}-${kind}-${k}`;
}

const instant = (d: Date) => d.toISOString().replace(".000Z", "Z");
const meta = (updatedAt: Date) => ({ lastUpdated: instant(updatedAt) });
const compact = <T extends Record<string, unknown>>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;

// UCUM codes are case-sensitive; exports often are not. The common lab and dose units:
const UCUM_UNITS: Readonly<Record<string, string>> = {
  "%": "%",
  "mg/dl": "mg/dL",
  "mmol/l": "mmol/L",
  "g/dl": "g/dL",
  "umol/l": "umol/L",
  "meq/l": "meq/L",
  "u/l": "U/L",
  "ml/min/1.73m2": "mL/min/{1.73_m2}",
  mg: "mg",
  g: "g",
  mcg: "ug",
  ug: "ug",
  ml: "mL",
  "[iu]": "[IU]",
  iu: "[IU]",
  kg: "kg",
  "mm[hg]": "mm[Hg]",
  "/min": "/min",
};

/** A Quantity with the UCUM code when the unit is a known one, else the unit text only. */
export function quantity(value: number, unit: string | null): Record<string, unknown> {
  if (!unit) return { value };
  const code = UCUM_UNITS[unit.toLowerCase()];
  return code ? { value, unit, system: UCUM, code } : { value, unit };
}

export function mapPatient(row: LegacyPatientRow, o: LegacyMappingOptions = {}): FhirResource {
  const given = row.given_names?.split(/\s+/).filter(Boolean);
  return compact({
    resourceType: "Patient",
    id: legacyId("patient", row.patient_key, o.idPrefix),
    meta: meta(row.updated_at),
    identifier: [{ use: "usual", system: o.mrnSystem ?? MRN_SYSTEM, value: row.mrn }],
    name:
      row.family_name || given?.length
        ? [compact({ use: "official", family: row.family_name, given: given?.length ? given : undefined })]
        : undefined,
    gender: row.gender,
    birthDate: row.birth_date,
    telecom: row.phone ? [{ system: "phone", value: row.phone }] : undefined,
    address:
      row.address_line || row.city || row.postal_code || row.country
        ? [
            compact({
              line: row.address_line ? [row.address_line] : undefined,
              city: row.city,
              postalCode: row.postal_code,
              country: row.country,
            }),
          ]
        : undefined,
  });
}

const reference = (type: string, kind: string, key: string | null, prefix?: string) =>
  key === null ? undefined : { reference: `${type}/${legacyId(kind, key, prefix)}` };

const CLASS_DISPLAY: Readonly<Record<string, string>> = {
  IMP: "inpatient encounter",
  AMB: "ambulatory",
  EMER: "emergency",
};

export function mapEncounter(row: LegacyEncounterRow, o: LegacyMappingOptions = {}): FhirResource {
  return compact({
    resourceType: "Encounter",
    id: legacyId("encounter", row.encounter_key, o.idPrefix),
    meta: meta(row.updated_at),
    status: row.end_at ? "finished" : "in-progress",
    class: compact({ system: ACT_CODE, code: row.class_code, display: CLASS_DISPLAY[row.class_code] }),
    subject: reference("Patient", "patient", row.patient_key, o.idPrefix),
    period: compact({ start: instant(row.start_at), end: row.end_at ? instant(row.end_at) : undefined }),
    reasonCode: row.reason_text ? [{ text: row.reason_text }] : undefined,
    serviceType: row.department ? { text: row.department } : undefined,
  });
}

export function mapDocument(row: LegacyDocumentRow, o: LegacyMappingOptions = {}): FhirResource {
  const encounter = reference("Encounter", "encounter", row.encounter_key, o.idPrefix);
  return compact({
    resourceType: "DocumentReference",
    id: legacyId("document", row.document_key, o.idPrefix),
    meta: meta(row.updated_at),
    status: "current",
    type: { coding: [{ system: LOINC, code: row.loinc_code }], text: row.title },
    subject: reference("Patient", "patient", row.patient_key, o.idPrefix),
    date: instant(row.created_at),
    author: row.author ? [{ display: row.author }] : undefined,
    description: row.title,
    content: [
      {
        attachment: {
          contentType: row.content_type,
          data: Buffer.from(row.content, "utf8").toString("base64"),
          title: row.title,
          creation: instant(row.created_at),
        },
      },
    ],
    context: encounter ? { encounter: [encounter] } : undefined,
  });
}

const INTERPRETATION_DISPLAY: Readonly<Record<string, string>> = {
  H: "High",
  L: "Low",
  N: "Normal",
  A: "Abnormal",
  HH: "Critical high",
  LL: "Critical low",
};

export function mapLabResult(row: LegacyLabResultRow, o: LegacyMappingOptions = {}): FhirResource {
  const range = compact({
    low: row.ref_low === null ? undefined : quantity(row.ref_low, row.unit),
    high: row.ref_high === null ? undefined : quantity(row.ref_high, row.unit),
    text: row.ref_text,
  });
  return compact({
    resourceType: "Observation",
    id: legacyId("lab", row.result_key, o.idPrefix),
    meta: meta(row.updated_at),
    status: row.status,
    category: [
      { coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory", display: "Laboratory" }] },
    ],
    code: { coding: [{ system: LOINC, code: row.loinc_code, display: row.test_name }], text: row.test_name },
    subject: reference("Patient", "patient", row.patient_key, o.idPrefix),
    encounter: reference("Encounter", "encounter", row.encounter_key, o.idPrefix),
    effectiveDateTime: instant(row.collected_at),
    valueQuantity: row.value_numeric === null ? undefined : quantity(row.value_numeric, row.unit),
    valueString: row.value_numeric === null ? (row.value_text ?? undefined) : undefined,
    interpretation: row.interpretation
      ? [
          {
            coding: [
              {
                system: INTERPRETATION,
                code: row.interpretation,
                display: INTERPRETATION_DISPLAY[row.interpretation],
              },
            ],
          },
        ]
      : undefined,
    referenceRange: Object.keys(range).length ? [range] : undefined,
  });
}

export function mapMedication(row: LegacyMedicationRow, o: LegacyMappingOptions = {}): FhirResource {
  const medicationCodeableConcept = compact({
    coding: row.rxnorm_code ? [{ system: RXNORM, code: row.rxnorm_code, display: row.drug_name }] : undefined,
    text: row.drug_name,
  });
  const dosage = compact({
    text: row.instructions,
    route: row.route ? { text: row.route } : undefined,
    doseAndRate:
      row.dose_value === null ? undefined : [{ doseQuantity: quantity(row.dose_value, row.dose_unit) }],
  });
  const dosages = Object.keys(dosage).length ? [dosage] : undefined;
  const common = {
    meta: meta(row.updated_at),
    medicationCodeableConcept,
    subject: reference("Patient", "patient", row.patient_key, o.idPrefix),
  };
  if (row.kind === "order") {
    return compact({
      resourceType: "MedicationRequest",
      id: legacyId("medreq", row.medication_key, o.idPrefix),
      ...common,
      status: row.status,
      intent: "order",
      encounter: reference("Encounter", "encounter", row.encounter_key, o.idPrefix),
      authoredOn: row.start_date ?? undefined,
      dosageInstruction: dosages,
    });
  }
  return compact({
    resourceType: "MedicationStatement",
    id: legacyId("medstmt", row.medication_key, o.idPrefix),
    ...common,
    status: row.status,
    context: reference("Encounter", "encounter", row.encounter_key, o.idPrefix),
    effectivePeriod:
      row.start_date || row.end_date ? compact({ start: row.start_date, end: row.end_date }) : undefined,
    dosage: dosages,
  });
}

/** Every resource of one legacy patient, in a stable order. */
export function mapLegacyPatient(record: LegacyPatientRecord, o: LegacyMappingOptions = {}): FhirResource[] {
  return [
    mapPatient(record.patient, o),
    ...record.encounters.map((r) => mapEncounter(r, o)),
    ...record.documents.map((r) => mapDocument(r, o)),
    ...record.labResults.map((r) => mapLabResult(r, o)),
    ...record.medications.map((r) => mapMedication(r, o)),
  ];
}
