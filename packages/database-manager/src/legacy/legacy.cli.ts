/**
 * `medrec-gatekeeper legacy …` (src/cli.ts): check a hospital's contract views, or sync every
 * linked patient once and publish the changed roots. Output names views, columns, row keys and
 * local patient ids — never MRNs or values.
 */
import type { Knex } from "knex";
import { pino } from "pino";
import { ChainConfigError } from "../chain/config.ts";
import type { CliIo } from "../cli.ts";
import type { Config } from "../config.ts";
import type { EmbeddedPostgresHandle } from "../db/embedded.ts";
import { createDb } from "../db/knex.ts";
import { ProblemError } from "../errors.ts";
import { LEGACY_SCHEMA_NAME } from "./contract.ts";
import { checkLegacySchema } from "./legacy.check.ts";
import { errorFields, runLegacySync } from "./legacy.sync.ts";

export const LEGACY_USAGE = `usage: medrec-gatekeeper legacy check [--schema <name>] [--rows <n>]
       medrec-gatekeeper legacy sync --once [--schema <name>]

check       Validates the five contract views (src/legacy/README.md) in the schema: each exists,
            this role may select it, it has every column, and its first --rows rows (default
            1000, key order) satisfy the contract; the MRNs are unique. Names the view, column
            and row key of each problem, never a value.
sync --once Syncs every linked patient whose rows changed (audited as staff.legacy.sync by the
            operator) and waits until each new record root is published on chain. Starts the
            gatekeeper's parts (database, chain, audit) without serving HTTP on its port. Prefer
            LEGACY_SYNC_INTERVAL_SECONDS in the running gatekeeper; use this for a first import
            or with the periodic sync off.

Environment: LEGACY_DATABASE_URL (default DATABASE_URL), LEGACY_SCHEMA (default legacy; --schema
overrides), LEGACY_MRN_SYSTEM; sync also needs the gatekeeper's own environment (DATABASE_URL or
DATA_DIR, the chain settings and DELEGATE_MNEMONIC, RELAYER_PRIVATE_KEY).
Exit status: 0 valid / synced, 1 the views break the contract / a patient failed, 2 usage or
the command could not run.`;

export type LegacyCliArgs =
  | { command: "help" }
  | { command: "check"; schema?: string; rows: number }
  | { command: "sync"; schema?: string };

/** Parses `legacy …` arguments; a string is the usage problem. */
export function parseLegacyArgs(argv: readonly string[]): LegacyCliArgs | string {
  if (argv.includes("--help") || argv.includes("-h") || argv.length === 0) return { command: "help" };
  const [command, ...rest] = argv;
  if (command !== "check" && command !== "sync") return "unknown command";
  let schema: string | undefined;
  let rows = 1000;
  let once = false;
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = (rest[i] as string).split(/=(.*)/s, 2) as [string, string | undefined];
    if (flag === "--once" && command === "sync" && inline === undefined) {
      once = true;
      continue;
    }
    const value = inline ?? rest[++i];
    if (flag === "--schema") {
      if (value === undefined || !LEGACY_SCHEMA_NAME.test(value))
        return "--schema takes a lower-case SQL identifier";
      schema = value;
    } else if (flag === "--rows" && command === "check") {
      if (value === undefined || !/^\d{1,9}$/.test(value) || Number(value) < 1)
        return "--rows takes a positive integer";
      rows = Number(value);
    } else return `unknown option ${flag}`;
  }
  if (command === "sync") {
    if (!once) return "sync needs --once (the periodic sync is LEGACY_SYNC_INTERVAL_SECONDS)";
    return schema === undefined ? { command } : { command, schema };
  }
  return schema === undefined ? { command, rows } : { command, rows, schema };
}

/** What failed: a problem's detail (never values), else the error's first line. */
const reasonOf = (error: unknown) =>
  error instanceof Error && !(error instanceof ProblemError)
    ? (error.message.split("\n")[0] ?? error.name)
    : Object.values(errorFields(error)).join(" ");

