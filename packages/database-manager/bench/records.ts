#!/usr/bin/env node
/**
 * `bench:records` — a hospital-scale patient history through the whole gatekeeper on a REAL geth
 * network and PostgreSQL server (test/system.support.ts): a Synthea lifetime (scripts/synthea.ts,
 * generated once into ~/.cache/medrec; the population's largest history under 40 MB, ~8,000
 * resources / ~28 MB) uploaded through the staff API as the file's own FHIR Bundle (streamed) and
 * again as NDJSON for a second patient; 15,000 resources of the population's histories in one
 * NDJSON upload for a third; then the lifetime read
 * back by the patient with the protocol's `fetchVerifiedRecords` (every page, every entry
 * verified against the root read from the chain).
 *
 * Measured: intake time and the gatekeeper process's peak RSS (the bench client runs in the same
 * process; it holds the upload's bytes, ~30 MB), time until the root is on chain, first-page
 * latency (`_count` default 500), the whole history read and verified (time, bytes, pages) at
 * `_count=2000` and at the default. Writes `reports/records.json` at the repository root.
 *
 *   node bench/records.ts [--out FILE] [--reads 5]
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { type Hash, RECORDS_PAGE_DEFAULT, RECORDS_PAGE_MAX } from "@medrec/protocol";
import { commandWithArgs, percentile, startReport } from "@medrec/testkit";
import type { Hex } from "viem";
import { SYNTHEA_VERSION } from "../scripts/synthea.ts";
import { startSystem } from "../test/system.support.ts";
import {
  BENCH_POPULATION,
  type Bundle,
  bulkNdjson,
  HISTORY_MAX_BYTES,
  populationPeople,
  toNdjson,
} from "./population.ts";

const GOALS = { intakeS: 30, intakePeakRssMiB: 1024, readAndVerifyS: 5 } as const;

const { values: flags } = parseArgs({
  options: { out: { type: "string" }, reads: { type: "string" }, help: { type: "boolean", default: false } },
});
if (flags.help) {
  console.log("usage: node bench/records.ts [--out FILE] [--reads 5]");
  process.exit(0);
}
const READS = Math.max(1, Number(flags.reads ?? 5));
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const outPath = flags.out !== undefined ? resolve(flags.out) : join(ROOT, "reports", "records.json");

const MiB = 1024 * 1024;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
/** Nearest rank, as every percentile in reports/ (testkit). */
const median = (xs: number[]) => percentile(xs, 50);

