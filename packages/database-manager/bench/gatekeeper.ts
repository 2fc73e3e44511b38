#!/usr/bin/env node
/**
 * `bench:gatekeeper` — the whole gatekeeper (startGatekeeper: chain view and writer, SIWE, records,
 * access, audit) on a real geth v1.13.15 Clique network and a real PostgreSQL server with
 * production durability, all on 127.0.0.1, measured against the limit and a peer in one run:
 *
 *  1. reads — the patient's full ~21-resource bundle from our gatekeeper (every read signed in,
 *     permission-checked, audited); the same bytes from the same PostgreSQL by a bare node:http
 *     handler (gatekeeper/bare.ts); the same resources from HAPI FHIR's RestfulServer
 *     (gatekeeper/peer.ts) — interleaved windows, each repeated (gatekeeper/reads.ts); a CPU profile
 *     of one more audited window (gatekeeper/profile.ts); the audit-before-answer check
 *     (gatekeeper/durability.ts);
 *  2. growth — reads of 21, 200 and 2,000 resources; ingest of 10,000 into 10,000 (gatekeeper/growth.ts);
 *  3. revocation → first refused read while the patient's reads keep running (gatekeeper/revocation.ts).
 *
 * Writes reports/gatekeeper.json and reports/gatekeeper-*.png (gatekeeper/report.ts, charts.ts).
 * Everything it starts is stopped and its temp dirs removed at the end, on errors and on Ctrl-C.
 * Options: gatekeeper/options.ts (`--help`).
 */
import { mkdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findGeth, gethVersion } from "@medrec/chain-node";
import { commandWithArgs, startReport } from "@medrec/testkit";
import { generatePatientRecords } from "../src/seed/index.ts";
import { startBareServer } from "./gatekeeper/bare.ts";
import { writeCharts } from "./gatekeeper/charts.ts";
import { auditCommittedBeforeAnswer } from "./gatekeeper/durability.ts";
import { GROWTH_SIZES, INGEST, ingestGrowth, readsBySize } from "./gatekeeper/growth.ts";
import { log, startLifecycle } from "./gatekeeper/lifecycle.ts";
import { machine, othersWarning, withLoad } from "./gatekeeper/machine.ts";
import { parseOptions } from "./gatekeeper/options.ts";
import { startPeer } from "./gatekeeper/peer.ts";
import { profiled, selfTimeBy } from "./gatekeeper/profile.ts";
import { measureInterleaved, readWindow, type Target } from "./gatekeeper/reads.ts";
import { buildReport, printReport } from "./gatekeeper/report.ts";
import { revocationUnderLoad } from "./gatekeeper/revocation.ts";
import { closeGetAgent, startSystem } from "./gatekeeper/setup.ts";
import { ratios, round } from "./gatekeeper/stats.ts";
import type { LoadSummary } from "./load.ts";

const SEED = 20_240_601;
const MRN = "BENCH-0001";
const options = parseOptions();
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** A smoke run writes only where --out says (never over reports/gatekeeper.json). */
const outPath =
  options.out !== undefined
    ? resolve(options.out)
    : options.smoke
      ? undefined
      : join(ROOT, "reports", "gatekeeper.json");
const life = await startLifecycle("bench-gk", options.timeLimitMin);

