import type { Knex } from "knex";
import type { z } from "zod";
import { ProblemError } from "../errors.ts";
import { assertSchemaName, LEGACY_CONTRACT, LEGACY_VIEWS, type LegacyPatientRecord } from "./contract.ts";

type Kind = keyof typeof LEGACY_CONTRACT;

/** A relation of the legacy schema as the catalog describes it. */
export type LegacyRelation = { kind: "view" | "table" | "other"; columns: Set<string>; canSelect: boolean };

/** Reads the contract views (contract.ts) of a hospital's database. Read-only. */
export class LegacyRepository {
  readonly #db: Knex;
  readonly #schema: string;
  constructor(db: Knex, { schema = "legacy" }: { schema?: string } = {}) {
    this.#db = db;
    this.#schema = assertSchemaName(schema);
  }

  get schema(): string {
    return this.#schema;
  }

  // Date columns as text: the pg driver would turn a DATE into a local-midnight Date.
  #rows(kind: Kind) {
    const { view, dates } = LEGACY_CONTRACT[kind];
    return this.#db
      .withSchema(this.#schema)
      .from(view)
      .select("*", ...dates.map((c) => this.#db.raw("??::text as ??", [c, c])));
  }

  /** The problem with a row, naming the view, the row's key and the columns; never the values. */
  #problem(kind: Kind, row: unknown): string | undefined {
    const { view, key, row: schema } = LEGACY_CONTRACT[kind];
    const parsed = schema.safeParse(row);
    if (parsed.success) return undefined;
    const k = String((row as Record<string, unknown>)[key] ?? "?").slice(0, 64);
    const fields = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    return `legacy ${this.#schema}.${view} row ${k}: ${fields}`;
  }

  #parse<K extends Kind>(kind: K, rows: unknown[]): z.output<(typeof LEGACY_CONTRACT)[K]["row"]>[] {
    return rows.map((row) => {
      const problem = this.#problem(kind, row);
      if (problem) throw new ProblemError("unprocessable", problem);
      return LEGACY_CONTRACT[kind].row.parse(row) as z.output<(typeof LEGACY_CONTRACT)[K]["row"]>;
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
    const patients = this.#parse("patient", await this.#rows("patient").where({ mrn }));
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
      this.#rows("encounter").where(key).orderBy("encounter_key"),
      this.#rows("document").where(key).orderBy("document_key"),
      this.#rows("labResult").where(key).orderBy("result_key"),
      this.#rows("medication").where(key).orderBy("medication_key"),
    ]);
    return {
      patient,
      encounters: this.#parse("encounter", encounters),
      documents: this.#parse("document", documents),
      labResults: this.#parse("labResult", labResults),
      medications: this.#parse("medication", medications),
    };
  }

  // ── for `legacy check` ───────────────────────────────────────────────────────────────────────

  /** Whether the schema exists (and this role may use it). */
  async schemaUsable(): Promise<{ exists: boolean; usage: boolean }> {
    const { rows } = await this.#db.raw(
      "select has_schema_privilege(n.oid, 'USAGE') as usage from pg_namespace n where n.nspname = ?",
      [this.#schema],
    );
    const row = rows[0] as { usage: boolean } | undefined;
    return { exists: row !== undefined, usage: row?.usage === true };
  }

  /** The schema's relations by name: kind, columns and whether this role may select them. */
  async relations(): Promise<Map<string, LegacyRelation>> {
    const { rows } = await this.#db.raw(
      `select c.relname as name, c.relkind as kind, has_table_privilege(c.oid, 'SELECT') as can_select,
              coalesce(array_agg(a.attname::text order by a.attnum) filter (where a.attnum > 0), '{}') as columns
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = ? and c.relkind in ('r', 'v', 'm', 'f', 'p')
        group by c.oid, c.relname, c.relkind`,
      [this.#schema],
    );
    const out = new Map<string, LegacyRelation>();
    for (const r of rows as { name: string; kind: string; can_select: boolean; columns: string[] }[]) {
      const kind =
        r.kind === "v" || r.kind === "m" ? "view" : r.kind === "r" || r.kind === "p" ? "table" : "other";
      out.set(r.name, { kind, columns: new Set(r.columns), canSelect: r.can_select });
    }
    return out;
  }

  /**
   * Reads up to `limit` rows of a view (in key order) through the contract and returns the first
   * row's problem (view, key, columns; never a value), and how many rows were read.
   */
  async firstBadRow(kind: Kind, limit: number): Promise<{ read: number; problem?: string }> {
    const rows = await this.#rows(kind).orderBy(LEGACY_CONTRACT[kind].key).limit(limit);
    for (const row of rows) {
      const problem = this.#problem(kind, row);
      if (problem) return { read: rows.length, problem };
    }
    return { read: rows.length };
  }

  /** How many MRNs appear more than once in the patient view. */
  async duplicateMrns(): Promise<number> {
    const { rows } = await this.#db.raw(
      "select count(*)::int as n from (select mrn from ??.?? group by mrn having count(*) > 1) d",
      [this.#schema, LEGACY_VIEWS.patient],
    );
    return Number((rows[0] as { n: number }).n);
  }
}
