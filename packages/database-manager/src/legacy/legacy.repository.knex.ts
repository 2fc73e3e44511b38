import type { Knex } from "knex";
import type { z } from "zod";
import { ProblemError } from "../errors.ts";
import {
  LEGACY_VIEWS,
  type LegacyPatientRecord,
  legacyDocumentRow,
  legacyEncounterRow,
  legacyLabResultRow,
  legacyMedicationRow,
  legacyPatientRow,
} from "./contract.ts";
import { assertSchemaName } from "./sample-schema.ts";

/** Reads the contract views (contract.ts) of a hospital's database. Read-only. */
export class LegacyRepository {
  readonly #db: Knex;
  readonly #schema: string;
  constructor(db: Knex, { schema = "legacy" }: { schema?: string } = {}) {
    this.#db = db;
    this.#schema = assertSchemaName(schema);
  }

  // Date columns as text: the pg driver would turn a DATE into a local-midnight Date.
  #rows(view: string, dateColumns: readonly string[]) {
    return this.#db
      .withSchema(this.#schema)
      .from(view)
      .select("*", ...dateColumns.map((c) => this.#db.raw("??::text as ??", [c, c])));
  }

  #parse<S extends z.ZodType>(schema: S, view: string, keyColumn: string, rows: unknown[]): z.output<S>[] {
    return rows.map((row) => {
      const parsed = schema.safeParse(row);
      if (parsed.success) return parsed.data;
      const key = String((row as Record<string, unknown>)[keyColumn] ?? "?").slice(0, 64);
      const fields = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
      // Names the view, the row's key and the columns; never the values.
      throw new ProblemError("unprocessable", `legacy ${this.#schema}.${view} row ${key}: ${fields}`);
    });
  }

  /** MRNs present in the patient view. */
  async listMrns(): Promise<string[]> {
    return (
      await this.#db.withSchema(this.#schema).from(LEGACY_VIEWS.patient).orderBy("mrn").pluck("mrn")
    ).map(String);
  }

  /** Everything the views hold about the patient with this MRN, or undefined. */
  async patientRecord(mrn: string): Promise<LegacyPatientRecord | undefined> {
    const patients = this.#parse(
      legacyPatientRow,
      LEGACY_VIEWS.patient,
      "patient_key",
      await this.#rows(LEGACY_VIEWS.patient, ["birth_date"]).where({ mrn }),
    );
    if (patients.length > 1) {
      throw new ProblemError(
        "conflict",
        `legacy ${this.#schema}.${LEGACY_VIEWS.patient}: the MRN is not unique`,
      );
    }
    const patient = patients[0];
    if (!patient) return undefined;
    const key = { patient_key: patient.patient_key };
    const [encounters, documents, labResults, medications] = await Promise.all([
      this.#rows(LEGACY_VIEWS.encounter, []).where(key).orderBy("encounter_key"),
      this.#rows(LEGACY_VIEWS.document, []).where(key).orderBy("document_key"),
      this.#rows(LEGACY_VIEWS.labResult, []).where(key).orderBy("result_key"),
      this.#rows(LEGACY_VIEWS.medication, ["start_date", "end_date"]).where(key).orderBy("medication_key"),
    ]);
    return {
      patient,
      encounters: this.#parse(legacyEncounterRow, LEGACY_VIEWS.encounter, "encounter_key", encounters),
      documents: this.#parse(legacyDocumentRow, LEGACY_VIEWS.document, "document_key", documents),
      labResults: this.#parse(legacyLabResultRow, LEGACY_VIEWS.labResult, "result_key", labResults),
      medications: this.#parse(legacyMedicationRow, LEGACY_VIEWS.medication, "medication_key", medications),
    };
  }
}
