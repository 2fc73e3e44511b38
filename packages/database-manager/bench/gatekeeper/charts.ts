/** bench:gatekeeper's four charts, written beside the report (reports/gatekeeper-*.png). */
import { join } from "node:path";
import { writeChart } from "./chart.ts";
import type { GatekeeperReport } from "./report.ts";

export async function writeCharts(dir: string, r: GatekeeperReport): Promise<string[]> {
  const files: string[] = [];
  const write = async (name: string, spec: Parameters<typeof writeChart>[1]) => {
    await writeChart(join(dir, name), spec);
    files.push(name);
  };
  const machine = `${r.machine.cores} cores, load average ${r.machine.loadBefore[0]} → ${r.machine.loadAfter[0]}`;
  const targets = [
    { name: "MedRec gatekeeper (audited)", m: { readsPerSec: r.readsPerSec, p99: r.latencyMs.p99 } },
    {
      name: "bare node:http + PostgreSQL",
      m: { readsPerSec: r.bare.readsPerSec, p99: r.bare.latencyMs.p99 },
    },
    ...(r.peer
      ? [
          {
            name: `HAPI FHIR ${r.peer.version} RestfulServer`,
            m: { readsPerSec: r.peer.readsPerSec, p99: r.peer.latencyMs.p99 },
          },
        ]
      : []),
  ];
  await write("gatekeeper-reads.png", {
    title: `Reads of the same ${r.bundle.entries}-resource bundle (${r.bundle.bytes} B) — durable PostgreSQL`,
    subtitle: `median of ${r.runs} windows of ${r.windowS} s at concurrency ${r.concurrency}; ${machine}`,
    xName: "server",
    categories: targets.map((t) => t.name),
    yAxes: [{ name: "reads per second" }, { name: "p99 latency (ms)" }],
    series: [
      { name: "reads/s", type: "bar", data: targets.map((t) => t.m.readsPerSec) },
      { name: "p99 (ms)", type: "line", yAxis: 1, data: targets.map((t) => t.m.p99) },
    ],
  });
  await write("gatekeeper-growth-reads.png", {
    title: "Reads by record-set size (one page, every entry with its proof)",
    subtitle: `median of ${r.runs} windows of ${r.growth.windowS} s at concurrency ${r.concurrency}; ${machine}`,
    xName: "resources in the bundle",
    categories: r.growth.reads.map((g) => g.size.toLocaleString("en")),
    yAxes: [
      { name: "reads per second", log: true },
      { name: "p99 latency (ms)", log: true },
    ],
    series: [
      { name: "reads/s", type: "bar", data: r.growth.reads.map((g) => g.readsPerSec.median) },
      { name: "p99 (ms)", type: "line", yAxis: 1, data: r.growth.reads.map((g) => g.latencyMs.p99.median) },
    ],
  });
  const ingest = r.growth.ingest;
  await write("gatekeeper-ingest.png", {
    title: `Ingest of ${ingest.added.toLocaleString("en")} resources into a patient holding ${ingest.existing.toLocaleString("en")}`,
    subtitle: `per run; ${machine}`,
    xName: "run",
    categories: ingest.runs.map((_, i) => `run ${i + 1}`),
    yAxes: [{ name: "seconds" }],
    series: [
      { name: "validate", type: "bar", stack: "t", data: ingest.runs.map((x) => x.validateMs / 1000) },
      {
        name: "store + root",
        type: "bar",
        stack: "t",
        data: ingest.runs.map((x) => x.storeAndRootMs / 1000),
      },
      {
        name: "publish the root on chain",
        type: "bar",
        stack: "t",
        data: ingest.runs.map((x) => x.publishMs / 1000),
      },
    ],
  });
  const rv = r.revocation;
  await write("gatekeeper-revocation.png", {
    title: "Revocation under read load: revoke's receipt seen → first refused read",
    subtitle: `p50 ${rv.p50} ms, p99 ${rv.p99} ms over ${rv.cycles} cycles; the patient's reads at ${rv.loadDuring.readsPerSec.median} reads/s meanwhile; ${machine}`,
    xName: "cycle",
    categories: rv.samplesMs.map((_, i) => String(i + 1)),
    yAxes: [{ name: "milliseconds" }],
    series: [{ name: "receipt → first 403 (ms)", type: "bar", data: rv.samplesMs }],
  });
  return files;
}
