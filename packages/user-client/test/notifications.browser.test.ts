/**
 * Notifications about what the patient shares, in a real Chromium against a real local network
 * (scripts/system.ts: three providers' geth nodes, gatekeepers and PostgreSQL, free ports). The
 * demo patient (restored from its words) shares lab results with a viewer it names → the viewer
 * reads them (its own key, from Node: another person) → the bell counts "Sam Rivera opened your
 * records at …", announced to screen readers → a share made to end a few seconds later (through
 * @medrec/protocol/patient with the patient's words: the form offers days) → "Sharing with … has
 * ended" → one marked as read → Lock → unlock: both still listed, the read one still read, the bell
 * still counts the other → the profile's storage holds none of it in clear → locked again, a new
 * viewer's first use and a share's end happen → unlocked, both are announced (each news once).
 * axe (no serious or critical violation), no horizontal scroll and screenshots at 1280 and 375 px
 * on every screen.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  accountFromMnemonic,
  fetchVerifiedRecords,
  generatePatientMnemonic,
  parseManifest,
  signIn,
} from "@medrec/protocol";
import {
  chainNow,
  discoverRelationships,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  readRecordRoot,
  shareRecords,
  shortAddress,
} from "@medrec/protocol/patient";
import { eventually } from "@medrec/testkit";
import {
  assertNoSecret,
  browserSuite,
  checkScreen,
  navLink,
  storageDump,
  unlockPage,
  WAIT,
} from "./browser.support.ts";

const PASSWORD = "harbour lantern thistle 42";
const VIEWER_NAME = "Sam Rivera";
/** Long enough for the watcher to see the grant before it ends (relay + a block or two). */
const SHORT_GRANT_SECONDS = 40n;

