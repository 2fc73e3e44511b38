/**
 * `legacy check`: does a hospital's schema hold the five contract views (contract.ts) with
 * their columns, readable by this role, with rows that satisfy the contract? Every problem names
 * the schema, view, column or row key — never a value.
 */
import type { Knex } from "knex";
import { LEGACY_CONTRACT, legacyColumnsOf } from "./contract.ts";
import { legacyRepository } from "./legacy.repository.knex.ts";

export type LegacyCheckResult = {
  ok: boolean;
  /** One line per view: what was found. */
  views: { view: string; ok: boolean; rowsChecked: number }[];
  /** One line per problem. */
  problems: string[];
};

/** Checks the contract views of `schema`; reads up to `sampleRows` rows per view (key order). */
export async function checkLegacySchema(
  db: Knex,
  { schema = "legacy", sampleRows = 1000 }: { schema?: string; sampleRows?: number } = {},
): Promise<LegacyCheckResult> {
  const repo = legacyRepository(db, { schema });
  const problems: string[] = [];
  const views: LegacyCheckResult["views"] = [];
  const usable = await repo.schemaUsable();
  if (!usable.exists || !usable.usage) {
    problems.push(
      usable.exists
        ? `schema ${schema}: this role has no USAGE on it (grant usage on schema ${schema} to <role>)`
        : `schema ${schema}: does not exist`,
    );
    return { ok: false, views, problems };
  }
  const relations = await repo.relations();
  for (const kind of Object.keys(LEGACY_CONTRACT) as (keyof typeof LEGACY_CONTRACT)[]) {
    const { view } = LEGACY_CONTRACT[kind];
    const before = problems.length;
    const relation = relations.get(view);
    let rowsChecked = 0;
    if (!relation) {
      problems.push(`${schema}.${view}: missing (create view ${schema}.${view} as select …)`);
    } else if (!relation.canSelect) {
      problems.push(
        `${schema}.${view}: this role may not select it (grant select on ${schema}.${view} to <role>)`,
      );
    } else {
      const missing = legacyColumnsOf(kind).filter((c) => !relation.columns.has(c));
      if (missing.length > 0) {
        problems.push(
          `${schema}.${view}: missing column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
        );
      } else {
        const sample = await repo.firstBadRow(kind, sampleRows);
        rowsChecked = sample.read;
        if (sample.problem) problems.push(sample.problem);
        if (kind === "patient") {
          const duplicates = await repo.duplicateMrns();
          if (duplicates > 0)
            problems.push(
              `${schema}.${view}: ${duplicates} MRN(s) appear more than once (mrn must be unique)`,
            );
        }
      }
    }
    views.push({ view, ok: problems.length === before, rowsChecked });
  }
  return { ok: problems.length === 0, views, problems };
}