/** Runs a parsed `legacy` command; resolves to the exit status. */
export async function runLegacyCommand(
  args: Exclude<LegacyCliArgs, { command: "help" }>,
  config: Config,
  io: CliIo,
): Promise<number> {
  const schema = args.schema ?? config.LEGACY_SCHEMA;
  return args.command === "check" ? check(schema, args.rows, config, io) : syncOnce(schema, config, io);
}

async function check(schema: string, rows: number, config: Config, io: CliIo): Promise<number> {
  let embedded: EmbeddedPostgresHandle | undefined;
  let db: Knex | undefined;
  try {
    let url = config.LEGACY_DATABASE_URL ?? config.DATABASE_URL;
    if (!url) {
      // Loaded only when needed: it installs exit hooks.
      const { startEmbeddedPostgres } = await import("../db/embedded.ts");
      embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR });
      url = embedded.connectionString;
    }
    db = createDb(url, { poolMax: 1 });
    const result = await checkLegacySchema(db, { schema, sampleRows: rows });
    for (const v of result.views)
      io.out(
        `${v.ok ? "ok     " : "PROBLEM"} ${schema}.${v.view}${v.ok ? ` (${v.rowsChecked} rows checked)` : ""}`,
      );
    for (const p of result.problems) io.out(`  - ${p}`);
    io.out(
      result.ok
        ? `legacy schema ${schema}: the five contract views are valid`
        : `legacy schema ${schema}: ${result.problems.length} problem(s); see src/legacy/README.md`,
    );
    return result.ok ? 0 : 1;
  } catch (error) {
    io.err(`medrec-gatekeeper: the legacy views could not be checked: ${reasonOf(error)}`);
    return 2;
  } finally {
    await db?.destroy();
    await embedded?.stop();
  }
}

async function syncOnce(schema: string, config: Config, io: CliIo): Promise<number> {
  // Loaded only here: the whole gatekeeper (FHIR definitions, chain).
  const { startGatekeeper } = await import("../gatekeeper.ts");
  const logger = pino(
    { level: config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL },
    pino.destination(2),
  );
  let gk: Awaited<ReturnType<typeof startGatekeeper>> | undefined;
  let legacyDb: Knex | undefined;
  try {
    // Its own loopback port, and no periodic sync: this process syncs once and stops.
    gk = await startGatekeeper({
      config: { ...config, HOST: "127.0.0.1", PORT: 0, LEGACY_SYNC_INTERVAL_SECONDS: 0 },
      logger,
    });
    const { patients, chain } = gk;
    if (!patients || !chain) throw new ChainConfigError("the gatekeeper started without its chain");
    legacyDb = config.LEGACY_DATABASE_URL ? createDb(config.LEGACY_DATABASE_URL, { poolMax: 2 }) : gk.db;
    const summary = await runLegacySync({
      legacyDb,
      db: gk.db,
      patients,
      records: gk.records,
      schema,
      mrnSystem: config.LEGACY_MRN_SYSTEM,
      logger,
    });
    let unpublished = 0;
    for (const id of summary.changedPatientIds) {
      try {
        const published = await chain.writer.publishRoot(id);
        io.out(`patient ${id}: root ${published?.root ?? "(already on chain)"} published`);
      } catch (error) {
        unpublished++;
        io.out(`patient ${id}: root NOT published (${reasonOf(error)}); the gatekeeper retries at its start`);
      }
    }
    io.out(
      `legacy sync of ${schema}: ${summary.patients} patient(s) in the views, ${summary.synced} synced ` +
        `(${summary.changedPatientIds.length} changed), ${summary.unchanged} unchanged, ` +
        `${summary.skipped} not linked, ${summary.failed} failed`,
    );
    return summary.failed > 0 || unpublished > 0 ? 1 : 0;
  } catch (error) {
    io.err(`medrec-gatekeeper: the legacy sync could not run: ${reasonOf(error)}`);
    return 2;
  } finally {
    if (legacyDb && legacyDb !== gk?.db) await legacyDb.destroy();
    await gk?.stop();
  }
}
