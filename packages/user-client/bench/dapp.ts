#!/usr/bin/env node
/**
 * `bench:dapp` — the patient dapp in headless Chromium (`/usr/bin/chromium`, or `MEDREC_CHROMIUM`)
 * against a whole local network this bench starts (scripts/system.ts: three providers' geth nodes,
 * gatekeepers and PostgreSQL). The demo patient gets 500 more Synthea resources at each provider
 * (the tests' population, through the staff API); a second patient gets a ~11,000-resource Synthea
 * lifetime at one provider (bench:records' population: the lifetime and part of the next history).
 *
 * Measured, in the page's own clock (the click's event time → the frame where the DOM shows it):
 * - unlock → complete verified timeline (three providers "Verified", the final count shown), ≥ 10 runs;
 * - "Stop sharing" click → the viewer's next read at that gatekeeper refused (polled with the
 *   viewer's SIWE session every 50 ms), ≥ 10 runs;
 * - the initial JS (what index.html loads before any lazy chunk), gzip;
 * - the lifetime: first verified entries on screen, all pages verified, long tasks and the input
 *   delay of clicks made while it loads, ≥ 5 runs (the last under the CPU profiler: where time goes).
 * Figures are printed and written to reports/dapp.json through testkit's startReport (commit,
 * machine, load, runs); every percentile is testkit's summarize (nearest rank, with its n).
 * Nothing here asserts a time.
 *
 *   node bench/dapp.ts [--runs 10] [--lifetime-runs 5] [--out FILE]
 */
import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import {
  agentAbi,
  apiPaths,
  type CreatePatientResponse,
  encryptionKeyPairFromMnemonic,
  gatekeeperJson,
  parseManifest,
  relationshipAbi,
  relayAndWait,
  signIn,
} from "@medrec/protocol";
import { accountFromMnemonic, generatePatientMnemonic } from "@medrec/protocol/node";
import {
  createPatientClient,
  discoverRelationships,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  shareRecords,
} from "@medrec/protocol/patient";
import { commandWithArgs, eventually, startReport, summarize } from "@medrec/testkit";
import type { Page } from "playwright-core";
import { encodeFunctionData, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ProviderHandle, System } from "../../../scripts/system.ts";
import { untilSeen } from "../../../scripts/wait.ts";
import { BENCH_POPULATION, bulkNdjson, populationPeople } from "../../database-manager/bench/population.ts";
import { TEST_POPULATIONS } from "../../database-manager/scripts/synthea.ts";
import { DIST_DIR } from "../server.ts";
import { startBrowserNetwork } from "../test/browser.support.ts";

const GOALS = { timelineP50Ms: 1500, revokeP99Ms: 3000, initialJsGzipBytes: 300 * 1024, firstScreenMs: 1500 };
const PER_PROVIDER = 500;
const LIFETIME_RESOURCES = 11_000;
/** Where the lifetime lives and where the viewer's grant is revoked: not the same provider. */
const LIFETIME_AT = "Hilltop Medical";
const REVOKE_AT = "Riverside General";
const PASSWORD = "bench quiet harbour lantern 5";
// Safety nets for a hung component under load, never measurements.
const WAIT = { timeout: 180_000 };
/** The lifetime on this loaded machine: minutes. */
const LONG_WAIT = { timeout: 1_800_000 };

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string" },
    "lifetime-runs": { type: "string" },
    out: { type: "string" },
    parts: { type: "string" },
    "profile-out": { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(
    "usage: node bench/dapp.ts [--runs 10] [--lifetime-runs 5] [--parts timeline,revoke,lifetime] [--out FILE] [--profile-out FILE.cpuprofile]",
  );
  process.exit(0);
}
const RUNS = Math.max(1, Number(flags.runs ?? 10));
const LIFETIME_RUNS = Math.max(1, Number(flags["lifetime-runs"] ?? 5));
/** Which parts to run (all by default); a partial run writes only what it measured. */
const PARTS = new Set((flags.parts ?? "timeline,revoke,lifetime").split(",").map((p) => p.trim()));
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const OUT = flags.out ? path.resolve(flags.out) : path.join(ROOT, "reports", "dapp.json");