describe("notifications about sharing in Chromium", () => {
  const suite = browserSuite("notifications");

  test("behavior: a share's first use and its end reach the bell, named, announced, marked read, and survive Lock (encrypted at rest)", async () => {
    const { system } = suite;
    const [first] = system.providers.map((p) => p.name);
    assert.ok(first);
    const patientMnemonic = String(system.manifest.demo?.patientMnemonic);
    const { context, page: p } = await suite.open(patientMnemonic, PASSWORD);
    const bell = (unread: number) =>
      p.getByRole("link", {
        name: unread === 0 ? "Notifications, none unread" : `Notifications, ${unread} unread`,
      });
    const list = p.getByRole("list", { name: "Notifications, newest first" });
    const announced = p.locator('[role="status"][aria-live="polite"]');

    // The patient shares lab results at one provider with a viewer it names, in the dapp.
    const viewerMnemonic = generatePatientMnemonic();
    const viewer = accountFromMnemonic(viewerMnemonic);
    await navLink(p, "Sharing").click();
    await p.getByRole("heading", { name: "Share records" }).waitFor(WAIT);
    await p.getByLabel("Their MedRec ID").fill(viewer.address);
    await p.getByText("A valid MedRec ID.").waitFor(WAIT);
    await p.getByLabel("Their name (optional)").fill(VIEWER_NAME);
    for (const other of system.providers.slice(1))
      await p.getByRole("checkbox", { name: other.name }).uncheck();
    await p.getByRole("checkbox", { name: /^Lab results/ }).check();
    await p.getByRole("button", { name: "Review and share" }).click();
    const dialog = p.getByRole("dialog");
    await dialog.getByRole("button", { name: "Share", exact: true }).click();
    await dialog.getByRole("heading", { name: "Shared" }).waitFor(WAIT);
    await dialog.getByRole("button", { name: "Done" }).click();
    await p.locator('a.bell[data-watching="true"]').waitFor(WAIT);
    await bell(0).waitFor(WAIT);

    // The viewer — another person, with its own key — reads what was shared.
    const ctx = await patientContextFromMnemonic({
      network: patientNetworkFromManifest(parseManifest(system.manifest)),
      mnemonic: patientMnemonic,
    });
    const relationships = await discoverRelationships(ctx);
    const shared = relationships.find((r) => r.provider?.name === first);
    assert.ok(shared?.provider);
    const gatekeeperUrl = shared.provider.gatekeeperUrl;
    const { token } = await signIn({ gatekeeperUrl, account: viewer, chainId: ctx.network.chainId });
    // The gatekeeper learns the grant from its chain view a block or so after it.
    const labs = await eventually(
      "the viewer's first read",
      () =>
        fetchVerifiedRecords({
          gatekeeperUrl,
          relationship: shared.id,
          token,
          category: "labs",
          onChainRoot: () => readRecordRoot(ctx.client, ctx.network, shared.id),
        }),
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    assert.ok(labs.valid && labs.resources.length > 0);

    // The bell: one unread, named by the contact name the patient saved, said to screen readers.
    const firstUse = `${VIEWER_NAME} opened your records at ${first}`;
    await bell(1).waitFor(WAIT);
    await announced.filter({ hasText: firstUse }).waitFor({ state: "attached", ...WAIT });
    await bell(1).click();
    await list.getByText(firstUse).waitFor(WAIT);
    await checkScreen(p, "notifications-01-first-use");

    // A share that ends a few seconds from now, made with the patient's words outside the dapp.
    const shortViewer = accountFromMnemonic(generatePatientMnemonic()).address;
    const short = await shareRecords({
      ctx,
      viewer: shortViewer,
      relationships: [shared],
      categories: ["labs"],
      expiry: { until: new Date(Number((await chainNow(ctx.client)) + SHORT_GRANT_SECONDS) * 1000) },
    });
    assert.ok(short.ok, JSON.stringify(short.results));
    const ended = `Sharing with ID ${shortAddress(shortViewer)} at ${first} has ended`;
    await list.getByText(ended).waitFor({ timeout: 180_000 });
    await bell(2).waitFor(WAIT);
    await announced.filter({ hasText: ended }).waitFor({ state: "attached", ...WAIT });
    await p.getByText("2 unread.").waitFor(WAIT);
    await checkScreen(p, "notifications-02-ended");

    // The first use marked as read: one left.
    await p.getByRole("button", { name: `Mark as read: ${firstUse}` }).click();
    await bell(1).waitFor(WAIT);
    await p.getByText("1 unread.").waitFor(WAIT);
    await checkScreen(p, "notifications-03-one-read");

    // Lock, then unlock: both are still there, the read one read, the other still counted.
    await p.getByRole("button", { name: "Lock", exact: true }).click();
    await unlockPage(p, PASSWORD);
    await bell(1).waitFor(WAIT);
    await bell(1).click();
    await list.getByText(firstUse).waitFor(WAIT);
    await list.getByText(ended).waitFor(WAIT);
    await p.getByRole("button", { name: `Mark as read: ${ended}` }).waitFor(WAIT);
    assert.equal(
      await p.getByRole("button", { name: `Mark as read: ${firstUse}` }).count(),
      0,
      "what was read before the lock is still read",
    );
    assert.equal(await list.getByRole("listitem").count(), 2, "nothing announced twice after the unlock");
    await checkScreen(p, "notifications-04-after-unlock");

    // Kept only encrypted: no notification, name or provider in clear in the profile's storage.
    assertNoSecret(
      await storageDump(context, p),
      {
        "first-use notification": firstUse,
        "ended notification": ended,
        "viewer's name": VIEWER_NAME,
        "provider's name": first,
        "recovery phrase": patientMnemonic,
      },
      "the patient's storage",
    );

    // While locked: a third viewer uses a new share for the first time, and a short share ends.
    await p.getByRole("button", { name: "Lock", exact: true }).click();
    await p.getByRole("heading", { name: "Welcome back" }).waitFor(WAIT);
    const third = accountFromMnemonic(generatePatientMnemonic());
    const thirdShare = await shareRecords({
      ctx,
      viewer: third.address,
      relationships: [shared],
      categories: ["labs"],
      expiry: { days: 1 },
    });
    assert.ok(thirdShare.ok, JSON.stringify(thirdShare.results));
    const thirdToken = (await signIn({ gatekeeperUrl, account: third, chainId: ctx.network.chainId })).token;
    await eventually(
      "the third viewer's first read",
      async () =>
        (
          await fetchVerifiedRecords({
            gatekeeperUrl,
            relationship: shared.id,
            token: thirdToken,
            category: "labs",
            onChainRoot: () => readRecordRoot(ctx.client, ctx.network, shared.id),
          })
        ).valid,
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    const fourth = accountFromMnemonic(generatePatientMnemonic()).address;
    const endsAt = (await chainNow(ctx.client)) + SHORT_GRANT_SECONDS;
    const fourthShare = await shareRecords({
      ctx,
      viewer: fourth,
      relationships: [shared],
      categories: ["labs"],
      expiry: { until: new Date(Number(endsAt) * 1000) },
    });
    assert.ok(fourthShare.ok, JSON.stringify(fourthShare.results));
    await eventually(
      "the short share's end, by the chain's clock",
      async () => (await chainNow(ctx.client)) > endsAt,
      {
        timeoutMs: 180_000,
        intervalMs: 1_000,
      },
    );

    // Unlocked again: both are there, unread, and nothing from before came back twice.
    await unlockPage(p, PASSWORD);
    await bell(3).waitFor(WAIT);
    await bell(3).click();
    const usedWhileLocked = `ID ${shortAddress(third.address)} opened your records at ${first}`;
    const endedWhileLocked = `Sharing with ID ${shortAddress(fourth)} at ${first} has ended`;
    await list.getByText(usedWhileLocked).waitFor(WAIT);
    await list.getByText(endedWhileLocked).waitFor(WAIT);
    assert.equal(await list.getByRole("listitem").count(), 4, "each piece of news once");
    await checkScreen(p, "notifications-05-while-locked");

    assert.deepEqual(suite.problems, [], "no uncaught error in the page");
    suite.passed = true;
  });
});
