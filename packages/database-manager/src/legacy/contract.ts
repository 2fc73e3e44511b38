/**
 * The legacy adapter's contract: five read-only views (or tables) with these names and columns,
 * in one PostgreSQL schema of the hospital's database. A hospital maps its own tables onto them
 * with `create view` (src/legacy/README.md); the adapter reads nothing else. Keys are the
 * hospital's primary keys as text: FHIR ids are derived from them, so they must be stable.
 */
import { BaseError } from "@medrec/protocol";
import { z } from "zod";

/** A schema name as the adapter accepts it (it is put into SQL as an identifier, never bound). */
export const LEGACY_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Thrown for a schema name that is not a lower-case SQL identifier. */
export class LegacySchemaNameError extends BaseError {
  override name = "LegacySchemaNameError";
}

/** Validates a schema name before it is put into SQL (identifiers cannot be bound parameters). */
export function assertSchemaName(schema: string): string {
  if (!LEGACY_SCHEMA_NAME.test(schema))
    throw new LegacySchemaNameError("schema must be a lower-case SQL identifier");
  return schema;
}

/** View names, in the configured schema. */
export const LEGACY_VIEWS = {
  patient: "medrec_patient",
  encounter: "medrec_encounter",
  document: "medrec_document",
  labResult: "medrec_lab_result",
  medication: "medrec_medication",
} as const;

const key = z.string().min(1).max(200);
const text = z.string().min(1).nullable();
const timestamp = z.coerce.date().refine((d) => !Number.isNaN(d.getTime()), "invalid timestamp");
const date = z.union([z.date(), z.string()]).transform((v, ctx) => {
  const s = v instanceof Date ? v.toISOString().slice(0, 10) : v;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) {
    ctx.addIssue({ code: "custom", message: "invalid date" });
    return z.NEVER;
  }
  return s;
});
const numeric = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isFinite(n)) {
    ctx.addIssue({ code: "custom", message: "not a number" });
    return z.NEVER;
  }
  return n;
});

/** `medrec_patient`: one row per patient. */
export const legacyPatientRow = z.object({
  patient_key: key,
  mrn: z.string().min(1),
  family_name: text,
  given_names: text,
  birth_date: date.nullable(),
  gender: z.enum(["male", "female", "other", "unknown"]).nullable(),
  phone: text,
  address_line: text,
  city: text,
  postal_code: text,
  country: text,
  updated_at: timestamp,
});

/** `medrec_encounter`: class_code is v3 ActCode (IMP, AMB, EMER, …). */
export const legacyEncounterRow = z.object({
  encounter_key: key,
  patient_key: key,
  class_code: z.string().min(1),
  department: text,
  start_at: timestamp,
  end_at: timestamp.nullable(),
  reason_text: text,
  updated_at: timestamp,
});

/** `medrec_document`: a clinical note; loinc_code is its LOINC document type. */
export const legacyDocumentRow = z.object({
  document_key: key,
  patient_key: key,
  encounter_key: key.nullable(),
  loinc_code: z.string().min(1),
  title: z.string().min(1),
  content_type: z.string().min(1),
  content: z.string(),
  author: text,
  created_at: timestamp,
  updated_at: timestamp,
});

/** `medrec_lab_result`: one result; a numeric value with a UCUM unit, or a text value. */
export const legacyLabResultRow = z.object({
  result_key: key,
  patient_key: key,
  encounter_key: key.nullable(),
  loinc_code: z.string().min(1),
  test_name: z.string().min(1),
  value_numeric: numeric.nullable(),
  value_text: text,
  unit: text,
  ref_low: numeric.nullable(),
  ref_high: numeric.nullable(),
  ref_text: text,
  interpretation: z.enum(["H", "L", "N", "A", "HH", "LL"]).nullable(),
  status: z.enum(["registered", "preliminary", "final", "amended", "corrected", "cancelled"]),
  collected_at: timestamp,
  updated_at: timestamp,
});

/** `medrec_medication`: kind `order` → MedicationRequest, `reported` → MedicationStatement. */
export const legacyMedicationRow = z.object({
  medication_key: key,
  patient_key: key,
  encounter_key: key.nullable(),
  kind: z.enum(["order", "reported"]),
  rxnorm_code: text,
  drug_name: z.string().min(1),
  dose_value: numeric.nullable(),
  dose_unit: text,
  route: text,
  instructions: text,
  start_date: date.nullable(),
  end_date: date.nullable(),
  status: z.enum(["active", "completed", "stopped", "on-hold", "entered-in-error"]),
  updated_at: timestamp,
});

export type LegacyPatientRow = z.output<typeof legacyPatientRow>;
export type LegacyEncounterRow = z.output<typeof legacyEncounterRow>;
export type LegacyDocumentRow = z.output<typeof legacyDocumentRow>;
export type LegacyLabResultRow = z.output<typeof legacyLabResultRow>;
export type LegacyMedicationRow = z.output<typeof legacyMedicationRow>;

/** Everything the contract views hold about one patient. */
export type LegacyPatientRecord = {
  patient: LegacyPatientRow;
  encounters: LegacyEncounterRow[];
  documents: LegacyDocumentRow[];
  labResults: LegacyLabResultRow[];
  medications: LegacyMedicationRow[];
};

/**
 * Per view: its name, key column, the zod schema of a row (whose keys are the required columns)
 * and the DATE columns, read as text (the pg driver would turn a DATE into a local-midnight Date).
 */
export const LEGACY_CONTRACT = {
  patient: { view: LEGACY_VIEWS.patient, key: "patient_key", row: legacyPatientRow, dates: ["birth_date"] },
  encounter: { view: LEGACY_VIEWS.encounter, key: "encounter_key", row: legacyEncounterRow, dates: [] },
  document: { view: LEGACY_VIEWS.document, key: "document_key", row: legacyDocumentRow, dates: [] },
  labResult: { view: LEGACY_VIEWS.labResult, key: "result_key", row: legacyLabResultRow, dates: [] },
  medication: {
    view: LEGACY_VIEWS.medication,
    key: "medication_key",
    row: legacyMedicationRow,
    dates: ["start_date", "end_date"],
  },
} as const satisfies Record<
  keyof typeof LEGACY_VIEWS,
  { view: string; key: string; row: z.ZodObject<z.ZodRawShape>; dates: readonly string[] }
>;

/** The columns each view must have, in contract order. */
export const legacyColumnsOf = (kind: keyof typeof LEGACY_CONTRACT): string[] =>
  Object.keys(LEGACY_CONTRACT[kind].row.shape);
