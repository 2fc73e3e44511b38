/** bench:gatekeeper's report: the JSON written to reports/gatekeeper.json and the tables printed. */
import type { ingestGrowth } from "./growth.ts";
import type { MachineLoad } from "./machine.ts";
import type { selfTimeBy } from "./profile.ts";
import { type Measured, statusesOf } from "./reads.ts";
import type { revocationUnderLoad } from "./revocation.ts";
import type { Durability } from "./setup.ts";
import type { ratios, Spread } from "./stats.ts";

type Figure = { readsPerSec: number; latencyMs: { p50: number; p99: number } };
const figure = (m: Measured): Figure => ({
  readsPerSec: m.readsPerSec.median,
  latencyMs: { p50: m.latencyMs.p50.median, p99: m.latencyMs.p99.median },
});

export type GatekeeperReport = ReturnType<typeof buildReport>;

export function buildReport(input: {
  ours: Measured;
  bare: Measured;
  peer: { measured: Measured; version: string; bytes: number; entries: number } | { unavailable: string };
  ratio: ReturnType<typeof ratios>;
  bundle: { bytes: number; entries: number };
  runs: number;
  windowS: number;
  concurrency: number;
  sweep: { concurrency: number; readsPerSec: number; n: number; p50: number; p99: number; errors: number }[];
  readsMachine: MachineLoad;
  growth: {
    windowS: number;
    reads: { size: number; bytes: number; measured: Measured }[];
    readsMachine: MachineLoad;
    ingest: Awaited<ReturnType<typeof ingestGrowth>> & {
      existing: number;
      added: number;
      machine: MachineLoad;
    };
  };
  revocation: Awaited<ReturnType<typeof revocationUnderLoad>> & { machine: MachineLoad };
  durability: { settings: Durability; check: Record<string, unknown>; machine: MachineLoad };
  cpuProfile: ReturnType<typeof selfTimeBy> & { what: string };
  machine: {
    cores: number;
    cpu: string;
    node: string;
    geth: string;
    postgres: string;
    loadBefore: number[];
    loadAfter: number[];
  };
  warnings: string[];
  smoke: boolean;
  durationS: number;
}) {
  const peer = "unavailable" in input.peer ? undefined : input.peer;
  return {
    profile: "durable" as const,
    ...figure(input.ours),
    bare: figure(input.bare),
    ratio: input.ratio,
    peer: peer
      ? {
          name: "HAPI FHIR plain RestfulServer, in-memory provider, Jetty 12 (bench/peer)",
          version: peer.version,
          ...figure(peer.measured),
          request: "GET /fhir/Patient/{id}/$everything (searchset Bundle of the same resources)",
          bundle: { bytes: peer.bytes, entries: peer.entries },
          spread: peer.measured,
        }
      : undefined,
    peerUnavailable: "unavailable" in input.peer ? input.peer.unavailable : undefined,
    growth: {
      windowS: input.growth.windowS,
      reads: input.growth.reads.map((g) => ({
        size: g.size,
        bytes: g.bytes,
        readsPerSec: g.measured.readsPerSec,
        latencyMs: g.measured.latencyMs,
        errors: g.measured.errors,
        statuses: statusesOf(g.measured.windows),
      })),
      readsMachine: input.growth.readsMachine,
      ingest: input.growth.ingest,
    },
    revocationUnderLoadMs: { n: input.revocation.n, p50: input.revocation.p50, p99: input.revocation.p99 },
    revocation: input.revocation,
    runs: input.runs,
    windowS: input.windowS,
    concurrency: input.concurrency,
    bundle: input.bundle,
    spread: { ours: strip(input.ours), bare: strip(input.bare) },
    cpuByComponentPct: {
      note: "median over the windows, % of one core (100 % = one core busy); the gatekeeper runs in the bench's main thread, the load generator in a worker thread",
      ours: input.ours.cpuMedianPct,
      bare: input.bare.cpuMedianPct,
      peer: peer?.measured.cpuMedianPct,
    },
    concurrencySweep: input.sweep,
    readsMachine: input.readsMachine,
    durability: input.durability,
    cpuProfile: input.cpuProfile,
    profiles: {
      measured: ["durable"],
      note: "only the production-durable profile is measured (fsync, synchronous_commit and full_page_writes on); no relaxed profile is reported",
    },
    machine: input.machine,
    notes: notesOf(input),
    warnings: input.warnings,
    smoke: input.smoke,
    durationS: input.durationS,
  };
}

/** What a reader needs to read the figures right, derived from them. */
function notesOf(input: Parameters<typeof buildReport>[0]): string[] {
  const notes: string[] = [];
  const unavailable =
    (statusesOf(input.ours.windows)["503"] ?? 0) +
    input.growth.reads.reduce((n, g) => n + (statusesOf(g.measured.windows)["503"] ?? 0), 0) +
    (input.revocation.loadDuring.statuses["503"] ?? 0);
  if (unavailable > 0)
    notes.push(
      `${unavailable} reads were answered 503 (not counted as reads): the chain view fell behind its limits (CHAIN_MAX_STALENESS_MS, CHAIN_MAX_LAG_BLOCKS) while the machine was saturated, and the gatekeeper refuses rather than decide on stale permissions`,
    );
  const load = input.machine.loadBefore[0] ?? 0;
  if (load > input.machine.cores)
    notes.push(
      `the 1-minute load average was ${load} at the start on ${input.machine.cores} cores: other processes competed for the CPU throughout, so absolute figures are lower and spreads wider than on a quiet machine; the interleaved windows expose ours, bare and the peer to the same competition`,
    );
  return notes;
}

