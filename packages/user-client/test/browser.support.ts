/**
 * What every browser test of the dapp shares: a whole local network with the dapp served (free
 * ports), Debian's Chromium, the per-screen check (axe, no horizontal scroll, no hex, screenshots
 * at 1280 and 375 px into reports/screens/), and the secret search over a profile's storage.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import { pino } from "pino";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type System, startSystem } from "../../../scripts/system.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCREENS = path.resolve(here, "../../../reports/screens");
export const CHROMIUM = process.env.MEDREC_CHROMIUM ?? "/usr/bin/chromium";
/** Waits for the chain and for screens; generous under CI load. Not assertions on time. */
export const WAIT = { timeout: 120_000 };
/** An address or a hash shown to the patient: a name or words belong there instead. */
export const HEX = /0x[0-9a-f]{8,}/i;

/** The network (scripts/system.ts, free ports, the dapp served) and Chromium. Stop both with `stop`. */
export async function startBrowserNetwork(): Promise<{
  system: System;
  browser: Browser;
  stop(): Promise<void>;
}> {
  assert.ok(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  await mkdir(SCREENS, { recursive: true });
  const system = await startSystem({
    periodSeconds: 1,
    gatekeeperPort: 0,
    corsOrigins: [],
    dappPort: 0,
    log: () => undefined,
    logger: pino({ level: "silent" }),
  });
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--disable-dev-shm-usage"] });
    return {
      system,
      browser,
      async stop() {
        await browser.close();
        await system.stop();
      },
    };
  } catch (error) {
    await system.stop();
    throw error;
  }
}

/** What a test file's hooks set up: the network, Chromium, and the pages its profiles opened. */
export type BrowserSuite = {
  system: System;
  browser: Browser;
  /** Uncaught errors of every page opened by {@link BrowserSuite.open}. */
  problems: string[];
  /** Set when the test got to its end: no failure screenshots then. */
  passed: boolean;
  /** {@link restoreProfile} with `password`, its page watched for uncaught errors. */
  open(mnemonic: string, password: string): Promise<{ context: BrowserContext; page: Page }>;
};

/**
 * Registers the file's `before` (the network and Chromium) and `after` (a screenshot of every page
 * when the test did not pass, `reports/screens/<name>-failure-<i>.png`, then everything stopped).
 */
export function browserSuite(name: string): BrowserSuite {
  let network: Awaited<ReturnType<typeof startBrowserNetwork>> | undefined;
  const pages: Page[] = [];
  const suite = {
    problems: [] as string[],
    passed: false,
    open(mnemonic: string, password: string) {
      return restoreProfile(suite.browser, suite.system.dappUrl ?? "", mnemonic, password, (page) => {
        pages.push(page);
        page.on("pageerror", (error) => suite.problems.push(error.message));
      });
    },
  } as BrowserSuite;
  before(async () => {
    network = await startBrowserNetwork();
    suite.system = network.system;
    suite.browser = network.browser;
  });
  after(async () => {
    for (const [i, page] of (suite.passed ? [] : pages).entries())
      if (!page.isClosed())
        await page
          .screenshot({ path: path.join(SCREENS, `${name}-failure-${i}.png`), fullPage: true })
          .catch(() => undefined);
    await network?.stop();
  });
  return suite;
}

/**
 * The screen as it is: axe finds no serious or critical violation and nothing scrolls sideways, at
 * 1280 px and at 375 px, photographed at both (`reports/screens/<name>-<width>.png`); and its main
 * text shows no hex (`allowHex` for a screen that must, e.g. an advanced detail).
 */
export async function checkScreen(page: Page, name: string, { allowHex = false } = {}): Promise<void> {
  await page.locator("h1").first().waitFor(WAIT);
  for (const width of [1280, 375]) {
    await page.setViewportSize({ width, height: width === 375 ? 812 : 900 });
    const results = await new AxeBuilder({ page }).analyze();
    const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(
      bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`),
      [],
      `${name} at ${width} px has no serious or critical accessibility violation`,
    );
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(overflow, false, `${name} at ${width} px needs no horizontal scrolling`);
    await page.screenshot({ path: path.join(SCREENS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  if (!allowHex) {
    const text = (await page.locator("main").first().textContent()) ?? "";
    assert.doesNotMatch(text, HEX, `${name} shows no address or hash`);
  }
}

/**
 * A fresh browser profile with `mnemonic` restored through the dapp's screens (registered through a
 * relay when new) under `password`, on Records. `onPage` sees the page first (error listeners).
 */
export async function restoreProfile(
  browser: Pick<Browser, "newContext">,
  dappUrl: string,
  mnemonic: string,
  password: string,
  onPage: (page: Page) => void = () => undefined,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  onPage(page);
  await page.goto(dappUrl);
  await page.getByRole("link", { name: "I already have 12 recovery words" }).click();
  for (const [i, word] of mnemonic.split(" ").entries())
    await page.getByLabel(new RegExp(`^${i + 1}\\w\\w word$`)).fill(word);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("New password").fill(password);
  await page.getByLabel("Type it again").fill(password);
  await page.getByRole("button", { name: "Save and continue" }).click();
  await page.getByRole("button", { name: "Continue" }).waitFor(WAIT);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);
  return { context, page };
}

/** Unlocks a locked (or reloaded) page with `password`: the wallet lives in memory only. */
export async function unlockPage(page: Page, password: string): Promise<void> {
  await page.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Unlock" }).click();
}

/** The link named `name` in the main navigation. */
export const navLink = (page: Page, name: string) =>
  page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

/** Everything a browser profile stores — localStorage, sessionStorage, every IndexedDB store, cookies — as text. */
export async function storageDump(context: BrowserContext, page: Page): Promise<string> {
  const inPage = await page.evaluate(async () => {
    const local = JSON.stringify({ ...localStorage });
    const session = JSON.stringify({ ...sessionStorage });
    const dbs: unknown[] = [];
    for (const info of await indexedDB.databases()) {
      if (!info.name) continue;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(info.name as string);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      for (const store of Array.from(db.objectStoreNames)) {
        const values = await new Promise<unknown[]>((resolve, reject) => {
          const request = db.transaction(store).objectStore(store).getAll();
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => reject(request.error);
        });
        dbs.push({ db: info.name, store, values });
      }
      db.close();
    }
    return { local, session, indexedDB: JSON.stringify(dbs), url: location.href };
  });
  const cookies = JSON.stringify(await context.cookies());
  return JSON.stringify({ ...inPage, cookies });
}

/** Fails naming `what` when `haystack` contains any of `secrets` (case-insensitive). */
export function assertNoSecret(haystack: string, secrets: Record<string, string>, where: string): void {
  for (const [what, secret] of Object.entries(secrets))
    assert.equal(haystack.toLowerCase().includes(secret.toLowerCase()), false, `${where} holds no ${what}`);
}
