/**
 * Growth curves: reads of record sets of 21, 200 and 2,000 resources (one page: `_count=2000`),
 * and the ingest of a 10,000-resource bundle through the staff API into a patient that already
 * holds 10,000 — validated, stored, root recomputed (the upload's answer), then published on chain.
 */
import { validateFhirBundle } from "../../src/records/fhir-validator.ts";
import type { FhirResource } from "../../src/seams.ts";
import { extraResources, growResources } from "./bundles.ts";
import type { Lifecycle } from "./lifecycle.ts";
import { log, sleep } from "./lifecycle.ts";
import { type Measured, measureInterleaved } from "./reads.ts";
import type { System } from "./setup.ts";
import { spread } from "./stats.ts";

export const GROWTH_SIZES = [21, 200, 2000] as const;
export const INGEST = { existing: 10_000, added: 10_000 } as const;

export async function readsBySize(
  sys: System,
  base: readonly FhirResource[],
  main: { size: number; url: string; token: string; sample: { bytes: number; entries: number } },
  { runs, concurrency, durationS }: { runs: number; concurrency: number; durationS: number },
): Promise<{ size: number; bytes: number; measured: Measured }[]> {
  const out: { size: number; bytes: number; measured: Measured }[] = [];
  for (const size of GROWTH_SIZES) {
    let target = { name: String(size), url: main.url, token: main.token, sample: main.sample };
    if (size !== main.size) {
      const p = await sys.registerPatient(`BENCH-G${size}`, growResources(base, size));
      const token = await sys.signIn(p.patient.account);
      const url = sys.recordsUrl(p.relationship, "?_count=2000");
      const sample = await sys.verifiedSample(url, token, p.relationship);
      if (sample.entries !== size)
        throw new Error(`the ${size}-resource bundle has ${sample.entries} entries`);
      target = { name: String(size), url, token, sample };
    }
    const measured = (await measureInterleaved([target], { runs, concurrency, durationS })).get(target.name);
    if (!measured) throw new Error("no windows");
    log(
      `growth: ${size} resources (${target.sample.bytes} B): ${measured.readsPerSec.median} reads/s, p99 ${measured.latencyMs.p99.median} ms (median of ${runs})`,
    );
    out.push({ size, bytes: target.sample.bytes, measured });
  }
  return out;
}

export type IngestRun = {
  validateMs: number;
  storeAndRootMs: number;
  uploadMs: number;
  publishMs: number;
  totalMs: number;
  bytes: number;
  stored: number;
};

export async function ingestGrowth(
  sys: System,
  life: Lifecycle,
  base: readonly FhirResource[],
  runs: number,
) {
  const results: IngestRun[] = [];
  for (let run = 0; run < runs && !life.interrupted(); run++) {
    const mrn = `BENCH-I${run}`;
    const { relationship } = await sys.registerPatient(mrn, growResources(base, INGEST.existing));
    const resources = extraResources(base, INGEST.added, `i${run}-`);
    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      entry: resources.map((resource) => ({ resource })),
    };
    const body = JSON.stringify(bundle);
    // The validation the upload runs first, timed apart on the same bundle (same function).
    const v0 = performance.now();
    const issues = validateFhirBundle(bundle);
    const validateMs = performance.now() - v0;
    if (issues.length > 0) throw new Error(`the ingest bundle is invalid: ${JSON.stringify(issues[0])}`);
    await sleep(200);
    const t0 = performance.now();
    const res = await fetch(`${sys.gk.url}/v1/patients/${mrn}/records`, {
      method: "POST",
      headers: { "content-type": "application/fhir+json", "x-operator-key": sys.operatorKey },
      body,
    });
    const answer = (await res.json()) as { stored?: number; recordRoot?: string };
    const uploadMs = performance.now() - t0;
    if (res.status !== 200 || !answer.recordRoot) throw new Error(`the upload answered ${res.status}`);
    await life.eventually(
      "the new root on chain",
      async () => (await sys.onChainRoot(relationship)).toLowerCase() === answer.recordRoot?.toLowerCase(),
      120_000,
    );
    const publishMs = performance.now() - t0 - uploadMs;
    results.push({
      validateMs: Math.round(validateMs),
      storeAndRootMs: Math.round(uploadMs - validateMs),
      uploadMs: Math.round(uploadMs),
      publishMs: Math.round(publishMs),
      totalMs: Math.round(uploadMs + publishMs),
      bytes: Buffer.byteLength(body),
      stored: answer.stored ?? 0,
    });
    log(
      `ingest ${run + 1}/${runs}: ${INGEST.added} into ${INGEST.existing}: upload ${Math.round(uploadMs)} ms (validate ${Math.round(validateMs)}), published after ${Math.round(publishMs)} ms more`,
    );
  }
  return {
    what: `POST /v1/patients/{mrn}/records: a ${INGEST.added}-resource Bundle (collection) into a patient already holding ${INGEST.existing}`,
    validateMs: spread(results.map((r) => r.validateMs)),
    storeAndRootMs: spread(results.map((r) => r.storeAndRootMs)),
    uploadMs: spread(results.map((r) => r.uploadMs)),
    publishMs: spread(results.map((r) => r.publishMs)),
    totalMs: spread(results.map((r) => r.totalMs)),
    runs: results,
    phases:
      "validate = validateFhirBundle on the same bundle, timed apart in the bench; store + root = the upload's round trip less validate (parse, ids, rows, one transaction, the new root); publish = the upload's answer → Relationship.recordRoot equals the new root (read from the node every 20 ms)",
  };
}