async function main() {
  const started = Date.now();
  // Commit, command, load before and after: testkit's provenance, as every reports/*.json has it.
  const provenance = startReport(commandWithArgs("./medrec run bench:gatekeeper"), ROOT);
  const warnings: string[] = [];
  const note = (w: string | undefined) => {
    if (!w) return;
    warnings.push(w);
    console.warn(`WARNING ${w}`);
  };
  note(othersWarning("at start"));
  const geth = await findGeth().catch(() => undefined);

  log("starting geth (Clique, 1 sealer, 1 s blocks), contracts, durable PostgreSQL, the gatekeeper…");
  const sys = await startSystem(life);
  log(`gatekeeper on ${sys.gk.url}; PostgreSQL ${sys.postgres} ${JSON.stringify(sys.durability)}`);

  // The patient: ~21 synthetic resources, registered by staff, root on chain, signed in, verified.
  const base = generatePatientRecords({ seed: SEED, index: 0 }).resources;
  const main = await sys.registerPatient(MRN, base);
  const token = await sys.signIn(main.patient.account);
  const url = sys.recordsUrl(main.relationship);
  const sample = await sys.verifiedSample(url, token, main.relationship);
  if (sample.entries !== main.stored)
    throw new Error(`the bundle has ${sample.entries} entries, not ${main.stored}`);
  log(`patient: ${sample.entries} resources, ${sample.bytes} B bundle verified against the on-chain root`);

  // The limit and the peer, serving the same bytes / the same resources.
  const bare = await startBareServer(sys.env.db, sys.env.dbUrl, new Map([[main.relationship, sample.body]]));
  life.onCleanup(() => bare.stop());
  const ours: Target = { name: "ours", url, token, sample };
  const bareTarget: Target = { name: "bare", url: bare.url(main.relationship), token: "", sample };
  const bundle = JSON.parse(sample.body) as { entry: { resource: unknown }[] };
  const peerBundle = {
    resourceType: "Bundle",
    type: "collection",
    entry: bundle.entry.map((e) => ({ resource: e.resource })),
  };
  let peerTarget: Target | undefined;
  const peer = options.peer ? await startPeer(life.work, peerBundle) : { unavailable: "--no-peer was given" };
  if ("unavailable" in peer) note(`peer not run: ${peer.unavailable}`);
  else {
    life.onCleanup(() => peer.stop());
    const { get } = await import("./gatekeeper/setup.ts");
    const r = await get(peer.url);
    const entries = (JSON.parse(r.body) as { entry?: unknown[] }).entry?.length ?? 0;
    if (r.status !== 200 || entries !== sample.entries)
      throw new Error(`the peer answered ${r.status} with ${entries} entries`);
    peerTarget = {
      name: "peer",
      url: peer.url,
      token: "",
      sample: { bytes: Buffer.byteLength(r.body), entries },
    };
    log(
      `peer: HAPI FHIR ${peer.version} on ${new URL(peer.url).host}, ${entries} resources, ${peerTarget.sample.bytes} B`,
    );
  }

  // Warm-ups (the JVM's JIT needs longer), then the concurrency sweep on ours.
  log("warm-up…");
  await readWindow(ours, 16, 2);
  await readWindow(bareTarget, 16, 2);
  if (peerTarget) await readWindow(peerTarget, 16, options.smoke ? 2 : 15);
  const sweep: LoadSummary[] = [];
  let concurrency = options.concurrency;
  if (concurrency === undefined) {
    for (const c of options.sweep) {
      const s = await readWindow(ours, c, options.sweepDurationS);
      sweep.push(s);
      log(
        `sweep: concurrency ${c}: ${s.readsPerSec} reads/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms`,
      );
    }
    concurrency = sweep.reduce((a, b) =>
      b.readsPerSec > a.readsPerSec && b.errors === 0 ? b : a,
    ).concurrency;
  }
  const c = concurrency;

  // 1. Reads: ours, bare, peer — interleaved, `runs` windows each.
  log(
    `reads: ${options.runs} × ${options.durationS} s each of ours, bare${peerTarget ? ", peer" : ""} at concurrency ${c}…`,
  );
  const reads = await withLoad(async () => ({
    m: await measureInterleaved(
      [ours, bareTarget, ...(peerTarget ? [peerTarget] : [])],
      { runs: options.runs, concurrency: c, durationS: options.durationS },
      (t, run, s) =>
        log(
          `  ${t} #${run + 1}: ${s.readsPerSec} reads/s, p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms, errors ${s.errors}`,
        ),
    ),
  }));
  const oursM = reads.m.get("ours");
  const bareM = reads.m.get("bare");
  const peerM = reads.m.get("peer");
  if (!oursM || !bareM) throw new Error("missing read windows");
  if (peerTarget) await (peer as { stop(): Promise<void> }).stop();
  const ratio = ratios(oursM, bareM);
  log(`audited/bare: throughput ${ratio.throughput}, p99 ${ratio.p99}`);

  log("CPU profile of one more audited window…");
  const { profile } = await profiled(() => readWindow(ours, c, options.durationS));
  const cpuProfile = {
    what: `V8 CPU profile (node:inspector) of the gatekeeper's main thread over one ${options.durationS} s audited window at concurrency ${c}; self time by where the code lives`,
    ...selfTimeBy(profile),
  };

  log("audit entries committed before the answer…");
  const durability = await withLoad(async () => ({
    settings: sys.durability,
    check: await auditCommittedBeforeAnswer(sys, main.relationship, token, options.smoke ? 10 : 50),
  }));
  if (durability.check.entryNotCommittedAtAnswer > 0)
    note(
      `${durability.check.entryNotCommittedAtAnswer} reads answered before their audit entry was committed`,
    );

  // 2. Growth.
  log(`growth: reads of ${GROWTH_SIZES.join(", ")} resources…`);
  const growthReads = await withLoad(async () => ({
    r: await readsBySize(
      sys,
      base,
      { size: main.stored, url, token, sample },
      { runs: options.runs, concurrency: c, durationS: options.growthDurationS },
    ),
  }));
  log(`growth: ingest of ${INGEST.added} resources into ${INGEST.existing}, ${options.ingestRuns} runs…`);
  const ingest = await withLoad(async () => ({
    ...(await ingestGrowth(sys, life, base, options.ingestRuns)),
    ...INGEST,
  }));

  // 3. Revocation under load.
  log(`revocation under read load: ${options.cycles} cycles…`);
  const revocation = await withLoad(() =>
    revocationUnderLoad(
      sys,
      life,
      { patient: main.patient.account, relationship: main.relationship, load: { ...ours, concurrency: c } },
      options.cycles,
    ),
  );
  if (life.interrupted()) return;

  note(othersWarning("at the end"));
  if (machine().cores !== 2) warnings.push(`this machine has ${machine().cores} cores, the goals are for 2`);
  const report = buildReport({
    ours: oursM,
    bare: bareM,
    peer:
      "unavailable" in peer || !peerM || !peerTarget
        ? { unavailable: "unavailable" in peer ? peer.unavailable : "no windows" }
        : { measured: peerM, version: peer.version, ...peerTarget.sample },
    ratio,
    bundle: { bytes: sample.bytes, entries: sample.entries },
    runs: options.runs,
    windowS: options.durationS,
    concurrency: c,
    sweep: sweep.map((s) => ({
      concurrency: s.concurrency,
      readsPerSec: s.readsPerSec,
      n: s.latencyMs.n,
      p50: s.latencyMs.p50,
      p99: s.latencyMs.p99,
      errors: s.errors,
    })),
    readsMachine: reads.machine,
    growth: {
      windowS: options.growthDurationS,
      reads: growthReads.r,
      readsMachine: growthReads.machine,
      ingest,
    },
    revocation,
    durability,
    cpuProfile,
    machine: {
      ...provenance.provenance().machine,
      geth: geth ? `v${await gethVersion(geth).catch(() => "unknown")}` : "not found",
      postgres: `${sys.postgres}`,
    },
    warnings,
    smoke: options.smoke,
    durationS: round((Date.now() - started) / 1000, 0),
  });
  printReport(report);
  if (options.smoke)
    console.log("smoke run: below the minimum windows and cycles; figures are not the benchmark's");
  if (outPath) {
    await mkdir(dirname(outPath), { recursive: true });
    const charts = await writeCharts(dirname(outPath), report);
    provenance.write(outPath, { ...report, charts });
    console.log(
      `\nwrote ${relative(process.cwd(), outPath) || outPath} and ${charts.join(", ")} (${report.durationS} s)`,
    );
  } else console.log(`\nsmoke run: no report written (give --out FILE) (${report.durationS} s)`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  if (!life.interrupted()) {
    console.error("bench:gatekeeper failed:", error);
    exitCode = 1;
  }
} finally {
  if (!life.interrupted()) {
    await life.cleanup();
    closeGetAgent();
    process.exit(exitCode);
  }
}
