/**
 * Only a registered provider can appear as one (issue 19 item 3, adr/0015), in a real Chromium
 * against a real local network (scripts/system.ts). Strangers put relationships on the demo
 * patient's agent — three naming Riverside General with its URL (two signed by their own keys, one
 * unsigned) and two of garbage — and the patient ends Hilltop Medical's relationship, which Hilltop's
 * staff then link again. The dapp names only the three real providers, each Verified; the strangers'
 * links are counted apart in words, can be hidden (still hidden after a reload), and appear in no
 * provider list: not the timeline's filter, not sharing, not export.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { apiPaths, gatekeeperJson, parseManifest, relationshipAbi, signIn } from "@medrec/protocol";
import {
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  relayPatientCall,
} from "@medrec/protocol/patient";
import { eventually } from "@medrec/testkit";
import type { Locator } from "playwright-core";
import { createPublicClient, encodeFunctionData, type Hex, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createJunkRelationships } from "../../../scripts/junk.ts";
import { browserSuite, checkScreen, navLink, unlockPage, WAIT } from "./browser.support.ts";

const PASSWORD = "lantern meadow copper 41";

describe("strangers' relationships in Chromium", () => {
  const suite = browserSuite("junk");

  test("behavior: strangers naming Riverside General are set apart, can be hidden, and are in no list; the three providers stay Verified, Hilltop linked again after an end", async () => {
    const { system } = suite;
    const mnemonic = String(system.manifest.demo?.patientMnemonic);
    const network = patientNetworkFromManifest(parseManifest(system.manifest));
    const ctx = await patientContextFromMnemonic({ network, mnemonic });
    const riverside = network.providers.find((p) => p.name === "Riverside General");
    const hilltop = system.providers.find((p) => p.name === "Hilltop Medical");
    assert.ok(riverside && hilltop);
    const claimed = {
      name: riverside.name,
      gatekeeperUrl: riverside.gatekeeperUrl,
      account: riverside.account,
    };
    await createJunkRelationships({
      system,
      patient: ctx.agent,
      patientEncryptionKey: ctx.encryptionKey.publicKey,
      junk: [
        { kind: "forged", provider: claimed },
        { kind: "forged", provider: claimed },
        { kind: "unsigned", provider: claimed },
        { kind: "garbage" },
        { kind: "garbage" },
      ],
    });

    // The patient ends Hilltop's relationship; Hilltop's staff link the patient again.
    await relayPatientCall(ctx, {
      to: network.contracts.Relationship,
      data: encodeFunctionData({ abi: relationshipAbi, functionName: "end", args: [hilltop.relationship] }),
    });
    // Hilltop's gatekeeper reads its own node, which may be a block behind the relay's.
    const hilltopNode = createPublicClient({ transport: http(hilltop.rpcUrl) });
    await eventually("Hilltop's node to see the relationship ended", async () =>
      (
        await hilltopNode.readContract({
          address: network.contracts.Relationship,
          abi: relationshipAbi,
          functionName: "relationshipOf",
          args: [hilltop.relationship],
        })
      ).ended
        ? true
        : undefined,
    );
    const { token } = await signIn({
      gatekeeperUrl: hilltop.gatekeeper.url,
      account: privateKeyToAccount(hilltop.staffKey),
      chainId: network.chainId,
    });
    const relinked = await gatekeeperJson<{ relationship: Hex }>(hilltop.gatekeeper.url, apiPaths.patients, {
      method: "POST",
      token,
      body: { mrn: hilltop.mrn, patientAddress: ctx.account.address },
    });
    assert.notEqual(relinked.relationship.toLowerCase(), hilltop.relationship.toLowerCase());
    // The records' root is published on the new relationship right after it is made.
    await eventually(
      "Hilltop's root on the new relationship",
      async () =>
        (
          await hilltopNode.readContract({
            address: network.contracts.Relationship,
            abi: relationshipAbi,
            functionName: "relationshipOf",
            args: [relinked.relationship],
          })
        ).sequence > 0n || undefined,
      { timeoutMs: 120_000 },
    );

    const { page } = await suite.open(mnemonic, PASSWORD);
    const names = system.providers.map((p) => p.name).sort();
    const card = (name: string) =>
      page.getByRole("list", { name: "Your providers" }).getByRole("listitem").filter({ hasText: name });
    for (const name of names) await card(name).getByText("Verified", { exact: true }).waitFor(WAIT);
    await page.getByText("3 providers have linked your records to your wallet.").waitFor(WAIT);
    assert.equal(await page.getByRole("list", { name: "Your providers" }).getByRole("listitem").count(), 3);
    const apart = page.getByRole("region", { name: "Not from a registered provider" });
    await apart.getByText(/^5 links to your wallet were not made by a provider registered/).waitFor(WAIT);
    await apart
      .getByText("Claims to be Riverside General, but Riverside General did not sign it (3)")
      .waitFor(WAIT);
    await apart.getByText("Cannot be read with your key (2)").waitFor(WAIT);
    await page.getByText(/^[\d,]+ records\.$/).waitFor(WAIT);
    await checkScreen(page, "junk-01-records");
    // The timeline's provider filter: the three, once each.
    const options = await page.getByLabel("Provider", { exact: true }).locator("option").allTextContents();
    assert.deepEqual(options.slice(1).sort(), names);

    // Sharing's and export's provider choices: the three, once each (the waits: all three shown).
    const choices = async (group: Locator) => {
      await group.getByRole("checkbox").nth(2).waitFor(WAIT);
      return (
        await group
          .getByRole("checkbox")
          .evaluateAll((e) => e.map((x) => x.parentElement?.textContent?.trim()))
      ).sort();
    };
    await navLink(page, "Sharing").click();
    assert.deepEqual(await choices(page.getByRole("group", { name: "2. From which providers" })), names);
    await navLink(page, "Take elsewhere").click();
    await page.getByRole("radio", { name: "Only some categories or providers" }).check();
    assert.deepEqual(await choices(page.getByRole("group", { name: "Providers (none ticked: all)" })), names);

    // Hidden, and still hidden after a reload (kept encrypted on this device).
    await navLink(page, "Records").click();
    await apart.getByRole("button", { name: "Hide these links" }).click();
    await page.getByText("5 links not from a registered provider are hidden.").waitFor(WAIT);
    await page.reload();
    await unlockPage(page, PASSWORD);
    for (const name of names) await card(name).getByText("Verified", { exact: true }).waitFor(WAIT);
    await page.getByText("5 links not from a registered provider are hidden.").waitFor(WAIT);
    assert.equal(await apart.count(), 0);
    await checkScreen(page, "junk-02-hidden");
    assert.deepEqual(suite.problems, []);
    suite.passed = true;
  });
});
