/**
 * The gas faucet (`POST /v1/sponsor`) on a REAL geth network and PostgreSQL: top-ups, the per-address
 * and total 24 h limits, and that a restart does not reset them.
 */
import assert from "node:assert/strict";
import type { Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { createWalletClient, http, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createApp } from "../src/app.ts";
import { type ChainClient, connectChain } from "../src/chain/client.ts";
import type { ChainSettings } from "../src/chain/config.ts";
import { loadConfig } from "../src/config.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { sponsorshipModule } from "../src/sponsorship/sponsorship.routes.ts";
import { createSponsor } from "../src/sponsorship/sponsorship.service.ts";
import { type ChainEnv, silent, startChainEnv, stubGuards } from "./chain.support.ts";

let env: ChainEnv;
let client: ChainClient;
let settings: ChainSettings;
let server: Server | undefined;
let url: string;

/** (Re)starts the faucet: a new sponsor and app on the same database, like a gatekeeper restart. */
async function startFaucet(): Promise<void> {
  if (server) await new Promise((r) => server?.close(r));
  const sponsor = createSponsor({ client, settings, db: env.db, logger: silent });
  const app = createApp({
    config: loadConfig({}),
    logger: silent,
    metrics: createMetrics(),
    health: [],
    modules: [sponsorshipModule({ sponsor, guards: stubGuards })],
  });
  const listening: Server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  server = listening;
  const address = listening.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
}

const sponsorMe = async (address: string) => {
  const res = await fetch(`${url}/v1/sponsor`, { method: "POST", headers: { "x-test-address": address } });
  return {
    status: res.status,
    retryAfter: res.headers.get("retry-after"),
    json: (await res.json()) as Record<string, unknown>,
  };
};

before(async () => {
  env = await startChainEnv("sponsorship_int");
  settings = env.settings({
    limits: {
      delegateMinBalance: parseEther("0.01"),
      delegateFund: parseEther("0.1"),
      sponsorTopUp: parseEther("0.05"),
      sponsorAddressDaily: parseEther("0.08"),
      sponsorTotalDaily: parseEther("0.12"),
    },
  });
  client = await connectChain(settings);
  await startFaucet();
});

after(async () => {
  if (server) await new Promise((r) => server?.close(r));
  await env?.stop();
});

describe("POST /v1/sponsor", () => {
  const a = privateKeyToAccount(generatePrivateKey());
  const b = privateKeyToAccount(generatePrivateKey());
  const c = privateKeyToAccount(generatePrivateKey());

  test("error: needs a session of an address", async () => {
    assert.equal((await fetch(`${url}/v1/sponsor`, { method: "POST" })).status, 401);
    assert.equal((await sponsorMe("operator")).status, 403);
  });

  test("default: tops the caller up to the configured amount; nothing when it has enough", async () => {
    const first = await sponsorMe(a.address.toLowerCase());
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.address, a.address);
    assert.equal(first.json.amount, parseEther("0.05").toString());
    assert.match(String(first.json.transaction), /^0x[0-9a-f]{64}$/);
    assert.equal(await env.publicClient.getBalance({ address: a.address }), parseEther("0.05"));
    const again = await sponsorMe(a.address);
    assert.equal(again.status, 200);
    assert.equal(again.json.amount, "0");
    assert.equal(again.json.transaction, null);
  });

  test("error: 429 past the address's daily allowance, also after a restart", async () => {
    // `a` spends, then asks again: 0.05 + 0.04 would exceed the 0.08 daily allowance.
    const wallet = createWalletClient({ account: a, chain: env.chain, transport: http(env.rpcUrl) });
    await env.receipt(await wallet.sendTransaction({ to: b.address, value: parseEther("0.04") }));
    const refused = await sponsorMe(a.address);
    assert.equal(refused.status, 429, JSON.stringify(refused.json));
    assert.match(String(refused.json.detail), /this address/i);
    assert.ok(Number(refused.retryAfter) > 80_000 && Number(refused.retryAfter) <= 86_400);
    await startFaucet();
    assert.equal((await sponsorMe(a.address)).status, 429, "limits survive a restart");
  });

  test("error: 429 past the total daily budget, counted across addresses and restarts", async () => {
    // b holds 0.04 from a: it gets 0.01 → total 0.06; c would need 0.05 → 0.11; d → over 0.12.
    const topB = await sponsorMe(b.address);
    assert.equal(topB.json.amount, parseEther("0.01").toString());
    assert.equal((await sponsorMe(c.address)).status, 200);
    await startFaucet();
    const d = privateKeyToAccount(generatePrivateKey());
    const refused = await sponsorMe(d.address);
    assert.equal(refused.status, 429);
    assert.match(String(refused.json.detail), /daily gas budget/);
    assert.equal(await env.publicClient.getBalance({ address: d.address }), 0n);
    const rows = await env.db("sponsorships").where({ kind: "patient" }).whereNot({ status: "failed" });
    assert.equal(rows.length, 3);
  });
});
