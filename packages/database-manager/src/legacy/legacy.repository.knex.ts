import type { Knex } from "knex";
import type { z } from "zod";
import { ProblemError } from "../errors.ts";
import { assertSchemaName, LEGACY_CONTRACT, LEGACY_VIEWS, type LegacyPatientRecord } from "./contract.ts";

type Kind = keyof typeof LEGACY_CONTRACT;

/** A relation of the legacy schema as the catalog describes it. */
export type LegacyRelation = { kind: "view" | "table" | "other"; columns: Set<string>; canSelect: boolean };

/** Reads the contract views (contract.ts) of a hospital's database. Read-only. */
export function legacyRepository(db: Knex, { schema: name = "legacy" }: { schema?: string } = {}) {
  const schema = assertSchemaName(name);

  // Date columns as text: the pg driver would turn a DATE into a local-midnight Date.
  const rowsOf = (kind: Kind) => {
    const { view, dates } = LEGACY_CONTRACT[kind];
    return db
      .withSchema(schema)
      .from(view)
      .select("*", ...dates.map((c) => db.raw("??::text as ??", [c, c])));
  };

  /** The problem with a row, naming the view, the row's key and the columns; never the values. */
  const problemOf = (kind: Kind, row: unknown): string | undefined => {
    const { view, key, row: rowSchema } = LEGACY_CONTRACT[kind];
    const parsed = rowSchema.safeParse(row);
    if (parsed.success) return undefined;
    const k = String((row as Record<string, unknown>)[key] ?? "?").slice(0, 64);
    const fields = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    return `legacy ${schema}.${view} row ${k}: ${fields}`;
  };

  const parse = <K extends Kind>(kind: K, rows: unknown[]): z.output<(typeof LEGACY_CONTRACT)[K]["row"]>[] =>
    rows.map((row) => {
      const problem = problemOf(kind, row);
      if (problem) throw new ProblemError("unprocessable", problem);
      return LEGACY_CONTRACT[kind].row.parse(row) as z.output<(typeof LEGACY_CONTRACT)[K]["row"]>;
    });

  return {
    schema,

    /** MRNs present in the patient view. */
    async listMrns(): Promise<string[]> {
      return (await db.withSchema(schema).from(LEGACY_VIEWS.patient).orderBy("mrn").pluck("mrn")).map(String);
    },

    /** Everything the views hold about the patient with this MRN, or undefined. */
    async patientRecord(mrn: string): Promise<LegacyPatientRecord | undefined> {
      const patients = parse("patient", await rowsOf("patient").where({ mrn }));
      if (patients.length > 1) {
        throw new ProblemError("conflict", `legacy ${schema}.${LEGACY_VIEWS.patient}: the MRN is not unique`);
      }
      const patient = patients[0];
      if (!patient) return undefined;
      const key = { patient_key: patient.patient_key };
      const [encounters, documents, labResults, medications] = await Promise.all([
        rowsOf("encounter").where(key).orderBy("encounter_key"),
        rowsOf("document").where(key).orderBy("document_key"),
        rowsOf("labResult").where(key).orderBy("result_key"),
        rowsOf("medication").where(key).orderBy("medication_key"),
      ]);
      return {
        patient,
        encounters: parse("encounter", encounters),
        documents: parse("document", documents),
        labResults: parse("labResult", labResults),
        medications: parse("medication", medications),
      };
    },

    // ── for `legacy check` ───────────────────────────────────────────────────────────────────────

    /** Whether the schema exists (and this role may use it). */
    async schemaUsable(): Promise<{ exists: boolean; usage: boolean }> {
      const { rows } = await db.raw(
        "select has_schema_privilege(n.oid, 'USAGE') as usage from pg_namespace n where n.nspname = ?",
        [schema],
      );
      const row = rows[0] as { usage: boolean } | undefined;
      return { exists: row !== undefined, usage: row?.usage === true };
    },

    /** The schema's relations by name: kind, columns and whether this role may select them. */
    async relations(): Promise<Map<string, LegacyRelation>> {
      const { rows } = await db.raw(
        `select c.relname as name, c.relkind as kind, has_table_privilege(c.oid, 'SELECT') as can_select,
                coalesce(array_agg(a.attname::text order by a.attnum) filter (where a.attnum > 0), '{}') as columns
           from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          where n.nspname = ? and c.relkind in ('r', 'v', 'm', 'f', 'p')
          group by c.oid, c.relname, c.relkind`,
        [schema],
      );
      const out = new Map<string, LegacyRelation>();
      for (const r of rows as { name: string; kind: string; can_select: boolean; columns: string[] }[]) {
        const kind =
          r.kind === "v" || r.kind === "m" ? "view" : r.kind === "r" || r.kind === "p" ? "table" : "other";
        out.set(r.name, { kind, columns: new Set(r.columns), canSelect: r.can_select });
      }
      return out;
    },

    /**
     * Reads up to `limit` rows of a view (in key order) through the contract and returns the first
     * row's problem (view, key, columns; never a value), and how many rows were read.
     */
    async firstBadRow(kind: Kind, limit: number): Promise<{ read: number; problem?: string }> {
      const rows = await rowsOf(kind).orderBy(LEGACY_CONTRACT[kind].key).limit(limit);
      for (const row of rows) {
        const problem = problemOf(kind, row);
        if (problem) return { read: rows.length, problem };
      }
      return { read: rows.length };
    },

    /** How many MRNs appear more than once in the patient view. */
    async duplicateMrns(): Promise<number> {
      const { rows } = await db.raw(
        "select count(*)::int as n from (select mrn from ??.?? group by mrn having count(*) > 1) d",
        [schema, LEGACY_VIEWS.patient],
      );
      return Number((rows[0] as { n: number }).n);
    },
  };
}

export type LegacyRepository = ReturnType<typeof legacyRepository>;
