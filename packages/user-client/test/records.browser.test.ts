/**
 * Records, notifications and taking records elsewhere, in a real Chromium against a real local
 * network (scripts/system.ts: three providers' geth nodes, gatekeepers and PostgreSQL, free ports):
 * restore the demo patient → verified records from all three providers on the timeline and in each
 * category → a provider's staff uploads three lab results (the staff API, as scripts/system.ts
 * does) → "3 new records from …" in the bell and the list → a FHIR Bundle download that parses and
 * holds the records → the printable summary; then a record altered in a gatekeeper's PostgreSQL
 * behind its back is shown apart as not verified, and a stopped gatekeeper is "Could not be
 * reached" with a retry while the other two still show. axe (no serious or critical violation), no
 * horizontal scroll and screenshots at 1280 and 375 px on every screen (reports/screens/), and no
 * address or hash shown where a name exists.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type FhirBundle, OBSERVATION_CATEGORY_SYSTEM } from "@medrec/protocol";
import { resourceTitle } from "@medrec/protocol/patient";
import type { Page } from "playwright-core";
import { type System, uploadAsStaff } from "../../../scripts/system.ts";
import { plainTitle } from "../src/lib/record-words.ts";
import { checkScreen as checkScreenOf, SCREENS, startBrowserNetwork, WAIT } from "./browser.support.ts";

const PASSWORD = "steady copper meadow 19";

let system: System;
let page: Page;
let stop: (() => Promise<void>) | undefined;
const problems: string[] = [];

const checkScreen = (name: string) => checkScreenOf(page, name);
const nav = (name: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name });
const providerCard = (name: string) =>
  page.getByRole("list", { name: "Your providers" }).getByRole("listitem").filter({ hasText: name });

/** Unlocks after a reload (the wallet lives in memory only) and opens Records. */
async function unlockToRecords() {
  await page.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Unlock" }).click();
  await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);
}

