/**
 * Sharing, the viewer's side, the access log and custodians in a real Chromium against a real
 * local network (scripts/system.ts: three providers' geth nodes, gatekeepers and PostgreSQL, free
 * ports). The demo patient (restored from its words) shares lab results with a fresh viewer at two
 * providers in one confirmation → the viewer, in a second browser context with its own wallet,
 * sees lab results only, verified against the chain, and the refused categories explained → the
 * patient stops sharing everywhere → the viewer sees "No longer shared" → the patient's access log
 * shows the viewer's reads by the name the patient saved, every entry proof-verified against the
 * heads anchored on chain, filterable by provider and decision → a custodian is added and listed.
 * axe (no serious or critical violation), no horizontal scroll, no hex where a name exists, and
 * screenshots at 1280 and 375 px on every screen (reports/screens/). The patient's browser keeps a
 * profile on disk: afterwards no file in it (Chromium's autofill "Web Data", History, Sessions,
 * their journals and WAL files included) holds anything typed into a free-text field.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { accountFromMnemonic, generatePatientMnemonic } from "@medrec/protocol";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import type { System } from "../../../scripts/system.ts";
import {
  assertNoSecret,
  CHROMIUM,
  checkScreen,
  navLink,
  restoreProfile,
  SCREENS,
  startBrowserNetwork,
  storageDump,
  unlockPage,
  WAIT,
} from "./browser.support.ts";

const PASSWORD = "amber willow crossing 31";
// Distinctive, so that finding one in a binary file means it was stored.
const VIEWER_NAME = "Sam Rivera";
const SHARER_NAME = "Mariela Quensbury";
const CUSTODIAN_NAME = "Uncle Teodoro";
const SEARCH = "ferritin Wexbridge 7731";

let network: Awaited<ReturnType<typeof startBrowserNetwork>>;
let system: System;
let browser: Browser;
const problems: string[] = [];
const pages: Page[] = [];
let passed = false;
/** The patient's Chromium, with its profile in `profileDir` (a persistent context: files on disk). */
let profileDir: string | undefined;
let patientBrowser: BrowserContext | undefined;

/** A browser profile with `mnemonic` restored (registered through a relay when new) on Records. */
function restoredProfile(
  mnemonic: string,
  profile: Pick<Browser, "newContext"> = browser,
): Promise<{ context: BrowserContext; page: Page }> {
  return restoreProfile(profile, system.dappUrl ?? "", mnemonic, PASSWORD, (page) => {
    pages.push(page);
    page.on("pageerror", (error) => problems.push(error.message));
  });
}

const swapCase = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

/** Every file under `dir` (Chromium's SQLite databases with their -journal and -wal files, LevelDB logs, …). */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/**
 * Which of `secrets` some file under `dir` holds, as typed, URL-encoded or in lower case, in UTF-8
 * or UTF-16 (Chromium's form state) at any byte offset. Searched as bytes: decoding a buffer at an odd offset
 * as UTF-16 crashes Node 24.21 ("double free or corruption").
 */
async function secretsInProfile(dir: string, secrets: Record<string, string>): Promise<string[]> {
  const found: string[] = [];
  const files = await filesUnder(dir);
  assert.ok(
    files.some((f) => path.basename(f) === "Web Data"),
    "the profile has its autofill database",
  );
  for (const file of files) {
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) continue;
    for (const [what, secret] of Object.entries(secrets)) {
      // As typed, and as a URL carries it (`%20` or `+` for a space).
      const forms = [
        secret,
        encodeURIComponent(secret),
        new URLSearchParams({ q: secret }).toString().slice(2),
      ];
      const needles = forms
        .flatMap((s) => [s, s.toLowerCase()])
        .flatMap((s) => [Buffer.from(s, "utf8"), Buffer.from(s, "utf16le")]);
      if (needles.some((needle) => bytes.includes(needle)))
        found.push(`${what} in ${path.relative(dir, file)}`);
    }
  }
  return found;
}