const strip = (m: Measured) => ({
  readsPerSec: m.readsPerSec,
  latencyMs: m.latencyMs,
  errors: m.errors,
  statuses: statusesOf(m.windows),
  windows: m.windows.map((w) => ({
    reads: w.reads,
    readsPerSec: w.readsPerSec,
    latencyMs: w.latencyMs,
    errors: w.errors,
  })),
});

type Row = [string, string];
function table(title: string, rows: Row[]) {
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
}
const s = (x: Spread, unit = "") => `${x.median}${unit} (${x.min}–${x.max})`;
const la = (m: MachineLoad) => `load ${m.loadAverageBefore.join(" ")} → ${m.loadAverageAfter.join(" ")}`;

export function printReport(r: GatekeeperReport) {
  table("Machine", [
    ["cores / CPU", `${r.machine.cores} / ${r.machine.cpu}`],
    ["Node / geth / PostgreSQL", `${r.machine.node} / ${r.machine.geth} / ${r.machine.postgres}`],
    [
      "load average (1/5/15 min)",
      `${r.machine.loadBefore.join(" ")} at start → ${r.machine.loadAfter.join(" ")} at end`,
    ],
    [
      "durability",
      `fsync=${r.durability.settings.fsync} synchronous_commit=${r.durability.settings.synchronous_commit} full_page_writes=${r.durability.settings.full_page_writes} (${r.durability.settings.wal_sync_method})`,
    ],
  ]);
  const spreads = r.spread;
  table(
    `Reads of the ${r.bundle.entries}-resource bundle — median (min–max) of ${r.runs} × ${r.windowS} s at concurrency ${r.concurrency}; ${la(r.readsMachine)}`,
    [
      [
        "MedRec gatekeeper (audited)",
        `${s(spreads.ours.readsPerSec)} reads/s, p50 ${s(spreads.ours.latencyMs.p50, " ms")}, p99 ${s(spreads.ours.latencyMs.p99, " ms")}`,
      ],
      [
        "bare node:http + PostgreSQL",
        `${s(spreads.bare.readsPerSec)} reads/s, p50 ${s(spreads.bare.latencyMs.p50, " ms")}, p99 ${s(spreads.bare.latencyMs.p99, " ms")}`,
      ],
      [
        "HAPI FHIR RestfulServer (peer)",
        r.peer
          ? `${s(r.peer.spread.readsPerSec)} reads/s, p50 ${s(r.peer.spread.latencyMs.p50, " ms")}, p99 ${s(r.peer.spread.latencyMs.p99, " ms")}`
          : `not run: ${r.peerUnavailable}`,
      ],
      [
        "audited / bare",
        `throughput ${r.ratio.throughput} (goal ≥ ${r.ratio.goal.throughput}), p99 ${r.ratio.p99} (goal ≤ ${r.ratio.goal.p99})`,
      ],
      [
        "audit entry durable before the answer",
        `${r.durability.check.reads} reads, ${r.durability.check.entryNotCommittedAtAnswer} not committed at the answer`,
      ],
    ],
  );
  table(
    `Where the gatekeeper's main thread spends its time (CPU profile of one audited window: ${r.cpuProfile.busyMs} ms sampled)`,
    [
      ...r.cpuProfile.groups.map((p): Row => [p.group, `${p.pct} % (${p.ms} ms)`]),
      [
        "top places",
        r.cpuProfile.places
          .slice(0, 8)
          .map((p) => `${p.place} ${p.pct} %`)
          .join(", "),
      ],
    ],
  );
  table(
    `Growth: reads by bundle size — median (min–max) of ${r.runs} × ${r.growth.windowS} s; ${la(r.growth.readsMachine)}`,
    r.growth.reads.map(
      (g): Row => [
        `${g.size} resources (${g.bytes} B)`,
        `${s(g.readsPerSec)} reads/s, p50 ${s(g.latencyMs.p50, " ms")}, p99 ${s(g.latencyMs.p99, " ms")}, responses ${JSON.stringify(g.statuses)}`,
      ],
    ),
  );
  const i = r.growth.ingest;
  table(
    `Growth: ingest of ${i.added} resources into ${i.existing} — median (min–max) of ${i.runs.length}; ${la(i.machine)}`,
    [
      ["validate", s(i.validateMs, " ms")],
      ["store + recompute root", s(i.storeAndRootMs, " ms")],
      ["upload answered", s(i.uploadMs, " ms")],
      ["published on chain after that", s(i.publishMs, " ms")],
      ["total", s(i.totalMs, " ms")],
    ],
  );
  const rv = r.revocation;
  table(`Revocation under read load: receipt seen → first 403; ${la(rv.machine)}`, [
    ["cycles", `${rv.cycles} measured, ${rv.failed} failed`],
    ["p50 / p90 / p99 / max", `${rv.p50} / ${rv.p90} / ${rv.p99} / ${rv.max} ms`],
    [
      "load meanwhile",
      `${s(rv.loadDuring.readsPerSec)} reads/s, p99 ${s(rv.loadDuring.p99Ms, " ms")}, responses ${JSON.stringify(rv.loadDuring.statuses)}`,
    ],
    [
      "viewer polls neither 200 nor 403",
      `${JSON.stringify(rv.unexpectedStatuses)} ${rv.unexpectedDetails.join("; ")}`,
    ],
    ["revoke sent → receipt (p50)", `${rv.receiptAfterSendMsP50} ms`],
  ]);
  console.log("");
  for (const f of rv.failures) console.log(`failure: ${f}`);
  if (!r.ratio.met.throughput)
    console.log(`short of the goal: audited throughput is ${r.ratio.throughput} of bare (goal ≥ 0.5)`);
  if (!r.ratio.met.p99) console.log(`short of the goal: audited p99 is ${r.ratio.p99}× bare (goal ≤ 2)`);
  for (const w of r.warnings) console.log(`warning: ${w}`);
}
