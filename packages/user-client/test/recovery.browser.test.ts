/**
 * Custodians and recovery end to end, in a real Chromium against a real local network
 * (scripts/system.ts: three providers' geth nodes, gatekeepers and PostgreSQL, free ports). The
 * demo patient (restored from its words) adds two custodians by name and asks both to agree → both
 * approve a new wallet (each with its own key, from Node: other people) → the dapp shows the
 * pending recovery plainly (who asked, for which wallet, the waiting period in words, when it can be
 * completed, Cancel; on every other screen an alert with a link there) → the patient cancels → shown as cancelled, nothing pending on chain → a
 * second recovery is approved; completing it before its delay is refused by the contract → the
 * agent is handed to that wallet → the old wallet's dapp says so in one page (no error), also
 * after a reload → the new wallet's words open the agent in a fresh profile: its custodians, and
 * its records from the three providers, verified (the providers named by their gatekeepers: their
 * sealed details are for the lost wallet's key).
 *
 * The contract's waiting period is a constant 2 days (`Agent.RECOVERY_DELAY`) and a Clique chain
 * keeps real time, so the second recovery cannot be completed inside a test: the handover is made
 * by the owner's `transferOwnership`, which leaves the chain as `executeRecovery` would (the agent
 * owned by the new wallet, the old one owning nothing, `OwnershipTransferred`).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { accountFromMnemonic, generatePatientMnemonic, parseManifest } from "@medrec/protocol";
import {
  approveRecovery,
  executeRecovery,
  type PatientContext,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  readAccountStanding,
  readRecoveryState,
  transferOwnership,
} from "@medrec/protocol/patient";
import { eventually } from "@medrec/testkit";
import { browserSuite, checkScreen, navLink, unlockPage, WAIT } from "./browser.support.ts";

const PASSWORD = "quiet orchard ledger 58";
const CUSTODIANS = ["Dad", "Aunt Rosa"] as const;

describe("custodians and recovery in Chromium", () => {
  const suite = browserSuite("recovery");

  test("behavior: two custodians approve a new wallet → shown plainly → cancelled → a second one, refused before its delay → handed over: the old wallet says so, the new words open the agent", async () => {
    const { system } = suite;
    const open = (mnemonic: string) => suite.open(mnemonic, PASSWORD);
    const patientMnemonic = String(system.manifest.demo?.patientMnemonic);
    const { page } = await open(patientMnemonic);
    const net = patientNetworkFromManifest(parseManifest(system.manifest));
    const ctx = await patientContextFromMnemonic({ network: net, mnemonic: patientMnemonic });
    const custodians = CUSTODIANS.map(() => accountFromMnemonic(generatePatientMnemonic()));
    const as = (i: number): PatientContext => ({ ...ctx, account: custodians[i] ?? ctx.account });

    // Two custodians, added by ID with a name each; both must agree.
    await navLink(page, "Custodians").click();
    await page.getByText("You have no custodians.").waitFor(WAIT);
    const add = page.locator(".card").filter({ has: page.getByRole("heading", { name: "Add a custodian" }) });
    for (const [i, name] of CUSTODIANS.entries()) {
      await add.getByLabel(/their MedRec ID$/i).fill(custodians[i]?.address ?? "");
      await add.getByLabel("Their name (optional)").fill(name);
      await add.getByRole("button", { name: "Add custodian" }).click();
      await page.locator(".custodian-list").getByText(name, { exact: true }).waitFor(WAIT);
    }
    await page.getByLabel("Custodians who must agree").selectOption("2");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page
      .getByText("Recovery is on: 2 of your 2 custodians must agree on the same new wallet.")
      .waitFor(WAIT);
    await page.getByText(/MedRec waits 2 days before the move can be completed/).waitFor(WAIT);
    await checkScreen(page, "recovery-01-custodians");

    // Both custodians approve the same new wallet (which the patient does not know).
    const first = accountFromMnemonic(generatePatientMnemonic()).address;
    for (const i of [0, 1]) await approveRecovery(as(i), ctx.agent, first);
    const pending = page
      .getByRole("alert")
      .filter({ hasText: "asked to move your records to another wallet" });
    await pending.waitFor(WAIT);
    const said = (await pending.textContent()) ?? "";
    assert.match(
      said,
      /Dad and Aunt Rosa asked to move your records to another wallet \(ID 0x[0-9a-fA-F]{4}…/,
    );
    assert.match(said, /MedRec waits 2 days before such a move/);
    assert.match(said, /it can be completed from \d+ \w+ \d{4}, \d\d:\d\d \(in \d+ hours\)/);
    await checkScreen(page, "recovery-02-pending");

    // On every other screen too: one sentence and a way to the Custodians page.
    await navLink(page, "Records").click();
    await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);
    await pending.getByRole("link", { name: "See and cancel" }).waitFor(WAIT);
    assert.match((await pending.textContent()) ?? "", /^Dad and Aunt Rosa asked to move your records/);
    await checkScreen(page, "recovery-02-pending-elsewhere");
    await pending.getByRole("link", { name: "See and cancel" }).click();
    await page.getByRole("heading", { name: "Custodians", level: 1 }).waitFor(WAIT);
    await pending.getByRole("button", { name: "Cancel this recovery" }).waitFor(WAIT);
    assert.equal(await pending.count(), 1, "shown once on the Custodians page");

    // The patient cancels: said so, and nothing is pending on chain any more.
    await pending.getByRole("button", { name: "Cancel this recovery" }).click();
    await page.getByText("Recovery cancelled.").waitFor(WAIT);
    await page.getByText("The approvals your custodians gave no longer count").waitFor(WAIT);
    assert.equal(await pending.count(), 0, "the pending recovery is gone");
    assert.equal((await readRecoveryState(ctx)).pending, undefined);
    await checkScreen(page, "recovery-03-cancelled");

    // A second recovery: approved by both, then completing it early is refused by the contract.
    const heirMnemonic = generatePatientMnemonic();
    const heir = accountFromMnemonic(heirMnemonic).address;
    for (const i of [0, 1]) await approveRecovery(as(i), ctx.agent, heir);
    await pending.waitFor(WAIT);
    await assert.rejects(executeRecovery(as(0), ctx.agent), "not before the waiting period");
    assert.equal((await readRecoveryState(ctx)).pending?.newOwner, heir, "still only scheduled");

    // Handed over (see the header for why by transfer): the old wallet's open dapp says so.
    await transferOwnership(ctx, heir);
    await page
      .getByRole("heading", { name: "This wallet no longer opens your records", level: 1 })
      .waitFor(WAIT);
    await page
      .getByText(/your records were handed over to another wallet: the wallet with ID 0x/)
      .waitFor(WAIT);
    await page.getByRole("link", { name: "Open with the new wallet's words" }).waitFor(WAIT);
    await checkScreen(page, "recovery-04-handed-over");
    assert.equal((await readAccountStanding({ ...ctx, account: ctx.account.address })).status, "handed-over");

    // Also after a reload and an unlock: the same page, on any screen, and no error.
    await page.reload();
    await unlockPage(page, PASSWORD);
    await page
      .getByRole("heading", { name: "This wallet no longer opens your records", level: 1 })
      .waitFor(WAIT);
    await navLink(page, "Sharing").click();
    await page
      .getByRole("heading", { name: "This wallet no longer opens your records", level: 1 })
      .waitFor(WAIT);

    // The new wallet's words: the agent is found as it is (not registered again), with its custodians.
    const { page: heirPage } = await open(heirMnemonic);
    const standing = await eventually("the new wallet owns the agent", async () => {
      const s = await readAccountStanding({ ...ctx, account: heir });
      return s.status === "owner" ? s : undefined;
    });
    assert.equal(standing.agent, ctx.agent);
    await navLink(heirPage, "Custodians").click();
    await heirPage
      .getByText("Recovery is on: 2 of your 2 custodians must agree on the same new wallet.")
      .waitFor(WAIT);
    assert.equal(await heirPage.locator(".custodian-list li").count(), 2, "the custodians came along");
    await checkScreen(heirPage, "recovery-05-new-owner-custodians");
    // Its records from every provider, verified: the providers' details were sealed to the lost
    // wallet's key, so each provider is named by its own gatekeeper (identifyUnreadable).
    await navLink(heirPage, "Records").click();
    const providers = heirPage.getByRole("list", { name: "Your providers" }).getByRole("listitem");
    for (const { name } of system.providers)
      await providers.filter({ hasText: name }).getByText("Verified", { exact: true }).waitFor(WAIT);
    await checkScreen(heirPage, "recovery-06-new-owner-records");

    assert.deepEqual(suite.problems, [], "no uncaught error in the pages");
    suite.passed = true;
  });
});