const nav = navLink;

describe("sharing, shared with me, access log and custodians in Chromium", () => {
  before(async () => {
    network = await startBrowserNetwork();
    ({ system, browser } = network);
  });
  after(async () => {
    // A failure leaves a picture of each page, to see what the patient saw.
    for (const [i, page] of (passed ? [] : pages).entries())
      if (!page.isClosed())
        await page
          .screenshot({ path: path.join(SCREENS, `sharing-failure-${i}.png`), fullPage: true })
          .catch(() => undefined);
    await patientBrowser?.close().catch(() => undefined);
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await network?.stop();
  });

  test("behavior: share labs at two providers → the viewer sees labs only, verified → stop everywhere → no longer shared → the access log names the viewer, every entry verified; a custodian is added", async () => {
    const [first, second, third] = system.providers.map((p) => p.name);
    assert.ok(first && second && third);
    const viewerMnemonic = generatePatientMnemonic();
    const viewerAddress = accountFromMnemonic(viewerMnemonic).address;
    const { page: viewer } = await restoredProfile(viewerMnemonic);
    const patientMnemonic = String(system.manifest.demo?.patientMnemonic);
    profileDir = await mkdtemp(path.join(tmpdir(), "medrec-patient-profile-"));
    const onDisk = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: ["--disable-dev-shm-usage"],
      viewport: { width: 1280, height: 900 },
    });
    patientBrowser = onDisk;
    const { context: patientContext, page: patient } = await restoredProfile(patientMnemonic, {
      newContext: async () => onDisk,
    });

    // A search of the patient's records: typed, never put in the address bar.
    await patient.getByLabel("Search").fill(SEARCH);
    await patient
      .getByRole("status")
      .filter({ hasText: / match\.$/ })
      .waitFor(WAIT);
    assert.ok(!decodeURIComponent(patient.url()).includes(SEARCH), "the search is not in the URL");

    // The viewer, before anything is shared.
    await nav(viewer, "Shared with me").click();
    await viewer.getByText("Nobody has shared records with you yet.").waitFor(WAIT);
    await checkScreen(viewer, "sharing-01-shared-with-me-empty");

    // The patient shares lab results with the viewer at two of the three providers.
    await nav(patient, "Sharing").click();
    await patient.getByRole("heading", { name: "Share records" }).waitFor(WAIT);
    await patient.getByRole("button", { name: "Review and share" }).click();
    await patient.getByText("Choose who to share with").first().waitFor(WAIT);
    await checkScreen(patient, "sharing-02-form-errors");
    await patient.getByLabel("Their MedRec ID").fill(viewerAddress.slice(0, -1));
    await patient.getByText("this one has 39").waitFor(WAIT);
    const letter = viewerAddress.slice(2).search(/[a-fA-F]/) + 2;
    const flipped =
      viewerAddress.slice(0, letter) +
      swapCase(viewerAddress[letter] ?? "") +
      viewerAddress.slice(letter + 1);
    await patient.getByLabel("Their MedRec ID").fill(flipped);
    await patient.getByText("This ID has a typo").waitFor(WAIT);
    await patient.getByLabel("Their MedRec ID").fill(viewerAddress);
    await patient.getByText("A valid MedRec ID.").waitFor(WAIT);
    await patient.getByLabel("Their name (optional)").fill(VIEWER_NAME);
    await patient.getByRole("checkbox", { name: third }).uncheck();
    await patient.getByRole("checkbox", { name: /^Lab results/ }).check();
    await patient.getByLabel("Your name, as they will see it (optional)").fill(SHARER_NAME);
    await checkScreen(patient, "sharing-03-form-filled");
    await patient.getByRole("button", { name: "Review and share" }).click();
    const dialog = patient.getByRole("dialog");
    await dialog.getByText("will be able to read your Lab results from").waitFor(WAIT);
    const summary = (await dialog.textContent()) ?? "";
    assert.ok(summary.includes(first) && summary.includes(second) && !summary.includes(third), summary);
    await checkScreen(patient, "sharing-04-confirm");
    await dialog.getByRole("button", { name: "Share", exact: true }).click();
    await dialog.getByRole("heading", { name: "Shared" }).waitFor(WAIT);
    for (const name of [first, second])
      await dialog
        .getByRole("listitem")
        .filter({ hasText: `${name}: shared` })
        .waitFor(WAIT);
    await checkScreen(patient, "sharing-05-shared");
    await dialog.getByRole("button", { name: "Done" }).click();
    const card = patient.locator(".grant-card").filter({ hasText: VIEWER_NAME });
    await card.getByText(`${first}: Lab results`).waitFor(WAIT);
    await card.getByText(`${second}: Lab results`).waitFor(WAIT);
    assert.equal(await card.getByText(third).count(), 0, "nothing shared at the third provider");
    await checkScreen(patient, "sharing-06-grants");

    // The viewer sees lab results only, from the two providers, each record verified against the chain.
    await viewer.reload();
    await unlockPage(viewer, PASSWORD);
    await nav(viewer, "Shared with me").click();
    for (const name of [first, second]) {
      const grant = viewer.getByRole("article", { name: `${SHARER_NAME} — ${name}` });
      await grant.getByText("Shared with you: Lab results.").waitFor(WAIT);
      await grant.getByText(/^✓ \d+ records?, each checked against the network\.$/).waitFor(WAIT);
      await grant.getByText(/Not shared with you: Personal details, Visits, Conditions/).waitFor(WAIT);
      const kinds = await grant.locator(".shared-records li .muted").allTextContents();
      assert.ok(kinds.length > 0, `${name}: the viewer sees lab results`);
      for (const kind of kinds) assert.match(kind, /^Lab results/, `${name}: only lab results (${kind})`);
    }
    assert.equal(await viewer.getByRole("article", { name: `${SHARER_NAME} — ${third}` }).count(), 0);
    await checkScreen(viewer, "sharing-07-shared-with-me");

    // The patient stops sharing everywhere, after a confirmation.
    await card.getByRole("button", { name: "Stop sharing everywhere" }).click();
    const stop = patient.getByRole("dialog");
    await stop.getByText("You can share again at any time").waitFor(WAIT);
    await checkScreen(patient, "sharing-08-stop-confirm");
    await stop.getByRole("button", { name: "Stop sharing" }).click();
    await stop.getByRole("heading", { name: `Stopped sharing with ${VIEWER_NAME}` }).waitFor(WAIT);
    await stop.getByRole("button", { name: "Done" }).click();
    await patient
      .locator(".grant-card")
      .filter({ hasText: VIEWER_NAME })
      .waitFor({ state: "detached", ...WAIT });

    // The viewer: no longer shared, at both providers.
    await viewer.getByRole("button", { name: "Refresh" }).click();
    for (const name of [first, second])
      await viewer
        .getByRole("article", { name: `${SHARER_NAME} — ${name}` })
        .getByText("No longer shared.")
        .waitFor(WAIT);
    await checkScreen(viewer, "sharing-09-shared-with-me-ended");

    // The access log: the viewer's reads under the saved name; every entry verified once anchored.
    await nav(patient, "Access log").click();
    await patient.getByRole("heading", { name: "Entries" }).waitFor(WAIT);
    const entries = patient.locator(".log-entry");
    await entries
      .filter({ hasText: `${VIEWER_NAME} read records` })
      .first()
      .waitFor(WAIT);
    // The gatekeepers anchor a head at least once a minute: check again until the viewer's reads are
    // in an anchored head. Reading the log is itself logged, so the patient's own latest "read the
    // access log" entries may still wait for the next head; nothing else may.
    const viewerEntries = entries.filter({ hasText: VIEWER_NAME });
    while ((await viewerEntries.filter({ hasText: "Check pending" }).count()) > 0) {
      await patient.waitForTimeout(5_000);
      await patient.getByRole("button", { name: "Check again" }).click();
      await patient.getByRole("button", { name: "Check again", disabled: false }).waitFor(WAIT);
    }
    assert.equal(await patient.getByText("⚠ Proof broken").count(), 0, "no broken proof");
    const total = await entries.count();
    const verified = await entries.filter({ hasText: "✓ Verified" }).count();
    const pending = await entries.filter({ hasText: "Check pending" }).allTextContents();
    for (const text of pending)
      assert.match(text, /^You read the access log/, "only the patient's own latest reading waits");
    assert.equal(verified + pending.length, total);
    assert.equal(
      await viewerEntries.filter({ hasText: "✓ Verified" }).count(),
      await viewerEntries.count(),
      "every read by the viewer is verified against a head anchored on chain",
    );
    for (const name of [first, second])
      assert.ok(
        (await entries.filter({ hasText: VIEWER_NAME }).filter({ hasText: name }).count()) > 0,
        `the viewer's reads at ${name} are in the log`,
      );
    await checkScreen(patient, "sharing-10-access-log");
    await patient.getByLabel("Provider").selectOption(first);
    await patient.getByLabel("Decision").selectOption("allowed");
    const filtered = await entries.allTextContents();
    assert.ok(filtered.length > 0 && filtered.length < total);
    for (const text of filtered) {
      assert.match(text, new RegExp(first));
      assert.match(text, /Allowed/);
    }
    await checkScreen(patient, "sharing-11-access-log-filtered");

    // A custodian, added by address and listed by the name the patient gave.
    const custodian = accountFromMnemonic(generatePatientMnemonic()).address;
    await nav(patient, "Custodians").click();
    await patient.getByText("You have no custodians.").waitFor(WAIT);
    await checkScreen(patient, "sharing-12-custodians-empty");
    const add = patient
      .locator(".card")
      .filter({ has: patient.getByRole("heading", { name: "Add a custodian" }) });
    await add.getByLabel(/their MedRec ID$/i).fill(custodian);
    await add.getByLabel("Their name (optional)").fill(CUSTODIAN_NAME);
    await add.getByRole("button", { name: "Add custodian" }).click();
    await patient.getByText("Added. They are now listed above.").waitFor(WAIT);
    await patient.locator(".custodian-list").getByText(CUSTODIAN_NAME, { exact: true }).waitFor(WAIT);
    await checkScreen(patient, "sharing-13-custodians");

    // The names the patient gave are stored encrypted: not in clear anywhere in the profile.
    assertNoSecret(
      await storageDump(patientContext, patient),
      {
        "viewer's name": VIEWER_NAME,
        "custodian's name": `"${CUSTODIAN_NAME}"`,
        "recovery phrase": patientMnemonic,
      },
      "the patient's storage",
    );

    // Nothing typed into a free-text field is in any file of the patient's profile once Chromium has
    // closed it (so SQLite and LevelDB have written everything): not in the autofill database, not
    // in the saved session's form state, not in History.
    await onDisk.close();
    const typed = {
      "viewer's name": VIEWER_NAME,
      "sharer's name": SHARER_NAME,
      "custodian's name": CUSTODIAN_NAME,
      "records search": SEARCH,
      password: PASSWORD,
      "recovery phrase": patientMnemonic,
    };
    assert.deepEqual(await secretsInProfile(profileDir, typed), [], "typed text in the profile's files");
    // The search does find what Chromium does keep: the dapp's address, in History.
    const visited = await secretsInProfile(profileDir, {
      "dapp's address": new URL(system.dappUrl ?? "").host,
    });
    assert.ok(visited.includes("dapp's address in Default/History"), visited.join("; "));
    assert.deepEqual(problems, [], "no uncaught error in the pages");
    passed = true;
  });
});