const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;
/** testkit's summary (n, nearest-rank percentiles) in whole ms, and every run's figure. */
const stats = (xs: number[]) => ({ ...summarize(xs, 0), runs: xs.map((x) => round(x)) });
const say = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

/** What index.html loads before any lazy chunk: its module script and modulepreloads, gzip. */
async function initialJs(): Promise<{ gzipBytes: number; rawBytes: number; files: string[] }> {
  const html = await readFile(path.join(DIST_DIR, "index.html"), "utf8");
  const files = [
    ...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ].map((m) => m[1] ?? "");
  let gzipBytes = 0;
  let rawBytes = 0;
  for (const f of files) {
    const bytes = await readFile(path.join(DIST_DIR, f.replace(/^\//, "")));
    rawBytes += bytes.length;
    gzipBytes += gzipSync(bytes, { level: 9 }).length;
  }
  return { gzipBytes, rawBytes, files };
}

/** POSTs NDJSON to a patient's records as the provider's staff; resolves once its root is on chain. */
async function upload(
  system: System,
  provider: ProviderHandle,
  mrn: string,
  relationship: Hex,
  text: string,
) {
  const { token } = await signIn({
    gatekeeperUrl: provider.gatekeeper.url,
    account: privateKeyToAccount(provider.staffKey),
    chainId: system.manifest.chainId,
  });
  const response = await fetch(`${provider.gatekeeper.url}${apiPaths.patientRecords(mrn)}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/fhir+ndjson" },
    body: text,
  });
  const body = (await response.json()) as { stored?: number; recordRoot?: Hex };
  if (response.status !== 200) throw new Error(`upload to ${provider.name}: ${JSON.stringify(body)}`);
  await rootOnChain(system, relationship, body.recordRoot as Hex);
  return body.stored ?? 0;
}

async function rootOnChain(system: System, relationship: Hex, root: Hex) {
  const client = createPatientClient({ chainId: system.manifest.chainId, rpcUrl: system.manifest.rpcUrl });
  await eventually(
    "the record root on chain",
    async () =>
      (
        await client.readContract({
          address: system.manifest.contracts.Relationship as Hex,
          abi: relationshipAbi,
          functionName: "relationshipOf",
          args: [relationship],
        })
      ).recordRoot === root,
    { timeoutMs: 180_000, intervalMs: 250 },
  );
}

/** Restores a wallet from its words in the dapp and sets the bench's password (the records screen follows). */
async function restore(page: Page, dappUrl: string, mnemonic: string) {
  await page.goto(dappUrl);
  await page.getByRole("link", { name: "I already have 12 recovery words" }).click(WAIT);
  for (const [i, word] of mnemonic.split(" ").entries())
    await page.getByLabel(new RegExp(`^${i + 1}\\w\\w word$`)).fill(word, WAIT);
  await page.getByRole("button", { name: "Continue" }).click(WAIT);
  await page.getByLabel("New password").fill(PASSWORD, WAIT);
  await page.getByLabel("Type it again").fill(PASSWORD, WAIT);
  await page.getByRole("button", { name: "Save and continue" }).click(WAIT);
  await page.getByRole("button", { name: "Continue" }).click(WAIT);
  await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);
}

type Milestones = {
  t0: number;
  unlocked?: number;
  firstEntry?: number;
  complete?: number;
  /** A provider's card says it could not be read (e.g. "Could not be reached" under load). */
  failed?: string;
  count?: string;
  longTasks: { start: number; duration: number }[];
  /** What the page fetched between the click and completion (filled in at the end). */
  requests?: { what: string; start: number; wait: number; end: number }[];
  inputDelays: number[];
  slowEvents: { name: string; duration: number; delay: number }[];
};

/**
 * Reloads (the wallet lives in memory only), then in the page: the Unlock click's event time, and
 * per animation frame the first frame showing the Records heading, the first timeline entry (only
 * verified entries are on it) and the complete timeline (`providers` cards "Verified", the final
 * count); long tasks and event timings meanwhile. `whileLoading` runs between the click and completion.
 */
async function unlockToTimeline(
  page: Page,
  providers: number,
  whileLoading?: (m: () => Promise<Milestones>) => Promise<void>,
  wait = WAIT,
): Promise<Milestones> {
  await page.reload();
  await page.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.evaluate((expected) => {
    const w = window as unknown as { __bench: Milestones };
    const m: Milestones = { t0: 0, longTasks: [], inputDelays: [], slowEvents: [] };
    w.__bench = m;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) m.longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask" });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries() as PerformanceEventTiming[])
        m.slowEvents.push({ name: e.name, duration: e.duration, delay: e.processingStart - e.startTime });
    }).observe({ type: "event", durationThreshold: 16 } as PerformanceObserverInit);
    addEventListener("click", (e) => (m.t0 ||= e.timeStamp), { capture: true });
    // Input delay of the bench's clicks while loading: handler start − the event's time.
    addEventListener("pointerdown", (e) => m.t0 && m.inputDelays.push(performance.now() - e.timeStamp), {
      capture: true,
    });
    const tick = () => {
      const now = performance.now();
      if (m.t0) {
        if (!m.unlocked && document.querySelector("h1")?.textContent?.trim() === "Records") m.unlocked = now;
        if (!m.firstEntry && document.querySelector('[aria-label="Timeline"] li')) m.firstEntry = now;
        const bad = document.querySelector(".provider-status-item.tone-warn, .provider-status-item.tone-bad");
        if (bad) {
          m.failed = bad.textContent ?? "";
          return;
        }
        const count = document.querySelector(".result-count")?.textContent?.trim() ?? "";
        if (
          document.querySelectorAll(".provider-status-item.tone-ok").length === expected &&
          /^[\d,]+ records?\.$/.test(count) &&
          m.firstEntry
        ) {
          m.complete = now;
          m.count = count;
          return;
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }, providers);
  await page.getByRole("button", { name: "Unlock" }).click();
  const read = () => page.evaluate(() => (window as unknown as { __bench: Milestones }).__bench);
  if (whileLoading) await whileLoading(read);
  await page
    .waitForFunction(
      () => {
        const m = (window as unknown as { __bench: Milestones }).__bench;
        return m.complete || m.failed;
      },
      null,
      {
        ...wait,
        polling: 100,
      },
    )
    .catch(async (error: unknown) => {
      // What the page shows instead, for the log.
      const state = await page.evaluate(() => ({
        url: location.href,
        h1: document.querySelector("h1")?.textContent,
        providers: Array.from(document.querySelectorAll(".provider-status-item")).map(
          (e) => `${e.className}: ${e.textContent}`,
        ),
        count: document.querySelector(".result-count")?.textContent,
        bench: (window as unknown as { __bench: Milestones }).__bench,
      }));
      throw new Error(`the timeline did not complete: ${JSON.stringify(state)}`, { cause: error });
    });
  // Each request after the click: which kind, when it started, time to first byte, end (page clock).
  await page.evaluate(() => {
    const m = (window as unknown as { __bench: Milestones }).__bench;
    const entries = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
    m.requests = entries
      .filter((e) => e.startTime >= m.t0 && (!m.complete || e.startTime <= m.complete))
      .map((e) => {
        const url = new URL(e.name);
        const what = url.pathname.startsWith("/v1/")
          ? `${url.port} ${url.pathname.replace(/0x[0-9a-f]{64}/gi, ":id").replace(/\/[^/]+$/, (t) => (t.length > 20 ? "/…" : t))}`
          : `${url.port} ${e.initiatorType === "fetch" ? "rpc" : url.pathname}`;
        return {
          what,
          start: Math.round(e.startTime - m.t0),
          wait: Math.round(e.responseStart - e.startTime),
          end: Math.round(e.responseEnd - m.t0),
        };
      });
  });
  return read();
}

/** Self time by function (and by kind: idle, GC, program) from a V8 CPU profile, largest first. */
function summarizeProfile(profile: {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (const [i, id] of (profile.samples ?? []).entries()) {
    const ms = (profile.timeDeltas?.[i] ?? 0) / 1000;
    const frame = byId.get(id)?.callFrame;
    const file = frame?.url ? path.basename(frame.url) : "";
    const key = `${frame?.functionName || "(anonymous)"}${file ? ` ${file}:${(frame?.lineNumber ?? 0) + 1}` : ""}`;
    self.set(key, (self.get(key) ?? 0) + ms);
    total += ms;
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  return { totalMs: round(total), top: top.map(([fn, ms]) => ({ fn, ms: round(ms) })) };
}

const topOf = (p: ReturnType<typeof summarizeProfile>) =>
  p.top
    .slice(0, 6)
    .map((x) => `${x.fn} ${x.ms} ms`)
    .join("; ");

/** The lifetime patient: registered through a relay, linked and ~11,000 resources uploaded at `at`. */
async function setUpLifetime(system: System, at: ProviderHandle, mnemonic: string): Promise<number> {
  const lifetimePatient = accountFromMnemonic(mnemonic);
  await relayAndWait({
    client: createPatientClient({ chainId: system.manifest.chainId, rpcUrl: system.manifest.rpcUrl }),
    forwarder: system.manifest.contracts.Forwarder as Hex,
    account: lifetimePatient,
    to: system.manifest.contracts.Agent as Hex,
    data: encodeFunctionData({
      abi: agentAbi,
      functionName: "register",
      args: [encryptionKeyPairFromMnemonic(mnemonic).publicKey, [], 0],
    }),
    gatekeeperUrl: at.gatekeeper.url,
  });
  const staff = await signIn({
    gatekeeperUrl: at.gatekeeper.url,
    account: privateKeyToAccount(at.staffKey),
    chainId: system.manifest.chainId,
  });
  const linked = await untilSeen(() =>
    gatekeeperJson<CreatePatientResponse>(at.gatekeeper.url, apiPaths.patients, {
      method: "POST",
      token: staff.token,
      body: { mrn: "BENCH-DAPP-LIFE", patientAddress: lifetimePatient.address },
    }),
  );
  const lifetimePeople = await populationPeople(BENCH_POPULATION);
  const lifetime = await bulkNdjson(lifetimePeople, LIFETIME_RESOURCES, 0);
  const uploadStarted = performance.now();
  const lifetimeStored = await upload(system, at, "BENCH-DAPP-LIFE", linked.relationship, lifetime.text);
  say(
    `lifetime patient: ${lifetimeStored} resources (${round(Buffer.byteLength(lifetime.text) / 2 ** 20, 1)} MiB) at ${at.name}, root on chain after ${round((performance.now() - uploadStarted) / 1000, 1)} s`,
  );
  return lifetimeStored;
}

// ——— the run ———
const provenance = startReport(commandWithArgs("./medrec run bench:dapp"), ROOT);
const loadBefore = provenance.loadBefore;
say(`bench:dapp — ${cpus().length} cores, load ${loadBefore.join(" ")}`);
// The browser tests' network and Chromium (test/browser.support.ts).
const startedAt = performance.now();
const { system: sys, browser, stop } = await startBrowserNetwork();
try {
  const dappUrl = sys.dappUrl ?? "";
  say(`network and dapp up in ${round((performance.now() - startedAt) / 1000, 1)} s at ${dappUrl}`);
  const js = await initialJs();
  say(
    `initial JS: ${js.files.length} files, ${round(js.gzipBytes / 1024, 1)} KiB gzip (${round(js.rawBytes / 1024)} KiB raw)`,
  );

  // 500 resources per provider for the demo patient: the tests' Synthea population, 1,500 lines split in three.
  const recent = (await populationPeople(TEST_POPULATIONS[0])).filter(
    (p) => !/(hospital|practitioner)Information/.test(p.file),
  );
  const lines = (await bulkNdjson(recent, PER_PROVIDER * sys.providers.length, 0)).text.split("\n");
  const perProvider = await Promise.all(
    sys.providers.map((p, i) =>
      upload(
        sys,
        p,
        p.mrn,
        p.relationship,
        lines.slice(i * PER_PROVIDER, (i + 1) * PER_PROVIDER).join("\n"),
      ).then((stored) => p.resources + stored),
    ),
  );
  say(`demo patient: ${perProvider.join(" + ")} resources at ${sys.providers.map((p) => p.name).join(", ")}`);

  // The lifetime patient: registered through a relay, linked and uploaded at one provider.
  const lifetimeMnemonic = generatePatientMnemonic();
  const at = sys.providers.find((p) => p.name === LIFETIME_AT) ?? (sys.providers[0] as ProviderHandle);
  const lifetimeStored = PARTS.has("lifetime") ? await setUpLifetime(sys, at, lifetimeMnemonic) : 0;

  const problems: string[] = [];
  const newPage = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (error) => problems.push(error.message));
    return page;
  };

  // Unlock → complete verified timeline (one unmeasured run first: caches warm as a returning patient's would be).
  const demo = parseManifest(sys.manifest).demo;
  if (!demo) throw new Error("the manifest has no demo patient");
  const page = await newPage();
  await restore(page, dappUrl, demo.patientMnemonic);
  await unlockToTimeline(page, sys.providers.length);
  // What has been measured so far: written after each part, so that a later failure keeps it.
  const timeline: number[] = [];
  const unlockOnly: number[] = [];
  const revoke: number[] = [];
  const failedRuns: string[] = [];
  let shown = "";
  /** The requests of the last measured timeline run: where the wall time goes. */
  let requests: NonNullable<Milestones["requests"]> = [];
  let timelineProfile: ReturnType<typeof summarizeProfile> | undefined;
  let lifetimeProfile: ReturnType<typeof summarizeProfile> | undefined;
  const lifetimeRuns: {
    firstScreenMs: number;
    allVerifiedMs: number;
    longTasks: number;
    longTaskTotalMs: number;
    longestTaskMs: number;
    inputDelayMaxMs: number;
    clicks: number;
    slowEvents: Milestones["slowEvents"];
  }[] = [];
  /** The lifetime's figure `key` over its counted runs: n, nearest-rank percentiles (p50 is the median). */
  const lifetimeStat = (key: "firstScreenMs" | "allVerifiedMs" | "longestTaskMs" | "inputDelayMaxMs") =>
    summarize(
      lifetimeRuns.map((r) => r[key]),
      0,
    );
  const report = () => {
    const r = {
      runs: { timeline: timeline.length, revoke: revoke.length, lifetime: lifetimeRuns.length },
      timelineMs: stats(timeline),
      revokeMs: stats(revoke),
      initialJsGzipBytes: js.gzipBytes,
      lifetime: {
        firstScreenMs: lifetimeStat("firstScreenMs"),
        allVerifiedMs: lifetimeStat("allVerifiedMs"),
        longestTaskMs: lifetimeStat("longestTaskMs"),
        inputDelayMaxMs: lifetimeStat("inputDelayMaxMs"),
        resources: lifetimeStored,
        provider: at.name,
        runs: lifetimeRuns,
      },
      notes: [] as string[],
      detail: {
        timeline: {
          resources: perProvider,
          shown,
          unlockToRecordsScreenMs: stats(unlockOnly),
          requests,
          profile: timelineProfile,
        },
        revoke: { provider: REVOKE_AT, pollMs: 50 },
        initialJs: { files: js.files, rawBytes: js.rawBytes },
        lifetimeProfile,
        failedRuns,
        pageErrors: problems,
        goals: GOALS,
      },
    };
    const met = {
      timelineP50: r.timelineMs.p50 <= GOALS.timelineP50Ms,
      revokeP99: r.revokeMs.p99 <= GOALS.revokeP99Ms,
      initialJs: js.gzipBytes <= GOALS.initialJsGzipBytes,
      firstScreen: r.lifetime.firstScreenMs.p50 <= GOALS.firstScreenMs,
    };
    r.notes.push(
      `goals: ${Object.entries(met)
        .map(([k, v]) => `${k} ${v ? "met" : "MISSED (or not measured yet)"}`)
        .join(", ")}`,
    );
    return r;
  };
  const save = async () => provenance.write(OUT, report());
  if (PARTS.has("timeline")) {
    for (let i = 0, tries = 0; timeline.length < RUNS && tries < RUNS + 5; tries++) {
      const m = await unlockToTimeline(page, sys.providers.length);
      if (m.failed) {
        failedRuns.push(`timeline: ${m.failed}`);
        say(`timeline run not complete (not counted): ${m.failed}`);
        continue;
      }
      i++;
      timeline.push((m.complete ?? 0) - m.t0);
      unlockOnly.push((m.unlocked ?? 0) - m.t0);
      shown = m.count ?? "";
      requests = m.requests ?? [];
      say(
        `timeline ${i}/${RUNS}: ${round(timeline.at(-1) ?? 0)} ms (records screen after ${round(unlockOnly.at(-1) ?? 0)} ms) — "${shown}"`,
      );
    }

    // One unlock under the CPU profiler: where the main thread's time goes.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
    const profiled = await unlockToTimeline(page, sys.providers.length);
    const { profile } = await cdp.send("Profiler.stop");
    timelineProfile = summarizeProfile(profile);
    if (flags["profile-out"]) await writeFile(path.resolve(flags["profile-out"]), JSON.stringify(profile));
    say(
      `profiled timeline run: ${round((profiled.complete ?? 0) - profiled.t0)} ms${profiled.failed ? ` (${profiled.failed})` : ""}; ${topOf(timelineProfile)}`,
    );
  }
  await save();

  if (PARTS.has("revoke")) {
    // Revoke: grant the family member at one provider (from Node), then "Stop" → "Stop sharing" in the dapp.
    const ctx = await patientContextFromMnemonic({
      network: patientNetworkFromManifest(parseManifest(sys.manifest)),
      mnemonic: demo.patientMnemonic,
    });
    const relationship = (await discoverRelationships(ctx)).find((r) => r.provider?.name === REVOKE_AT);
    const revokeProvider = sys.providers.find((p) => p.name === REVOKE_AT);
    if (!relationship || !revokeProvider) throw new Error(`no relationship at ${REVOKE_AT}`);
    const viewer = accountFromMnemonic(String(sys.manifest.demo?.viewerMnemonic));
    const viewerSession = await signIn({
      gatekeeperUrl: revokeProvider.gatekeeper.url,
      account: viewer,
      chainId: sys.manifest.chainId,
    });
    const viewerRead = async () =>
      (
        await fetch(`${revokeProvider.gatekeeper.url}${apiPaths.records(relationship.id)}?category=labs`, {
          headers: { authorization: `Bearer ${viewerSession.token}` },
        })
      ).status;
    for (let i = 0; i < RUNS; i++) {
      if ((await viewerRead()) !== 200) {
        await eventually(
          "the grant relayed",
          async () =>
            (
              await shareRecords({
                ctx,
                viewer: viewer.address,
                relationships: [relationship],
                categories: ["labs", "medications"],
                expiry: { days: 90 },
                details: { from: "Bench", label: "Family" },
              })
            ).ok,
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        await eventually("the viewer reads", async () => (await viewerRead()) === 200, { timeoutMs: 60_000 });
      }
      await unlockToTimeline(page, sys.providers.length);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Sharing" }).click();
      await page
        .getByRole("button", { name: new RegExp(`^Stop sharing with .+ at ${REVOKE_AT}$`) })
        .click(WAIT);
      const confirm = page.getByRole("button", { name: "Stop sharing", exact: true });
      await confirm.waitFor(WAIT);
      const clicked = performance.now();
      await confirm.click();
      let refusedAt = 0;
      await eventually(
        "the viewer refused",
        async () => {
          const status = await viewerRead();
          refusedAt = performance.now();
          return status === 403;
        },
        { timeoutMs: 60_000, intervalMs: 50 },
      );
      revoke.push(refusedAt - clicked);
      say(`revoke ${i + 1}/${RUNS}: refused ${round(revoke.at(-1) ?? 0)} ms after the click`);
      await page.getByRole("button", { name: "Done" }).click(WAIT);
    }
    await save();
  }
  await page.context().close();

  if (PARTS.has("lifetime")) {
    // The lifetime: first screen, all verified, long tasks, input delay of clicks while loading.
    const lifePage = await newPage();
    await restore(lifePage, dappUrl, lifetimeMnemonic);
    const clickWhileLoading = async (read: () => Promise<Milestones>) => {
      // Clicks on the search box every 250 ms from the first entry until the last page is verified.
      // Raw input at the box's place (no actionability wait): a busy main thread delays its handling.
      await lifePage.waitForFunction(
        () => (window as unknown as { __bench: Milestones }).__bench.firstEntry,
        null,
        LONG_WAIT,
      );
      const box = await lifePage.getByLabel("Search").boundingBox();
      for (let m = await read(); box && !m.complete && !m.failed; m = await read()) {
        await lifePage.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const lifeCdp = await lifePage.context().newCDPSession(lifePage);
    for (let i = 0, tries = 0; lifetimeRuns.length < LIFETIME_RUNS && tries < LIFETIME_RUNS + 2; tries++) {
      const profiling = i === LIFETIME_RUNS - 1;
      if (profiling) {
        await lifeCdp.send("Profiler.enable");
        await lifeCdp.send("Profiler.setSamplingInterval", { interval: 1000 });
        await lifeCdp.send("Profiler.start");
      }
      const m = await unlockToTimeline(lifePage, 1, clickWhileLoading, LONG_WAIT);
      if (profiling) {
        lifetimeProfile = summarizeProfile((await lifeCdp.send("Profiler.stop")).profile);
        say(`lifetime run ${i + 1} profiled; main thread self time: ${topOf(lifetimeProfile)}`);
      }
      if (m.failed) {
        failedRuns.push(`lifetime: ${m.failed}`);
        say(`lifetime run not complete (not counted): ${m.failed}`);
        continue;
      }
      i++;
      const during = m.longTasks.filter((t) => t.start >= m.t0 && t.start <= (m.complete ?? 0));
      const run = {
        firstScreenMs: round((m.firstEntry ?? 0) - m.t0),
        allVerifiedMs: round((m.complete ?? 0) - m.t0),
        longTasks: during.length,
        longTaskTotalMs: round(during.reduce((s, t) => s + t.duration, 0)),
        longestTaskMs: round(Math.max(0, ...during.map((t) => t.duration))),
        inputDelayMaxMs: round(Math.max(0, ...m.inputDelays), 1),
        clicks: m.inputDelays.length,
        slowEvents: m.slowEvents.map((e) => ({
          name: e.name,
          duration: round(e.duration),
          delay: round(e.delay),
        })),
      };
      lifetimeRuns.push(run);
      say(
        `lifetime ${i}/${LIFETIME_RUNS}: first screen ${run.firstScreenMs} ms, all verified ${run.allVerifiedMs} ms (${m.count}); ${run.longTasks} long tasks, ${run.longTaskTotalMs} ms in all, longest ${run.longestTaskMs} ms; ${run.clicks} clicks, worst input delay ${run.inputDelayMaxMs} ms`,
      );
    }
    await lifePage.context().close();
  }

  await save();
  say(`timeline p50 ${report().timelineMs.p50} ms, p95 ${report().timelineMs.p95} ms`);
  say(`revoke p50 ${report().revokeMs.p50} ms, p99 ${report().revokeMs.p99} ms`);
  say(`initial JS ${js.gzipBytes} bytes gzip`);
  say(
    `lifetime (n = ${lifetimeRuns.length}) first screen p50 ${report().lifetime.firstScreenMs.p50} ms, all verified p50 ${report().lifetime.allVerifiedMs.p50} ms`,
  );
  say(
    `load before ${loadBefore.join(" ")}, after ${provenance.provenance().machine.loadAfter.join(" ")}; ${report().notes.join("; ")}`,
  );
  say(`wrote ${OUT}`);
} finally {
  await stop();
}
