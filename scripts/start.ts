/**
 * `./medrec start` — run MedRec on this machine: three providers, each with a geth v1.13.15 Clique
 * sealer (IPC only), a non-signing RPC node, a governance daemon and a gatekeeper on its own
 * embedded PostgreSQL; the contracts; a demo patient with records at all three and a family member
 * with a grant at two. Writes the network manifest (docs/protocol.md) and runs until SIGINT/SIGTERM,
 * then stops everything and removes the run's data. Each gatekeeper and the dapp server run in
 * processes of their own, restarted when they crash; killed any other way (SIGKILL, a crash of
 * this process), a guardian process reaps what is left (adr/0010).
 *
 * Environment: MEDREC_MANIFEST (default `.medrec/network.json` at the repository root),
 * MEDREC_PERIOD_SECONDS (block period, default 1), MEDREC_GATEKEEPER_PORT (first gatekeeper port,
 * default 7101, the others follow; 0 = free ports), MEDREC_DAPP_PORT (the patient dapp, default 7100;
 * 0 = a free port). Test only: MEDREC_TEST_CRASH_AFTER_READY=1 throws an uncaught exception once
 * ready (scripts/supervise.int.test.ts shows that a crash leaves nothing behind).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { manifestPath, writeManifest } from "@medrec/protocol/node";
import { pino } from "pino";
import { treeRss } from "./process-tree.ts";
import { type System, startSystem } from "./system.ts";

function parseInteger(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return value;
}

const began = performance.now();
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
let stopSystem: (() => Promise<void>) | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  stopping = true;
  await stopSystem?.().catch(() => undefined);
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    console.log(`\n${signal}: stopping the gatekeepers, daemons and nodes`);
    void shutdown(0);
  });
}

try {
  const periodSeconds = parseInteger("MEDREC_PERIOD_SECONDS", process.env.MEDREC_PERIOD_SECONDS, 1, 1, 60);
  const gatekeeperPort = parseInteger(
    "MEDREC_GATEKEEPER_PORT",
    process.env.MEDREC_GATEKEEPER_PORT,
    7101,
    0,
    65533,
  );
  const dappPort = parseInteger("MEDREC_DAPP_PORT", process.env.MEDREC_DAPP_PORT, 7100, 0, 65535);
  const out = manifestPath({ root: repoRoot, env: process.env });
  const system: System = await startSystem({
    periodSeconds,
    gatekeeperPort,
    // Besides the dapp served here: Vite's dev server (`pnpm --filter @medrec/user-client dev`).
    corsOrigins: ["http://127.0.0.1:5173", "http://localhost:5173"],
    dappPort,
    log: (line) => console.log(line),
    logger: pino({ level: "warn" }),
    onStop: (stop) => {
      stopSystem = stop;
    },
  });
  // A signal during start-up is already stopping everything: let it finish and exit.
  if (stopping) await new Promise(() => undefined);
  const readyMs = performance.now() - began;
  const rss = await treeRss();
  const written = await writeManifest(out, {
    ...system.manifest,
    startup: { readyMs: Math.round(readyMs), rssBytes: rss.bytes, processes: rss.processes },
  });
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const lines = [
    `MedRec is running: ${written.providers.length} providers, chain id ${written.chainId}, ${periodSeconds} s blocks`,
    `  AgentRegistry  ${written.contracts.AgentRegistry}`,
    ...system.providers.map(
      (x) =>
        `  ${x.name.padEnd(18)} gatekeeper ${x.gatekeeper.url}  RPC ${x.rpcUrl}  demo patient: ${x.resources} records`,
    ),
    `  patient dapp   ${system.dappUrl} — open it in a browser (restore with demo.patientMnemonic to see the demo patient)`,
    `  demo patient   ${written.demo?.patientAddress} (a family member can read labs and medications at two providers)`,
    "                 mnemonics and staff keys are in the manifest: local demo secrets only",
    `  manifest       ${out}`,
    `Ready in ${(readyMs / 1000).toFixed(1)} s; ${rss.processes} processes use ${mib(rss.bytes)} resident memory.`,
    "Press Ctrl-C to stop.",
  ];
  console.log(lines.join("\n"));
  if (process.env.MEDREC_TEST_CRASH_AFTER_READY === "1")
    setTimeout(() => {
      throw new Error("MEDREC_TEST_CRASH_AFTER_READY: a crash after ready, for a test");
    });
} catch (error) {
  // Failures caused by a stop that a signal began are not failures: that stop exits with 0.
  if (stopping) await new Promise(() => undefined);
  console.error(`medrec start failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
