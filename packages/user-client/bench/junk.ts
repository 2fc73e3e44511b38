#!/usr/bin/env node
/**
 * `bench:junk` — what strangers' relationships cost the patient's unlock (issue 19 item 3,
 * adr/0015). A whole local network (scripts/system.ts) and the dapp in headless Chromium; the demo
 * patient's unlock → complete verified timeline (three providers "Verified", the final count) is
 * timed in the page's own clock, before and after `--count` strangers' relationships are put on its
 * agent. They are the worst case: each names Riverside General with its URL and is signed by the
 * stranger's own key, so it passes every cheap check and costs a signature check. Measured after:
 * the first unlock on this device (no verdict kept yet) and later ones (verdicts kept, encrypted, in
 * IndexedDB); and in Node, the parts: reading the list and events, opening the sealed boxes,
 * checking the signatures. Written to reports/junk-relationships.json with commit and machine.
 * Nothing here asserts a time.
 *
 *   node packages/user-client/bench/junk.ts [--count 10000] [--runs 5]
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseManifest, providerDetailsSigner } from "@medrec/protocol";
import {
  discoverAllRelationships,
  type KnownStrangers,
  openProviderDetails,
  openProviderDetailsAsync,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  readRelationshipsOnChain,
} from "@medrec/protocol/patient";
import { startReport, summarize } from "@medrec/testkit";
import type { Page } from "playwright-core";
import { createJunkRelationships } from "../../../scripts/junk.ts";
import { restoreProfile, startBrowserNetwork } from "../test/browser.support.ts";

const { values } = parseArgs({
  options: { count: { type: "string", default: "10000" }, runs: { type: "string", default: "5" } },
});
const COUNT = Number(values.count);
const RUNS = Number(values.runs);
const PASSWORD = "bench junk password 77";
const WAIT = { timeout: 600_000 };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const report = startReport(
  `./medrec run bench:junk${values.count === "10000" ? "" : ` --count ${COUNT}`}`,
  root,
);

/** Reloads, unlocks, and returns ms from the Unlock click to the complete verified timeline (page clock). */
async function unlockToVerified(page: Page, providers: number): Promise<number> {
  await page.reload();
  await page.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.evaluate((expected) => {
    const w = window as unknown as { __t0?: number; __done?: number };
    w.__t0 = 0;
    w.__done = 0;
    addEventListener("click", (e) => (w.__t0 ||= e.timeStamp), { capture: true });
    const tick = () => {
      const count = document.querySelector(".result-count")?.textContent?.trim() ?? "";
      if (
        w.__t0 &&
        document.querySelectorAll(".provider-status-item.tone-ok").length === expected &&
        /^[\d,]+ records?\.$/.test(count)
      ) {
        w.__done = performance.now();
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }, providers);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.waitForFunction(() => (window as unknown as { __done?: number }).__done, null, {
    ...WAIT,
    polling: 100,
  });
  return page.evaluate(() => {
    const w = window as unknown as { __t0: number; __done: number };
    return Math.round(w.__done - w.__t0);
  });
}

const { system, browser, stop } = await startBrowserNetwork();
try {
  const mnemonic = String(system.manifest.demo?.patientMnemonic);
  const network = patientNetworkFromManifest(parseManifest(system.manifest));
  const ctx = await patientContextFromMnemonic({ network, mnemonic });
  const providers = system.providers.length;
  const riverside = network.providers.find((p) => p.name === "Riverside General") ?? network.providers[0];
  if (!riverside) throw new Error("no provider");

  const { page } = await restoreProfile(browser, system.dappUrl ?? "", mnemonic, PASSWORD);

  const before: number[] = [];
  for (let i = 0; i < RUNS; i++) before.push(await unlockToVerified(page, providers));
  console.log("unlock before (ms)", before);

  const madeAt = Date.now();
  await createJunkRelationships({
    system,
    patient: ctx.agent,
    patientEncryptionKey: ctx.encryptionKey.publicKey,
    junk: Array.from({ length: COUNT }, () => ({
      kind: "forged" as const,
      provider: { name: riverside.name, gatekeeperUrl: riverside.gatekeeperUrl, account: riverside.account },
    })),
    onProgress: (n) => n % 1000 === 0 && console.log(`${n} strangers' relationships on chain`),
  });
  const setupSeconds = Math.round((Date.now() - madeAt) / 100) / 10;

  // The parts, in Node (the same protocol code the dapp runs).
  let t = performance.now();
  const onChain = await readRelationshipsOnChain(ctx);
  const readMs = performance.now() - t;
  t = performance.now();
  const opened = onChain.created.map((e) => openProviderDetails(ctx, e.args.providerDetails));
  const openSyncMs = performance.now() - t;
  t = performance.now();
  await Promise.all(onChain.created.map((e) => openProviderDetailsAsync(ctx, e.args.providerDetails)));
  const openAsyncMs = performance.now() - t;
  const sample = onChain.listed.slice(0, 1000);
  t = performance.now();
  for (const entry of sample) {
    const details = opened[onChain.created.findIndex((e) => e.args.id === entry.id)];
    if (details)
      await providerDetailsSigner(details, {
        chainId: network.chainId,
        relationshipContract: network.contracts.Relationship,
        relationship: entry.id,
        patient: ctx.agent,
        delegate: entry.delegate,
      });
  }
  const signatureMsEach = (performance.now() - t) / sample.length;
  // What an unlock on this device reads and checks: first with nothing kept, then with what the
  // first kept (signature verdicts; strangers' relationships, whose details are not read again; the
  // list as read, so that only its new pages are read).
  const verdicts = new Map();
  const known: KnownStrangers = { fingerprint: undefined, ids: new Map() };
  t = performance.now();
  const all = await discoverAllRelationships(ctx, undefined, verdicts, { known });
  const nodeCold = performance.now() - t;
  t = performance.now();
  // The list too: only what came after what the first read kept (adr/0015).
  await discoverAllRelationships(ctx, readRelationshipsOnChain(ctx, { eventsUpTo: 200, known }), verdicts, {
    known,
  });
  const nodeWarm = performance.now() - t;
  const registered = all.filter((r) => r.status === "ok").length;

  const firstAfter = await unlockToVerified(page, providers);
  console.log("first unlock after (ms)", firstAfter);
  // The rest are checked in the background (and kept): the later unlocks come after that.
  const checkedAt = Date.now();
  await page.getByText(/being checked/).waitFor({ state: "hidden", ...WAIT });
  await page
    .getByText(/^Claims to be Riverside General, but Riverside General did not sign it/)
    .waitFor(WAIT);
  const backgroundSeconds = Math.round((Date.now() - checkedAt) / 100) / 10;
  const after: number[] = [];
  for (let i = 0; i < RUNS; i++) after.push(await unlockToVerified(page, providers));
  console.log("unlock after (ms)", after);

  const b = summarize(before, 0);
  const a = summarize(after, 0);
  const written = report.write(path.join(root, "reports", "junk-relationships.json"), {
    runs: { before: before.length, firstAfter: 1, after: after.length },
    strangers: COUNT,
    kind: "each names Riverside General with its URL, signed by the stranger's own key (passes every cheap check)",
    relationshipsOnAgent: onChain.listed.length,
    registeredFound: registered,
    setupSeconds,
    unlockToVerifiedMs: { before: b, firstAfter, after: a },
    /** After the first unlock: until every stranger's relationship was checked, in the background. */
    backgroundChecksSeconds: backgroundSeconds,
    addedMs: { firstUnlock: firstAfter - b.p50, laterUnlocks: a.p50 - b.p50 },
    node: {
      readListAndEventsMs: Math.round(readMs),
      openBoxesMs: { noble: Math.round(openSyncMs), webCrypto: Math.round(openAsyncMs) },
      signatureCheckMsEach: Math.round(signatureMsEach * 1000) / 1000,
      discoverColdMs: Math.round(nodeCold),
      discoverWithWhatWasKeptMs: Math.round(nodeWarm),
    },
  });
  console.log(JSON.stringify(written, null, 2));
} finally {
  await stop();
}
