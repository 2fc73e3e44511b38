/**
 * A provider's RPC node that lies, in a real Chromium against a real local network: Lakeside
 * Clinic's node is put behind a proxy (Playwright intercepts every request to its origin, passes it
 * to the real geth node and rewrites the answer) that serves another record root, hides a value
 * (answers zero), forges a proof node, or serves a block header with a changed state root under the
 * same hash. Each time the dapp shows Lakeside Clinic as "Not verifiable" with the reason in words,
 * never "Verified", and still verifies the other two providers (adr/0012). Before that, in Node:
 * real geth headers recompute to their hash and are sealed by a listed provider, and every proven
 * value equals what the contracts' getters return. Screenshots in reports/screens/lying-node-*.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { relationshipAbi } from "@medrec/protocol";
import {
  checkCliqueHeader,
  lyingBody,
  NODE_LIES,
  type NodeLie,
  type RpcHeader,
} from "@medrec/protocol/light-client";
import {
  discoverRelationships,
  lightClientOf,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  readProvenEntries,
} from "@medrec/protocol/patient";
import type { Page, Route } from "playwright-core";
import { createPublicClient, http } from "viem";
import { browserSuite, checkScreen, SCREENS, unlockPage, WAIT } from "./browser.support.ts";

const PASSWORD = "lantern orchard seventy 4";
const LIAR = "Lakeside Clinic";

let lie: NodeLie | "none" = "none";
/** What the proxy did while the current lie was told (printed when a lie is not caught). */
let told: string[] = [];

/** Lakeside Clinic's node, behind the proxy: the real answer, rewritten to tell `lie`. */
async function proxy(route: Route) {
  // Only JSON-RPC calls are rewritten: a CORS preflight (OPTIONS, no body) passes as it is. It was
  // rewritten too and failed whenever Chromium's preflight cache missed, so the node seemed down —
  // skipped, not caught — and the honest nodes' root showed "Verified".
  if (lie === "none" || route.request().method() !== "POST") return route.continue();
  const call = route.request().postDataJSON() as { method?: string; params?: unknown[] } | undefined;
  told.push(`${call?.method} ${JSON.stringify(call?.params ?? []).slice(0, 90)}`);
  const response = await route.fetch().catch((error: unknown) => {
    told.push(`  fetch failed: ${String(error)}`);
    throw error;
  });
  // The real answer's headers without its Content-Length: Playwright keeps a given one, and a lie
  // of another length (a root with a leading zero digit, rewritten) was cut short — an answer the
  // dapp could not read and so only skipped, instead of a lie it must catch.
  const { "content-length": _, ...headers } = response.headers();
  return route.fulfill({
    status: response.status(),
    headers,
    json: lyingBody(lie, route.request().postDataJSON(), await response.json()),
  });
}

const card = (page: Page, name: string) =>
  page.getByRole("list", { name: "Your providers" }).getByRole("listitem").filter({ hasText: name });

const suite = browserSuite("lying-node");

test("behavior: a lying RPC node — another root, a hidden value, a forged proof, a header with a wrong hash — makes its provider 'Not verifiable', in words; the others still verify", async () => {
  const { system } = suite;
  const manifest = system.manifest as Parameters<typeof patientNetworkFromManifest>[0];
  const network = patientNetworkFromManifest(manifest);
  const liar = manifest.providers.find((p) => p.name === LIAR);
  assert.ok(liar, `${LIAR} is in the network`);

  // Real geth: headers recompute to their hash and are sealed by a listed provider's account; each
  // proven value is what the contract's own getter returns.
  const ctx = await patientContextFromMnemonic({ network, mnemonic: String(manifest.demo?.patientMnemonic) });
  const started = performance.now();
  const relationships = await discoverRelationships(ctx);
  const provenMs = performance.now() - started;
  assert.equal(relationships.length, 3);
  const header = await lightClientOf(network).header();
  assert.ok(
    network.providers.some((p) => p.account === header.signer),
    "sealed by a provider",
  );
  assert.ok(header.agreeing.length >= 2, "two nodes or more agree (a third may be a block behind)");
  for (const p of manifest.providers) {
    const raw = await createPublicClient({ transport: http(p.rpcUrl) }).request({
      method: "eth_getBlockByNumber",
      params: ["latest", false],
    });
    checkCliqueHeader(
      raw as unknown as RpcHeader,
      network.providers.map((x) => x.account),
    );
  }
  const plain = createPublicClient({ transport: http(liar.rpcUrl) });
  const entries = await readProvenEntries(
    network,
    relationships.map((r) => r.id),
  );
  for (const [i, r] of relationships.entries()) {
    const onChain = await plain.readContract({
      address: network.contracts.Relationship,
      abi: relationshipAbi,
      functionName: "relationshipOf",
      args: [r.id],
    });
    assert.equal(entries[i]?.recordRoot, onChain.recordRoot);
    assert.equal(entries[i]?.sequence, onChain.sequence);
    assert.equal(entries[i]?.ended, onChain.ended);
    assert.equal(entries[i]?.provider.toLowerCase(), onChain.provider.toLowerCase());
  }
  const plainStarted = performance.now();
  await Promise.all(
    relationships.map((r) =>
      plain.readContract({
        address: network.contracts.Relationship,
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [r.id],
      }),
    ),
  );
  console.log(
    `# relationships proven in ${provenMs.toFixed(0)} ms (plain eth_call of the entries: ${(performance.now() - plainStarted).toFixed(0)} ms)`,
  );

  const { context, page } = await suite.open(String(manifest.demo?.patientMnemonic), PASSWORD);
  await context.route(`${new URL(liar.rpcUrl).origin}/**`, proxy);
  const others = manifest.providers.map((p) => p.name).filter((name) => name !== LIAR);

  const timeline = async () => {
    await page.reload();
    await unlockPage(page, PASSWORD);
    const at = performance.now();
    await page.getByRole("heading", { name: "Records", level: 1 }).waitFor(WAIT);
    for (const name of others) await card(page, name).getByText("Verified", { exact: true }).waitFor(WAIT);
    return at;
  };

  const at = await timeline();
  await card(page, LIAR).getByText("Verified", { exact: true }).waitFor(WAIT);
  console.log(`# honest: unlock → three providers verified in ${(performance.now() - at).toFixed(0)} ms`);

  for (const next of NODE_LIES) {
    lie = next;
    told = [];
    await timeline();
    const liarCard = card(page, LIAR);
    await liarCard
      .getByText("Not verifiable", { exact: true })
      .waitFor(WAIT)
      .catch((error: unknown) => {
        console.log(`# ${next}: what ${LIAR}'s node was asked:\n${told.join("\n")}`);
        throw error;
      });
    await liarCard
      .getByText(
        /network node gave an answer that does not match the network; these records are not shown as verified/,
      )
      .waitFor(WAIT);
    assert.equal(
      await liarCard.getByText("Verified", { exact: true }).count(),
      0,
      `${next}: never "Verified"`,
    );
    for (const name of others)
      assert.equal(
        await card(page, name).getByText("Verified", { exact: true }).count(),
        1,
        `${next}: ${name} verified`,
      );
    if (next === "root") await checkScreen(page, `lying-node-${next}`);
    else await page.screenshot({ path: path.join(SCREENS, `lying-node-${next}-1280.png`), fullPage: true });
  }

  // Honest again: believed again.
  lie = "none";
  await timeline();
  await card(page, LIAR).getByText("Verified", { exact: true }).waitFor(WAIT);
  assert.deepEqual(suite.problems, []);
  suite.passed = true;
});