/** Samples this process's RSS every 20 ms (and reads the kernel's high-water mark) while `fn` runs. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakMiB: number; beforeMiB: number }> {
  const beforeMiB = process.memoryUsage().rss / MiB;
  let peak = beforeMiB;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss / MiB);
  }, 20);
  try {
    const result = await fn();
    // maxRSS (KiB) is the process's lifetime peak: the intake is the first large thing it does.
    peak = Math.max(peak, process.memoryUsage().rss / MiB, process.resourceUsage().maxRSS / 1024);
    return { result, peakMiB: round(peak), beforeMiB: round(beforeMiB) };
  } finally {
    clearInterval(timer);
  }
}

const provenance = startReport(
  commandWithArgs("./medrec pnpm --filter @medrec/database-manager run bench:records"),
  ROOT,
);
console.log(`bench:records — Synthea ${SYNTHEA_VERSION} lifetime (seed ${BENCH_POPULATION.seed})`);
// The population's people, largest history first; the lifetime is the largest under 40 MB.
const people = await populationPeople();
const lifetime = people.find((p) => p.size <= HISTORY_MAX_BYTES);
if (!lifetime) throw new Error("no Synthea history under 40 MB in the bench population");
const bytes = await readFile(lifetime.file);
const bundle = JSON.parse(bytes.toString("utf8")) as Bundle;
const resources = bundle.entry.length;
console.log(`lifetime: ${resources} resources, ${round(bytes.length / MiB)} MiB`);
const sys = await startSystem("bench_records", { database: "server" });
try {
  const upload = async (mrn: string, body: string | Buffer, contentType: string) => {
    const started = performance.now();
    const r = await sys.call(`/v1/patients/${mrn}/records`, {
      method: "POST",
      operator: true,
      rawBody: body,
      contentType,
    });
    const ms = performance.now() - started;
    if (r.status !== 200) throw new Error(`upload: ${r.status} ${r.text.slice(0, 500)}`);
    return { ms, root: r.json.recordRoot as Hex, stored: r.json.stored as number };
  };

  // Intake: the Bundle file as it is, streamed.
  const patient = await sys.env.patient();
  const relationship = await sys.registerPatient("BENCH-LIFE-1", patient);
  const intake = await peakRss(() => upload("BENCH-LIFE-1", bytes, "application/fhir+json"));
  const publishStarted = performance.now();
  await sys.rootPublished(relationship, intake.result.root, 60_000);
  const publishMs = performance.now() - publishStarted;
  console.log(
    `intake (Bundle, streamed): ${round(intake.result.ms / 1000, 2)} s, peak RSS ${intake.peakMiB} MiB (before ${intake.beforeMiB} MiB); root on chain ${round(publishMs)} ms later`,
  );

  // Intake again as NDJSON, for a second patient.
  const ndjson = toNdjson(bundle);
  const patient2 = await sys.env.patient();
  await sys.registerPatient("BENCH-LIFE-2", patient2);
  const nd = await upload("BENCH-LIFE-2", ndjson, "application/fhir+ndjson");
  console.log(`intake (NDJSON, ${round(Buffer.byteLength(ndjson) / MiB)} MiB): ${round(nd.ms / 1000, 2)} s`);

  // ≥ 15,000 resources and ≥ 40 MB in one NDJSON upload (several Synthea histories together).
  const bulk = await bulkNdjson(people, 15_000, 42_000_000);
  const patient3 = await sys.env.patient();
  await sys.registerPatient("BENCH-BULK-3", patient3);
  const bulkIntake = await peakRss(() => upload("BENCH-BULK-3", bulk.text, "application/fhir+ndjson"));
  console.log(
    `intake (NDJSON, ${bulk.count} resources, ${round(Buffer.byteLength(bulk.text) / MiB)} MiB): ${round(bulkIntake.result.ms / 1000, 2)} s, peak RSS ${bulkIntake.peakMiB} MiB`,
  );

  // Reads, as the patient.
  const token = await sys.signIn(patient.account);
  const onChainRoot = async (): Promise<Hash> => (await sys.relationshipOf(relationship)).recordRoot;
  const firstPage: number[] = [];
  for (let i = 0; i < READS; i++) {
    const started = performance.now();
    const r = await sys.get(`/v1/relationships/${relationship}/records`, { token });
    firstPage.push(performance.now() - started);
    if (r.status !== 200 || r.json.entry.length !== Math.min(RECORDS_PAGE_DEFAULT, resources))
      throw new Error(`first page: ${r.status}`);
  }
  // The views of the chain current again after the long intakes, then the reads.
  await sys.viewAt(await sys.env.publicClient.getBlockNumber());
  const root = await onChainRoot();
  const readAll = async (count: number) => {
    const worker = new Worker(new URL("./records-reader.ts", import.meta.url), {
      workerData: { gatekeeperUrl: sys.url, relationship, token, root, count, reads: READS },
    });
    const runs = (await new Promise((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    })) as { ms: number; bytes: number; pages: number; total: number; valid: boolean; failures: unknown[] }[];
    await worker.terminate();
    for (const r of runs)
      if (!r.valid || r.total !== resources) throw new Error(`read: ${JSON.stringify(r.failures)}`);
    const ms = runs.map((r) => r.ms);
    return {
      count,
      n: ms.length,
      pages: runs[0]?.pages,
      bytes: runs[0]?.bytes,
      mib: round((runs[0]?.bytes ?? 0) / MiB),
      medianS: round(median(ms) / 1000, 2),
      worstS: round(Math.max(...ms) / 1000, 2),
      allVerified: runs.every((r) => r.valid),
    };
  };
  const atMax = await readAll(RECORDS_PAGE_MAX);
  const atDefault = await readAll(RECORDS_PAGE_DEFAULT);
  console.log(`first page (_count ${RECORDS_PAGE_DEFAULT}): median ${round(median(firstPage))} ms`);
  for (const r of [atMax, atDefault])
    console.log(
      `read + verify all (_count ${r.count}): ${r.pages} pages, ${r.mib} MiB, median ${r.medianS} s, worst ${r.worstS} s`,
    );

  const report = {
    runs: { firstPage: firstPage.length, readAndVerify: READS },
    synthea: { version: SYNTHEA_VERSION, seed: BENCH_POPULATION.seed, args: BENCH_POPULATION.args },
    resources,
    bundleMiB: round(bytes.length / MiB),
    intake: {
      bundleStreamedS: round(intake.result.ms / 1000, 2),
      peakRssMiB: intake.peakMiB,
      rssBeforeMiB: intake.beforeMiB,
      rootOnChainAfterMs: round(publishMs),
      ndjsonS: round(nd.ms / 1000, 2),
      ndjsonMiB: round(Buffer.byteLength(ndjson) / MiB),
      bulk: {
        resources: bulk.count,
        mib: round(Buffer.byteLength(bulk.text) / MiB),
        ndjsonS: round(bulkIntake.result.ms / 1000, 2),
        peakRssMiB: bulkIntake.peakMiB,
      },
      note: "peak RSS of the one process running the gatekeeper and the bench client (which holds the upload's bytes); geth and PostgreSQL are other processes",
    },
    firstPageMs: {
      n: firstPage.length,
      median: round(median(firstPage)),
      runs: firstPage.map((x) => round(x)),
    },
    readAndVerify: [atMax, atDefault],
    goals: GOALS,
    goalsMet: {
      intake: intake.result.ms / 1000 <= GOALS.intakeS,
      intakePeakRss: intake.peakMiB <= GOALS.intakePeakRssMiB,
      readAndVerify: atMax.medianS <= GOALS.readAndVerifyS,
    },
  };
  for (const [goal, met] of Object.entries(report.goalsMet)) if (!met) console.log(`goal missed: ${goal}`);
  provenance.write(outPath, report);
  console.log(`wrote ${outPath}`);
} finally {
  await sys.stop();
}
