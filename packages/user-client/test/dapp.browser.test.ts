/**
 * The patient dapp in a real Chromium against a real local network (three providers' geth nodes,
 * gatekeepers and PostgreSQL, started by scripts/system.ts with free ports): create a wallet, the
 * backup check, a password, registration on chain (read back from the chain), lock, unlock, then
 * restore the demo patient in a fresh browser profile. Every screen is checked with axe (no
 * serious or critical violation) and photographed at 1280 px and 375 px into reports/screens/.
 * Finally every storage the browser has — localStorage, sessionStorage, IndexedDB, cookies — and
 * every console message is searched for the words, the password and the private keys.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { accountFromMnemonic, agentAbi } from "@medrec/protocol";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { createPublicClient, http, toHex } from "viem";
import type { System } from "../../../scripts/system.ts";
import {
  assertNoSecret,
  checkScreen,
  SCREENS,
  startBrowserNetwork,
  storageDump,
  WAIT,
} from "./browser.support.ts";

const PASSWORD = "quiet maple lantern river 7";
const RESTORE_PASSWORD = "another calm harbour 42";

let system: System;
let browser: Browser;
let stop: (() => Promise<void>) | undefined;
const consoleLines: string[] = [];
const screensSeen: string[] = [];
const openPages: Page[] = [];

function watchConsole(page: Page) {
  page.on("console", (message) => consoleLines.push(message.text()));
  page.on("pageerror", (error) => consoleLines.push(`pageerror: ${error.message}`));
}

async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watchConsole(page);
  openPages.push(page);
  return { context, page };
}

async function screen(page: Page, name: string) {
  await checkScreen(page, name);
  screensSeen.push(name);
}

describe("patient dapp in Chromium", () => {
  before(async () => {
    ({ system, browser, stop } = await startBrowserNetwork());
  });
  after(async () => {
    // A failure leaves its page open: photograph it for the report.
    for (const [i, page] of openPages.entries())
      if (!page.isClosed())
        await page
          .screenshot({ path: path.join(SCREENS, `failure-${i}.png`), fullPage: true })
          .catch(() => undefined);
    await stop?.();
  });

  test("behavior: the served configuration is the manifest's public part; the demo's secrets are not in it", async () => {
    assert.ok(system.dappUrl);
    assert.equal(system.manifest.demo?.dappUrl, system.dappUrl);
    const config = await (await fetch(`${system.dappUrl}/config.json`)).text();
    const demo = system.manifest.demo as Record<string, unknown>;
    assert.ok(!config.includes(String(demo.patientMnemonic)));
    assert.ok(!config.includes(String(demo.viewerMnemonic)));
    for (const staff of demo.staff as { privateKey: string; operatorKey: string }[]) {
      assert.ok(!config.includes(staff.privateKey.slice(2)));
      assert.ok(!config.includes(staff.operatorKey));
    }
    assert.ok(!config.includes('"demo"'));
    // The first load's JavaScript (the entry and what index.html preloads) stays within 300 KB gzip.
    const html = await (await fetch(`${system.dappUrl}/`)).text();
    const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1] ?? "");
    assert.ok(scripts.length > 0, "index.html loads an entry script");
    let gzipped = 0;
    for (const script of scripts)
      gzipped += gzipSync(
        Buffer.from(await (await fetch(`${system.dappUrl}${script}`)).arrayBuffer()),
      ).length;
    assert.ok(
      gzipped <= 300 * 1024,
      `initial JavaScript is ${Math.round(gzipped / 1024)} KB gzip (budget 300 KB)`,
    );
    const response = await fetch(`${system.dappUrl}/records`);
    assert.match(response.headers.get("content-security-policy") ?? "", /connect-src 'self' /);
  });

  test("behavior: create → backup check → password → registered on chain → lock → unlock; restore the demo patient in a fresh profile; nothing secret in storage or the console", async () => {
    const manifest = system.manifest;
    const dappUrl = system.dappUrl ?? "";
    const { context, page } = await newContext();

    await page.goto(dappUrl);
    await page.getByRole("heading", { name: "Your health records, in your hands" }).waitFor(WAIT);
    await screen(page, "01-welcome");

    await page.getByRole("link", { name: "Create a new wallet" }).click();
    await page.getByRole("heading", { name: "Your 12 recovery words" }).waitFor(WAIT);
    const words = await page.locator(".words .word").allTextContents();
    assert.equal(words.length, 12);
    const mnemonic = words.join(" ");
    const account = accountFromMnemonic(mnemonic);
    await screen(page, "02-create-words");
    await page.getByLabel("I wrote down all 12 words in order").check();
    await page.getByRole("button", { name: "Continue" }).click();

    await page.getByRole("heading", { name: "Check your backup" }).waitFor(WAIT);
    const labels = await page.locator("form .field label").allTextContents();
    assert.equal(labels.length, 3);
    // A wrong word first: the error says which, in words.
    const firstLabel = labels[0] ?? "";
    await page.getByLabel(firstLabel).fill("zebra");
    await page.getByRole("button", { name: "Check my words" }).click();
    await page
      .getByText(`This is not your ${firstLabel.replace(/ word$/, "")} word. Check your paper.`)
      .waitFor(WAIT);
    await screen(page, "03-backup-check-error");
    for (const label of labels) {
      const position = Number(label.match(/^(\d+)/)?.[1]);
      await page.getByLabel(label).fill(words[position - 1] ?? "");
    }
    await page.getByRole("button", { name: "Check my words" }).click();

    await page.getByRole("heading", { name: "Choose a password" }).waitFor(WAIT);
    await page.getByLabel("New password").fill(PASSWORD);
    await page.getByLabel("Type it again").fill(PASSWORD);
    await screen(page, "04-password");
    await page.getByRole("button", { name: "Save and continue" }).click();

    await page.getByText("Your wallet is now on the MedRec network.").waitFor(WAIT);
    await screen(page, "05-registered");
    const client = createPublicClient({ transport: http(manifest.rpcUrl) });
    const exists = await client.readContract({
      address: manifest.contracts.Agent as `0x${string}`,
      abi: agentAbi,
      functionName: "exists",
      args: [account.address],
    });
    assert.equal(exists, true, "the new patient's agent is on chain");
    const sent = await client.getTransactionCount({ address: account.address });
    assert.equal(sent, 0, "the patient sent no transaction: registration was relayed");

    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("heading", { name: "Account", level: 1 }).waitFor(WAIT);
    await page.getByText("Your wallet is registered.").waitFor(WAIT);
    await screen(page, "06-account");
    for (const [nav, heading, name] of [
      ["Records", "Records", "07-records-new-patient"],
      ["Sharing", "Sharing", "08-sharing"],
      ["Access log", "Access log", "09-access-log"],
    ] as const) {
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: nav }).click();
      await page.getByRole("heading", { name: heading, exact: true }).waitFor(WAIT);
      await screen(page, name);
    }

    // Lock, a wrong password, then the right one.
    await page.getByRole("button", { name: "Lock" }).click();
    await page.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
    await page.getByLabel("Password").fill("not my password");
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.getByText("That password does not open this wallet.").waitFor(WAIT);
    await screen(page, "10-unlock-wrong-password");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Unlock" }).click();
    await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);

    // The backup reminder is absent (the check passed); the stored vault has ≥ 600,000 iterations.
    const stored = await storageDump(context, page);
    const iterations = Number(stored.match(/\\"iterations\\":(\d+)/)?.[1]);
    assert.ok(iterations >= 600_000, `stored PBKDF2 iterations ${iterations} ≥ 600,000`);
    const privateKey = toHex(account.getHdKey().privateKey ?? new Uint8Array());
    assertNoSecret(
      stored,
      { "recovery phrase": mnemonic, password: PASSWORD, "private key": privateKey.slice(2) },
      "storage",
    );
    await context.close();

    // A fresh profile: restore the demo patient, with a misspelt word first.
    const fresh = await newContext();
    const demoMnemonic = String(manifest.demo?.patientMnemonic);
    const demoWords = demoMnemonic.split(" ");
    await fresh.page.goto(dappUrl);
    await fresh.page.getByRole("link", { name: "I already have 12 recovery words" }).click();
    await fresh.page.getByRole("heading", { name: "Restore your wallet" }).waitFor(WAIT);
    const misspelt = `${demoWords[0]?.slice(0, -1)}q`;
    await fresh.page.getByLabel("1st word").fill(misspelt);
    for (const [i, word] of demoWords.entries())
      if (i > 0) await fresh.page.getByLabel(new RegExp(`^${i + 1}\\w\\w word$`)).fill(word);
    await fresh.page.getByRole("button", { name: "Continue" }).click();
    await fresh.page.getByText(/Not a recovery word\./).waitFor(WAIT);
    await screen(fresh.page, "11-restore-wrong-word");
    await fresh.page.getByLabel("1st word").fill(demoWords[0] ?? "");
    await fresh.page.getByRole("button", { name: "Continue" }).click();
    await fresh.page.getByRole("heading", { name: "Choose a password" }).waitFor(WAIT);
    await fresh.page.getByLabel("New password").fill(RESTORE_PASSWORD);
    await fresh.page.getByLabel("Type it again").fill(RESTORE_PASSWORD);
    await fresh.page.getByRole("button", { name: "Save and continue" }).click();
    await fresh.page.getByText("Welcome back. Your wallet is already on the MedRec network.").waitFor(WAIT);
    await fresh.page.getByRole("button", { name: "Continue" }).click();
    await fresh.page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);
    await fresh.page.getByText(/3 providers have linked your records to your wallet/).waitFor(WAIT);
    await screen(fresh.page, "12-records-demo-patient");
    await fresh.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Account" }).click();
    await fresh.page.getByRole("heading", { name: "Account", level: 1 }).waitFor(WAIT);
    await screen(fresh.page, "13-account-demo-patient");

    const demoAccount = accountFromMnemonic(demoMnemonic);
    const demoKey = toHex(demoAccount.getHdKey().privateKey ?? new Uint8Array());
    const freshStored = await storageDump(fresh.context, fresh.page);
    assertNoSecret(
      freshStored,
      { "recovery phrase": demoMnemonic, password: RESTORE_PASSWORD, "private key": demoKey.slice(2) },
      "the restored profile's storage",
    );
    assertNoSecret(
      consoleLines.join("\n"),
      {
        "recovery phrase": mnemonic,
        "demo recovery phrase": demoMnemonic,
        password: PASSWORD,
        "restore password": RESTORE_PASSWORD,
        "private key": privateKey.slice(2),
        "demo private key": demoKey.slice(2),
      },
      "the console",
    );
    for (const url of [fresh.page.url()])
      assert.ok(!url.includes(demoWords[1] ?? "@@"), "no word in the URL");

    // Last, the chain goes away: every provider's RPC node stops, and the dapp says so in words.
    await Promise.all(system.network.nodes.map((node) => node.rpc.stop()));
    await fresh.page.getByText("The MedRec network is not answering.").waitFor(WAIT);
    await screen(fresh.page, "14-chain-unreachable");
    await fresh.context.close();
    assert.ok(screensSeen.length >= 14);
  });
});