/** Three lab results nobody uploaded before. */
function newLabs(): FhirBundle {
  const lab = (i: number, value: number) => ({
    resourceType: "Observation",
    id: `browser-a1c-${i}`,
    status: "final",
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
    code: { coding: [{ system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c" }] },
    effectiveDateTime: `2026-0${i + 1}-15T09:00:00Z`,
    valueQuantity: { value, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
    referenceRange: [{ low: { value: 4, unit: "%" }, high: { value: 5.6, unit: "%" } }],
  });
  return {
    resourceType: "Bundle",
    type: "collection",
    entry: [lab(0, 6.9), lab(1, 7.1), lab(2, 7.4)].map((resource) => ({ resource })),
  };
}

describe("records, notifications and export in Chromium", () => {
  before(async () => {
    const started = await startBrowserNetwork();
    system = started.system;
    stop = started.stop;
    const context = await started.browser.newContext({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    page = await context.newPage();
    page.on("pageerror", (error) => problems.push(error.message));
  });
  after(async () => {
    await stop?.();
  });

  test("behavior: the demo patient's verified records from all three providers, by date and by category; a staff upload is announced with its count and shown; export and summary hold them", async () => {
    const names = system.providers.map((p) => p.name);
    const words = String(system.manifest.demo?.patientMnemonic).split(" ");
    await page.goto(system.dappUrl ?? "");
    await page.getByRole("link", { name: "I already have 12 recovery words" }).click();
    for (const [i, word] of words.entries())
      await page.getByLabel(new RegExp(`^${i + 1}\\w\\w word$`)).fill(word);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("New password").fill(PASSWORD);
    await page.getByLabel("Type it again").fill(PASSWORD);
    await page.getByRole("button", { name: "Save and continue" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);

    // Every provider verified; each one's records on the timeline (filtered by provider).
    for (const name of names) await providerCard(name).getByText("Verified", { exact: true }).waitFor(WAIT);
    await page.getByText(/^[\d,]+ records\.$/).waitFor(WAIT);
    await checkScreen("20-records-timeline");
    const provider = page.getByLabel("Provider", { exact: true });
    for (const name of names) {
      await provider.selectOption(name);
      const rows = page.getByRole("list", { name: "Timeline" }).getByRole("listitem");
      await rows.first().waitFor(WAIT);
      assert.ok((await rows.count()) > 0, `${name}'s records are on the timeline`);
      for (const meta of await rows.locator(".record-meta").allTextContents())
        assert.ok(meta.includes(name), `filtered to ${name}: ${meta}`);
    }
    await provider.selectOption("");

    // Each category view; labs show ranges and a trend chart.
    for (const [label, screen] of [
      ["Conditions", "21-records-conditions"],
      ["Medications", "22-records-medications"],
      ["Allergies", "23-records-allergies"],
      ["Immunizations", "24-records-immunizations"],
      ["Lab results", "25-records-labs"],
      ["Vitals", "26-records-vitals"],
      ["Procedures", "27-records-procedures"],
      ["Documents", "28-records-documents"],
    ] as const) {
      await page
        .getByRole("navigation", { name: "Record categories" })
        .getByRole("link", { name: label })
        .click();
      await page.getByRole("heading", { name: label, level: 2 }).waitFor(WAIT);
      if (label === "Lab results") {
        await page.getByRole("list", { name: "Lab tests" }).waitFor(WAIT);
        await page
          .getByText(/^Normal range/)
          .first()
          .waitFor(WAIT);
      }
      await checkScreen(screen);
    }

    // Search narrows the timeline; nothing matching says so in words.
    await page
      .getByRole("navigation", { name: "Record categories" })
      .getByRole("link", { name: "Timeline" })
      .click();
    await page.getByRole("heading", { name: "All records, newest first", level: 2 }).waitFor(WAIT);
    await page.getByLabel("Search", { exact: true }).fill("zzz-no-such-record");
    await page.getByText("No records match your search. Try other words or clear the filters.").waitFor(WAIT);
    await checkScreen("29-records-search-empty");
    await page.getByRole("button", { name: "Clear search and filters" }).click();

    // The watcher is running; a provider's staff uploads three lab results through the staff API.
    await page.locator('a.bell[data-watching="true"]').waitFor(WAIT);
    const lakeside = system.providers[0];
    assert.ok(lakeside);
    await uploadAsStaff(lakeside, system.manifest.chainId, newLabs());
    await page.getByRole("link", { name: "Notifications, 1 unread" }).waitFor(WAIT);
    await page.getByRole("link", { name: "Notifications, 1 unread" }).click();
    await page
      .getByRole("list", { name: "Notifications, newest first" })
      .getByText(`3 new records from ${lakeside.name}`)
      .waitFor(WAIT);
    await checkScreen("30-notifications");
    await page.getByRole("button", { name: `Mark as read: 3 new records from ${lakeside.name}` }).click();
    await page.getByRole("link", { name: "Notifications, none unread" }).waitFor(WAIT);

    // The records view was refreshed: the new results are on the timeline.
    await nav("Records").click();
    await page.getByLabel("Search", { exact: true }).fill("Hemoglobin A1c 7.4");
    await page.getByRole("list", { name: "Timeline" }).getByText("7.4 %").first().waitFor(WAIT);

    // Take elsewhere: a FHIR Bundle of everything that parses and holds the records, new ones too.
    await nav("Take elsewhere").click();
    await page.getByRole("heading", { name: "Take your records elsewhere", level: 1 }).waitFor(WAIT);
    await page.getByText(/^The file will hold [\d,]+ records\.$/).waitFor(WAIT);
    await checkScreen("31-export");
    const expected = Number(
      ((await page.getByText(/^The file will hold/).textContent()) ?? "")
        .match(/([\d,]+) records/)?.[1]
        ?.replace(/,/g, ""),
    );
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download FHIR file" }).click(),
    ]);
    const bundle = JSON.parse(await readFile((await download.path()) ?? "", "utf8")) as FhirBundle;
    assert.equal(bundle.resourceType, "Bundle");
    assert.equal(bundle.type, "collection");
    assert.equal(bundle.entry?.length, expected);
    const ids = new Set(bundle.entry?.map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));
    for (const i of [0, 1, 2])
      assert.ok(ids.has(`Observation/browser-a1c-${i}`), "the new results are exported");
    const fromEach = new Set(
      bundle.entry?.map((e) => (e as { extension?: { valueString?: string }[] }).extension?.[0]?.valueString),
    );
    for (const name of names) assert.ok(fromEach.has(name), `the export holds ${name}'s records`);

    // A selection: only lab results.
    await page.getByLabel("Only some categories or providers").check();
    await page
      .getByRole("group", { name: /Categories/ })
      .getByLabel("Lab results")
      .check();
    await page.getByText(/^The file will hold [\d,]+ records?\.$/).waitFor(WAIT);
    await checkScreen("32-export-selection");
    const [labsDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download FHIR file" }).click(),
    ]);
    const labs = JSON.parse(await readFile((await labsDownload.path()) ?? "", "utf8")) as FhirBundle;
    assert.ok((labs.entry?.length ?? 0) > 0 && (labs.entry?.length ?? 0) < expected);
    assert.ok(
      labs.entry?.every((e) => ["Observation", "DiagnosticReport"].includes(e.resource?.resourceType ?? "")),
    );

    // The printable summary.
    await page.getByRole("link", { name: "Open the printable summary" }).click();
    await page.getByRole("heading", { name: "Health summary", level: 1 }).waitFor(WAIT);
    for (const section of ["Medications", "Allergies", "Conditions", "Immunizations", "Recent lab results"])
      await page.getByRole("heading", { name: section, level: 2 }).waitFor(WAIT);
    await page.getByRole("button", { name: "Print" }).waitFor(WAIT);
    assert.equal(await page.getByRole("button", { name: "Print" }).isEnabled(), true);
    await checkScreen("33-summary");
    await page.emulateMedia({ media: "print" });
    assert.equal(await page.locator("header.header").isVisible(), false, "the header is not printed");
    assert.equal(
      await page.getByRole("button", { name: "Print" }).isVisible(),
      false,
      "the button is not printed",
    );
    await page.screenshot({ path: path.join(SCREENS, "33-summary-print.png"), fullPage: true });
    await page.emulateMedia({ media: "screen" });
    assert.deepEqual(problems, [], "no uncaught error in the page");
  });

  test("error: a record altered in a gatekeeper's PostgreSQL is shown apart as not verified; a stopped gatekeeper is unreachable with a retry, the others still shown", async () => {
    const [, altered, stopped] = system.providers;
    assert.ok(altered && stopped);
    // A Condition's content changed in place behind the gatekeeper's back (its version bumped so its cache reloads).
    const db = altered.gatekeeper.db;
    const row = await db("record_resources").where({ resource_type: "Condition" }).orderBy("id").first();
    assert.ok(row, `${altered.name} stores a condition`);
    await db("record_resources")
      .where({ id: row.id })
      .update({ content: { ...row.content, note: [{ text: "changed behind the gatekeeper's back" }] } });
    await db("record_sets").where({ patient_id: row.patient_id }).increment("version", 1);

    await page.reload();
    await unlockToRecords();
    await providerCard(altered.name).getByText("Some records failed the check").waitFor(WAIT);
    const apart = page.getByRole("region", { name: /Not verified: 1 record/ });
    await apart.waitFor(WAIT);
    await apart.getByText(plainTitle(resourceTitle(row.content))).waitFor(WAIT);
    await apart.getByText("Not verified", { exact: true }).waitFor(WAIT);
    // Not among the trusted records.
    await page.getByLabel("Provider", { exact: true }).selectOption(altered.name);
    await page
      .getByRole("navigation", { name: "Record categories" })
      .getByRole("link", { name: "Conditions" })
      .click();
    await page.getByRole("heading", { name: "Conditions", level: 2 }).waitFor(WAIT);
    const trusted = await page
      .getByRole("list", { name: "Conditions" })
      .locator(".record")
      .count()
      .catch(() => 0);
    const stored = await db("record_resources")
      .where({ resource_type: "Condition", patient_id: row.patient_id })
      .count({ n: "*" });
    assert.equal(trusted, Number(stored[0]?.n) - 1, "the altered condition is not among the verified ones");
    await page.getByLabel("Provider", { exact: true }).selectOption("");
    await page
      .getByRole("navigation", { name: "Record categories" })
      .getByRole("link", { name: "Timeline" })
      .click();
    await checkScreen("34-records-not-verified");

    // A provider stopped: the other two still shown, that one unreachable with a retry.
    await stopped.gatekeeper.stop();
    await page.reload();
    await unlockToRecords();
    await providerCard(stopped.name).getByText("Could not be reached").waitFor(WAIT);
    for (const other of system.providers.filter((p) => p !== stopped))
      await providerCard(other.name)
        .getByText(/Verified|Some records failed the check/)
        .waitFor(WAIT);
    const retry = page.getByRole("button", { name: `Try again with ${stopped.name}` });
    await retry.waitFor(WAIT);
    await page.getByLabel("Provider", { exact: true }).selectOption(system.providers[0]?.name ?? "");
    await page.getByRole("list", { name: "Timeline" }).getByRole("listitem").first().waitFor(WAIT);
    await page.getByLabel("Provider", { exact: true }).selectOption("");
    await checkScreen("35-records-unreachable");
    await retry.click();
    await providerCard(stopped.name).getByText("Could not be reached").waitFor(WAIT);
    assert.deepEqual(problems, [], "no uncaught error in the page");
  });
});
