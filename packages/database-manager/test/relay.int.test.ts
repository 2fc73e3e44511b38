/**
 * The relay (issue 8, adr/0006) on a REAL geth v1.13.15 network of three providers, each with its
 * full gatekeeper on a real PostgreSQL server: patients and delegates hold no ether and never send
 * a transaction; every refusal of POST /v1/relay names its check; identical requests are one
 * transaction; the daily limits hold across a restart; /v1/sponsor is gone; the relayer's balance
 * is a gauge and /healthz degrades (200) below the floor; a provider's own transactions go through
 * other providers' relays, and wait (or, opted in, fall back) when none answers; with the open lane
 * used up by strangers, a gatekeeper's own creation, vouched by the member key, is still served.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  agentAbi,
  agentRegistryAbi,
  buildForwardRequest,
  type ForwardRequest,
  type RelayRequestJson,
  relationshipAbi,
  relayAndWait,
  relayRequestSchema,
  serializeRelayRequest,
  signForwardRequest,
  signVoucher,
} from "@medrec/protocol";
import { eventually, fetchReply } from "@medrec/testkit";
import type { Knex } from "knex";
import {
  type Address,
  createWalletClient,
  encodeFunctionData,
  getAddress,
  type Hex,
  http,
  keccak256,
  parseEther,
  parseEventLogs,
} from "viem";
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { defaultRelaySettings } from "../src/chain/config.ts";
import { createDb } from "../src/db/knex.ts";
import { createRelaySubmitter } from "../src/relay/peers.ts";
import type { RelayService } from "../src/relay/relay.service.ts";
import { silent } from "./chain.support.ts";
import { type RelayNetwork, startBareRelay, startRelayNetwork } from "./relay.support.ts";
import { createTestDatabase } from "./support/postgres.ts";

let net: RelayNetwork;
/** The consortium's member voucher key (RELAY_MEMBER_KEY), configured on every gatekeeper. */
const memberKey = generatePrivateKey();
const member = privateKeyToAccount(memberKey);
const members = { memberKey, members: [member.address] };
const relayers = () => net.env.relayerKeys.map((k) => privateKeyToAccount(k).address);
const domain = () => ({ chainId: net.env.chain.id, forwarder: net.env.contracts.Forwarder });
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** POST /v1/relay at `url` with a raw body. */
async function postRelay(url: string, body: unknown) {
  const r = await fetchReply(`${url}/v1/relay`, { body });
  return { ...r, retryAfter: r.headers.get("retry-after") };
}

/** A signed relay body: `call` as `account`, with `tweak` applied to the request before signing. */
async function signed(
  account: LocalAccount,
  to: Address,
  data: Hex,
  tweak: (r: ForwardRequest) => ForwardRequest = (r) => r,
  signer: LocalAccount = account,
): Promise<RelayRequestJson> {
  const built = await buildForwardRequest({
    client: net.env.publicClient,
    forwarder: net.env.contracts.Forwarder,
    from: account.address,
    to,
    data,
    gas: 300_000n,
  });
  const request = tweak(built);
  return serializeRelayRequest(request, await signForwardRequest(signer, request, domain()));
}

const setKey = (account: LocalAccount) =>
  encodeFunctionData({
    abi: agentAbi,
    functionName: "setEncryptionKey",
    args: [account.address, `0x${"11".repeat(32)}`],
  });

async function expectRefusal(
  url: string,
  body: unknown,
  status: number,
  check: string,
  detail?: RegExp,
): Promise<Record<string, unknown>> {
  const r = await postRelay(url, body);
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.match(r.type, /application\/problem\+json/);
  assert.equal(r.json.check, check, JSON.stringify(r.json));
  assert.equal(r.json.type, `https://medrec.dev/problems/relay/${check}`);
  assert.equal(r.json.status, status);
  if (detail) assert.match(String(r.json.detail), detail);
  return r.json;
}

/** A patient registered through `relayUrl` and linked by provider `provider` (its relationship id). */
async function linkedPatient(relayUrl: string, provider: number, mrn: string) {
  const patient = await net.patient(relayUrl);
  const linked = await net.staff(provider, "/v1/patients", { mrn, patientAddress: patient.address });
  assert.equal(linked.status, 201, JSON.stringify(linked.json));
  return { patient, relationship: linked.json.relationship as Hex };
}

/** `patient` grants a fresh viewer labs and notes for an hour on `relationship`, through `relayUrl`. */
async function grantViewer(patient: LocalAccount, relationship: Hex, relayUrl: string) {
  const viewer = privateKeyToAccount(generatePrivateKey()).address;
  const { receipt } = await relayAndWait({
    client: net.env.publicClient,
    forwarder: net.env.contracts.Forwarder,
    account: patient,
    to: net.env.contracts.Relationship,
    data: encodeFunctionData({
      abi: relationshipAbi,
      functionName: "grant",
      args: [relationship, viewer, 0b101, BigInt(nowSeconds() + 3600), "0x"],
    }),
    gatekeeperUrl: relayUrl,
  });
  return { viewer, receipt };
}

/** `Relationship.relationshipOf(id)` on chain. */
const relationshipOf = (id: Hex) =>
  net.env.publicClient.readContract({
    address: net.env.contracts.Relationship,
    abi: relationshipAbi,
    functionName: "relationshipOf",
    args: [id],
  });

/** The sender (relayer) of the transaction that emitted `eventName` for relationship `id`. */
async function sendersOf(eventName: "RelationshipCreated" | "RootPublished", id: Hex): Promise<Address[]> {
  const logs = await net.env.publicClient.getLogs({
    address: net.env.contracts.Relationship,
    fromBlock: net.env.contracts.registryBlock,
    toBlock: "latest",
  });
  const mine = parseEventLogs({ abi: relationshipAbi, logs, eventName }).filter(
    (l) => (l.args as { id: Hex }).id === id,
  );
  return Promise.all(
    mine.map(async (l) =>
      getAddress((await net.env.publicClient.getTransaction({ hash: l.transactionHash })).from),
    ),
  );
}

const bundleOf = (patientRef: string, n: number) => ({
  resourceType: "Bundle",
  type: "collection",
  entry: [
    {
      resource: {
        resourceType: "Observation",
        id: `obs-${n}`,
        status: "final",
        category: [
          {
            coding: [
              { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs" },
            ],
          },
        ],
        code: { coding: [{ system: "http://loinc.org", code: "8867-4" }] },
        subject: { reference: patientRef },
        valueQuantity: { value: 60 + n, unit: "/min", system: "http://unitsofmeasure.org", code: "/min" },
      },
    },
  ],
});

before(async () => {
  net = await startRelayNetwork("relay_int", {
    // Every gatekeeper has the member key; Hilltop's relayer floor is above what it holds: its /healthz is degraded.
    settings: (i) => ({
      relay: defaultRelaySettings({ ...members, ...(i === 2 ? { minBalance: parseEther("5000") } : {}) }),
    }),
  });
});

after(async () => {
  await net?.stop();
});

describe("patients and delegates need no ether", () => {
  let patient: Awaited<ReturnType<RelayNetwork["patient"]>>;
  let relationship: Hex;

  test("default: a patient with zero balance registers its agent and grants a viewer through a relay", async () => {
    patient = await net.patient(net.urls[0] as string);
    const { env } = net;
    assert.equal(
      await env.publicClient.readContract({
        address: env.contracts.Agent,
        abi: agentAbi,
        functionName: "exists",
        args: [patient.address],
      }),
      true,
    );
    // Lakeside links the patient: its delegate's `create` goes through another provider's relay.
    const linked = await net.staff(1, "/v1/patients", { mrn: "RL-0001", patientAddress: patient.address });
    assert.equal(linked.status, 201, JSON.stringify(linked.json));
    relationship = linked.json.relationship as Hex;
    const { viewer, receipt } = await grantViewer(patient.account, relationship, net.urls[2] as string);
    await net.gk(1).chain?.view.waitForBlock(receipt.blockNumber);
    assert.equal(net.gk(1).chain?.view.viewerScopes(relationship, viewer, nowSeconds()), 0b101);
    assert.equal(await env.publicClient.getBalance({ address: patient.address }), 0n);
    assert.equal(await env.publicClient.getTransactionCount({ address: patient.address }), 0);
  });

  test("default: a delegate with zero balance creates the relationship and publishes roots via other providers' relays", async () => {
    const { env } = net;
    const info = await relationshipOf(relationship);
    const delegate = info.provider;
    const own = relayers()[1] as Address;
    for (let n = 1; n <= 3; n++) {
      const up = await net.staff(
        1,
        "/v1/patients/RL-0001/records",
        bundleOf("Patient/rl-1", n),
        "application/fhir+json",
      );
      assert.equal(up.status, 200, JSON.stringify(up.json));
      const root = up.json.recordRoot as Hex;
      await eventually(
        `root ${n} on chain`,
        async () => (await relationshipOf(relationship)).recordRoot === root,
        { timeoutMs: 60_000 },
      );
    }
    const created = await sendersOf("RelationshipCreated", relationship);
    const published = await sendersOf("RootPublished", relationship);
    assert.equal(created.length, 1);
    assert.ok(published.length >= 3);
    for (const sender of [...created, ...published]) {
      assert.ok(relayers().includes(sender), `${sender} is a relayer`);
      assert.notEqual(sender, own, "never the provider's own relayer");
    }
    assert.equal(await env.publicClient.getBalance({ address: delegate }), 0n);
    assert.equal(await env.publicClient.getTransactionCount({ address: delegate }), 0);
    const metrics = await (await fetch(net.gk(1).metricsUrl)).text();
    assert.match(metrics, /medrec_relay_own_submissions_total\{via="peer"\} [4-9]/);
    assert.doesNotMatch(metrics, /medrec_relay_own_submissions_total\{via="own"\}/);
    // The counters of its own submissions are for its operator only: the public URL has no /metrics.
    const unknown = await fetch(`${net.urls[1]}/no-such-route`);
    const unknownBody = await unknown.text();
    for (const url of net.urls) {
      const pub = await fetch(`${url}/metrics`);
      const body = await pub.text();
      assert.equal(pub.status, 404, url);
      assert.equal(pub.headers.get("content-type"), unknown.headers.get("content-type"));
      assert.equal(body, unknownBody);
      assert.doesNotMatch(body, /medrec_relay|submissions/);
    }
  });
});

describe("POST /v1/relay refusals", () => {
  let alice: LocalAccount;
  let url: string;

  before(async () => {
    url = net.urls[0] as string;
    const p = await net.patient(url);
    alice = p.account;
  });

  test("error: each check refuses with its status and names itself", async () => {
    const { env } = net;
    await expectRefusal(url, { request: { from: alice.address }, signature: "0x12" }, 400, "malformed");
    await expectRefusal(
      url,
      await signed(
        alice,
        env.contracts.AgentRegistry,
        encodeFunctionData({ abi: agentRegistryAbi, functionName: "signers" }),
      ),
      403,
      "foreign-target",
      /not one of this network's MedRec contracts/,
    );
    await expectRefusal(
      url,
      await signed(
        alice,
        env.contracts.Agent,
        encodeFunctionData({ abi: agentAbi, functionName: "exists", args: [alice.address] }),
      ),
      403,
      "function-not-allowed",
      /Agent\.register/,
    );
    const mallory = privateKeyToAccount(generatePrivateKey());
    await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, setKey(alice), (r) => r, mallory),
      401,
      "bad-signature",
    );
    await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, setKey(alice), (r) => ({ ...r, deadline: nowSeconds() - 5 })),
      422,
      "deadline-expired",
    );
    await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, setKey(alice), (r) => ({
        ...r,
        deadline: nowSeconds() + 3600,
      })),
      422,
      "deadline-too-far",
      /600 s/,
    );
    await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, setKey(alice), (r) => ({ ...r, nonce: r.nonce + 1n })),
      409,
      "wrong-nonce",
      /sign the request again with nonce/,
    );
    await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, setKey(alice), (r) => ({ ...r, gas: 1_000_001n })),
      422,
      "gas-over-cap",
      /RELAY_GAS_CAP/,
    );
    await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, setKey(alice), (r) => ({ ...r, value: 1n })),
      422,
      "value-not-zero",
    );
    const registerAgain = encodeFunctionData({
      abi: agentAbi,
      functionName: "register",
      args: [`0x${"22".repeat(32)}`, [], 0],
    });
    const reverted = await expectRefusal(
      url,
      await signed(alice, env.contracts.Agent, registerAgain),
      422,
      "simulation-reverted",
      /AgentAlreadyRegistered/,
    );
    assert.equal(reverted.revert, "AgentAlreadyRegistered");
    // Nothing of it was sent.
    assert.equal(
      await net
        .gk(0)
        .db("relay_requests")
        .where({ signer: alice.address })
        .count({ n: "*" })
        .then((r) => Number(r[0]?.n)),
      1,
    );
  });

  test("behavior: the same request twice (and twice at once) is one transaction with one hash", async () => {
    const { env } = net;
    const body = await signed(alice, env.contracts.Agent, setKey(alice));
    const relayer = relayers()[0] as Address;
    const before = await env.publicClient.getTransactionCount({ address: relayer, blockTag: "pending" });
    const [a, b] = await Promise.all([postRelay(url, body), postRelay(url, body)]);
    const c = await postRelay(url, body);
    assert.equal(a.status, 202, JSON.stringify(a.json));
    assert.equal(b.status, 202);
    assert.equal(c.status, 202);
    assert.match(String(a.json.txHash), /^0x[0-9a-f]{64}$/);
    assert.equal(b.json.txHash, a.json.txHash);
    assert.equal(c.json.txHash, a.json.txHash);
    const receipt = await env.publicClient.waitForTransactionReceipt({ hash: a.json.txHash as Hex });
    assert.equal(receipt.status, "success");
    assert.equal(
      await env.publicClient.getTransactionCount({ address: relayer, blockTag: "pending" }),
      before + 1,
    );
    // After it was mined (the nonce moved on) the same request still answers its transaction.
    assert.equal((await postRelay(url, body)).json.txHash, a.json.txHash);
  });
});

describe("daily limits and the gas budget (in the database)", () => {
  let limitUrl: string;
  let budgetUrl: string;
  const closers: (() => Promise<void>)[] = [];

  /** A relay app with `limits` on its own database (a restart: the same database again). */
  async function startRelayApp(
    dbUrl: string,
    limits: Parameters<typeof defaultRelaySettings>[0],
  ): Promise<{ url: string; relay: RelayService }> {
    const app = await startBareRelay(net.env.settings({ relay: defaultRelaySettings(limits) }), dbUrl);
    closers.push(app.close);
    return app;
  }

  let limitDb: string;
  before(async () => {
    limitDb = await createTestDatabase(net.env.pg.url, "relay_int_limits");
    limitUrl = (await startRelayApp(limitDb, { signerDailyRequests: 2, dailyRequests: 3 })).url;
    budgetUrl = (
      await startRelayApp(await createTestDatabase(net.env.pg.url, "relay_int_budget"), { dailyGas: 21_000n })
    ).url;
  });
  after(async () => {
    for (const close of closers) await close();
  });

  test("error: per signer, per day, and the daily gas budget: 429 naming the limit, also after a restart", async () => {
    const { env } = net;
    const bob = (await net.patient(limitUrl)).account; // 1 request of bob's
    const send = (account: LocalAccount, url: string) =>
      relayAndWait({
        client: env.publicClient,
        forwarder: env.contracts.Forwarder,
        account,
        to: env.contracts.Agent,
        data: setKey(account),
        gatekeeperUrl: url,
      });
    await send(bob, limitUrl); // 2
    const refused = await expectRefusal(
      limitUrl,
      await signed(bob, env.contracts.Agent, setKey(bob)),
      429,
      "signer-limit",
      /RELAY_SIGNER_DAILY_REQUESTS/,
    );
    assert.ok(refused);
    await net.patient(limitUrl); // 3 in total
    const carol = (await net.patient(net.urls[0] as string)).account;
    await expectRefusal(
      limitUrl,
      await signed(carol, env.contracts.Agent, setKey(carol)),
      429,
      "daily-limit",
      /RELAY_DAILY_REQUESTS/,
    );
    const r = await postRelay(limitUrl, await signed(carol, env.contracts.Agent, setKey(carol)));
    assert.ok(Number(r.retryAfter) > 80_000 && Number(r.retryAfter) <= 86_400, `Retry-After ${r.retryAfter}`);

    // A restart (a new service on the same database) resets nothing.
    const restarted = await startRelayApp(limitDb, { signerDailyRequests: 2, dailyRequests: 3 });
    await expectRefusal(
      restarted.url,
      await signed(bob, env.contracts.Agent, setKey(bob)),
      429,
      "signer-limit",
    );

    await expectRefusal(
      budgetUrl,
      await signed(carol, env.contracts.Agent, setKey(carol)),
      429,
      "gas-budget",
      /RELAY_DAILY_GAS/,
    );
  });
});

describe("admission under attack (adr/0013)", () => {
  // 500 keys, refused "busy" and sent again: two waves, under the bare relay's 1000 calls a minute per client.
  const OPEN_REQUESTS = 20;
  const OPEN_GAS = 8_000_000n;
  const ATTACKERS = 500;
  let attack: Awaited<ReturnType<typeof startBareRelay>>;
  let attackDb: Knex;

  before(async () => {
    const { env } = net;
    // A relayer of its own (funded by Hilltop's), so no gatekeeper sends with the same account.
    const relayerKey = generatePrivateKey();
    const funder = createWalletClient({
      account: privateKeyToAccount(env.relayerKeys[2] as Hex),
      chain: env.chain,
      transport: http(env.rpcUrl),
    });
    const funded = await funder.sendTransaction({
      to: privateKeyToAccount(relayerKey).address,
      value: parseEther("10"),
    });
    await env.publicClient.waitForTransactionReceipt({ hash: funded });
    const dbUrl = await createTestDatabase(env.pg.url, "relay_int_attack");
    attack = await startBareRelay(
      env.settings({
        relayerPrivateKey: relayerKey,
        relay: defaultRelaySettings({
          openDailyRequests: OPEN_REQUESTS,
          openDailyGas: OPEN_GAS,
          maxInFlight: 16,
          members: members.members,
        }),
      }),
      dbUrl,
    );
    attackDb = createDb(dbUrl);
  });
  after(async () => {
    await attack?.close();
    await attackDb?.destroy();
  });

  test("behavior: 500 fresh keys flood a relay; a linked patient's revoke lands within 3 blocks of its submission and the open lane spends within its budget (gasUsed from receipts)", async () => {
    const { env } = net;
    // The honest patient: registered, linked by Riverside, a viewer granted — all elsewhere.
    const { patient, relationship } = await linkedPatient(net.urls[1] as string, 0, "RL-ATTACK");
    const { viewer, receipt: granted } = await grantViewer(
      patient.account,
      relationship,
      net.urls[1] as string,
    );

    // The attacker: a fresh key per request, each a relayed Agent.register (what any key may call).
    const deadline = nowSeconds() + 300;
    const flood = await Promise.all(
      Array.from({ length: ATTACKERS }, async () => {
        const key = privateKeyToAccount(generatePrivateKey());
        const request: ForwardRequest = {
          from: key.address,
          to: env.contracts.Agent,
          value: 0n,
          gas: 200_000n,
          nonce: 0n,
          deadline,
          data: encodeFunctionData({
            abi: agentAbi,
            functionName: "register",
            args: [keccak256(key.address), [], 0],
          }),
        };
        return serializeRelayRequest(request, await signForwardRequest(key, request, domain()));
      }),
    );
    // 32 at a time; a request answered "busy" (Retry-After 1) is sent again after the next block,
    // until each has a final answer. The revoke goes in once the relayer has transactions in flight.
    let accepted = 0;
    let startRevoke: () => void = () => {};
    const underAttack = new Promise<void>((resolve) => {
      startRevoke = resolve;
    });
    const queue = [...flood];
    const final: Awaited<ReturnType<typeof postRelay>>[] = [];
    const worker = async () => {
      for (let body = queue.shift(); body; body = queue.shift()) {
        const r = await postRelay(attack.url, body);
        if (r.status === 202 && ++accepted >= 8) startRevoke();
        if (r.json.check !== "relayer-busy") {
          final.push(r);
          continue;
        }
        const seen = await env.publicClient.getBlockNumber({ cacheTime: 0 });
        await eventually(
          "the next block",
          async () => (await env.publicClient.getBlockNumber({ cacheTime: 0 })) > seen,
        );
        queue.push(body);
      }
    };
    const answers = Promise.all(Array.from({ length: 32 }, worker)).then(() => {
      startRevoke();
      return final;
    });
    await underAttack;

    const revoke = await signed(
      patient.account,
      env.contracts.Relationship,
      encodeFunctionData({ abi: relationshipAbi, functionName: "revoke", args: [relationship, viewer] }),
    );
    const submittedAt = await env.publicClient.getBlockNumber({ cacheTime: 0 });
    const sent = await postRelay(attack.url, { ...revoke, notBeforeBlock: granted.blockNumber.toString() });
    assert.equal(sent.status, 202, JSON.stringify(sent.json));
    const revoked = await env.publicClient.waitForTransactionReceipt({
      hash: sent.json.txHash as Hex,
      pollingInterval: 100,
    });
    assert.equal(revoked.status, "success");
    assert.ok(
      revoked.blockNumber - submittedAt <= 3n,
      `revoke submitted at block ${submittedAt} landed in ${revoked.blockNumber}`,
    );

    const replies = await answers;
    const byCheck = new Map<string, number>();
    for (const r of replies) {
      const k = r.status === 202 ? "accepted" : String(r.json.check ?? r.status);
      byCheck.set(k, (byCheck.get(k) ?? 0) + 1);
    }
    assert.ok((byCheck.get("accepted") ?? 0) <= OPEN_REQUESTS, JSON.stringify([...byCheck]));
    assert.ok((byCheck.get("open-lane-limit") ?? 0) > 0, JSON.stringify([...byCheck]));
    assert.deepEqual(
      [...byCheck.keys()].filter((k) => !["accepted", "open-lane-limit"].includes(k)),
      [],
      JSON.stringify([...byCheck]),
    );

    // Charged from receipts: every row mined, its gasUsed the receipt's; the open lane within budget.
    await attack.relay.settled();
    const rows = (await attackDb("relay_requests").select("tx_hash", "lane", "gas_used")) as {
      tx_hash: Hex;
      lane: string;
      gas_used: string | null;
    }[];
    let openGas = 0n;
    for (const row of rows) {
      assert.ok(row.gas_used !== null, `${row.tx_hash} has its receipt recorded`);
      const receipt = await env.publicClient.getTransactionReceipt({ hash: row.tx_hash });
      assert.equal(BigInt(row.gas_used), receipt.gasUsed);
      if (row.lane === "open") openGas += receipt.gasUsed;
    }
    assert.ok(openGas > 0n && openGas <= OPEN_GAS, `open lane spent ${openGas} gas`);
    assert.deepEqual(
      rows.filter((r) => r.lane !== "open").map((r) => [r.tx_hash, r.lane]),
      [[sent.json.txHash, "protective"]],
    );
  });

  test("behavior: with the open lane used up by strangers, a gatekeeper's creation through a peer relay, vouched by the member key, lands in the member lane; a forged voucher and a non-member's voucher are refused (bad-voucher, 401), and a submitter whose key peers do not know sends again without one", async () => {
    const { env } = net;
    const patient = await net.patient(net.urls[0] as string);
    const create = encodeFunctionData({
      abi: relationshipAbi,
      functionName: "create",
      args: [patient.address, "0x5ea1ed"],
    });
    // The flood above used up the open lane: a creation from a fresh delegate key without a voucher is refused.
    const delegate = privateKeyToAccount(generatePrivateKey());
    const unvouched = await signed(delegate, env.contracts.Relationship, create);
    await expectRefusal(attack.url, unvouched, 429, "open-lane-limit");
    // Vouchers that are not the member key's for this very request: refused before anything else.
    const parsed = relayRequestSchema.parse(unvouched).request;
    const other = { ...parsed, deadline: parsed.deadline + 1 };
    const stranger = privateKeyToAccount(generatePrivateKey());
    for (const voucher of [
      await signVoucher(member, other, domain()),
      await signVoucher(stranger, parsed, domain()),
      await signForwardRequest(member, parsed, domain()),
    ])
      await expectRefusal(attack.url, { ...unvouched, voucher }, 401, "bad-voucher", /member key/);

    // Lakeside's submitter (peers.ts, with the member key) sends its delegate's creation to the
    // flooded relay — every peer URL routed there — with a voucher: served in the member lane.
    const submitter = createRelaySubmitter({
      client: { publicClient: env.publicClient },
      settings: { ...env.settings({}, 1), relay: defaultRelaySettings(members) },
      own: net.gk(1).chain?.relay as RelayService,
      logger: silent,
      fetch: (_url, init) => fetch(`${attack.url}/v1/relay`, init),
    });
    const { receipt } = await relayAndWait({
      client: env.publicClient,
      forwarder: env.contracts.Forwarder,
      account: delegate,
      to: env.contracts.Relationship,
      data: create,
      submit: (relay) => submitter.submit(relay),
    });
    const [created] = parseEventLogs({
      abi: relationshipAbi,
      logs: receipt.logs,
      eventName: "RelationshipCreated",
    });
    assert.equal(created?.args.patient, patient.address);
    assert.equal(created?.args.provider, delegate.address);
    assert.equal(
      getAddress((await env.publicClient.getTransaction({ hash: receipt.transactionHash })).from),
      attack.relay.relayer,
    );
    const row = await attackDb("relay_requests").where({ tx_hash: receipt.transactionHash }).first();
    assert.deepEqual([row?.lane, row?.budget_key], ["member", `member:${member.address}`]);

    // A gatekeeper whose member key the peers do not know (a rotation not finished there): each
    // peer refuses its voucher, and the submitter sends the request again without one (open lane).
    const stale = createRelaySubmitter({
      client: { publicClient: env.publicClient },
      settings: { ...env.settings({}, 1), relay: defaultRelaySettings({ memberKey: generatePrivateKey() }) },
      own: net.gk(1).chain?.relay as RelayService,
      logger: silent,
    });
    const { receipt: again } = await relayAndWait({
      client: env.publicClient,
      forwarder: env.contracts.Forwarder,
      account: privateKeyToAccount(generatePrivateKey()),
      to: env.contracts.Relationship,
      data: create,
      submit: (relay) => stale.submit(relay),
    });
    const peer = getAddress((await env.publicClient.getTransaction({ hash: again.transactionHash })).from);
    assert.ok([relayers()[0], relayers()[2]].includes(peer), `${peer} is another provider's relayer`);
  });
});

describe("operations", () => {
  test("error: /v1/sponsor is gone (410) and points to the relay", async () => {
    const res = await fetch(`${net.urls[0]}/v1/sponsor`, { method: "POST" });
    assert.equal(res.status, 410);
    assert.match(res.headers.get("content-type") ?? "", /application\/problem\+json/);
    assert.match(res.headers.get("link") ?? "", /<\/v1\/relay>/);
    const json = (await res.json()) as Record<string, unknown>;
    assert.equal(json.relay, "/v1/relay");
    assert.match(String(json.detail), /\/v1\/relay/);
  });

  test("behavior: the relayer's balance is a gauge; /healthz is degraded (200) below the floor", async () => {
    const { env } = net;
    const metrics = await (await fetch(net.gk(0).metricsUrl)).text();
    const gauge = /^medrec_relayer_balance_wei (\S+)$/m.exec(metrics);
    assert.ok(gauge, "the gauge is exported");
    assert.ok(Number(gauge[1]) > 900e18 && Number(gauge[1]) <= 1000e18, gauge[1]);
    const balance = await env.publicClient.getBalance({ address: relayers()[0] as Address });
    assert.ok(Math.abs(Number(gauge[1]) - Number(balance)) < 1e16);

    const ok = await fetch(`${net.urls[0]}/healthz`);
    assert.equal(ok.status, 200);
    const okJson = (await ok.json()) as { status: string; checks: Record<string, { status: string }> };
    assert.equal(okJson.status, "ok");
    assert.equal(okJson.checks.relayer?.status, "ok");
    assert.equal(okJson.checks["relay-peers"]?.status, "ok");

    const low = await fetch(`${net.urls[2]}/healthz`);
    assert.equal(low.status, 200, "a low relayer does not take reads down");
    const lowJson = (await low.json()) as {
      status: string;
      checks: Record<string, { status: string; detail: string }>;
    };
    assert.equal(lowJson.status, "degraded");
    assert.equal(lowJson.checks.relayer?.status, "failing");
    assert.match(String(lowJson.checks.relayer?.detail), /below RELAYER_MIN_BALANCE_ETH/);
    assert.equal(lowJson.checks.chain?.status, "ok");
  });
});

describe("relaying through other providers (adr/0006)", () => {
  test("behavior: with every other relay stopped a publication waits (degraded, nothing from the own relayer), then lands through another's; opted in, it falls back to the own relay", async () => {
    const { env } = net;
    const { relationship: id } = await linkedPatient(net.urls[0] as string, 1, "RL-WAIT");
    const own = relayers()[1] as Address;
    const ownNonce = await env.publicClient.getTransactionCount({ address: own, blockTag: "pending" });

    await net.gk(0).stop();
    await net.gk(2).stop();
    net.gatekeepers[0] = undefined;
    net.gatekeepers[2] = undefined;
    const up = await net.staff(
      1,
      "/v1/patients/RL-WAIT/records",
      bundleOf("Patient/rl-wait", 1),
      "application/fhir+json",
    );
    assert.equal(up.status, 200, "records are stored and served meanwhile");
    const root = up.json.recordRoot as Hex;
    const health = await eventually("the relay-peers check to fail", async () => {
      const r = await fetch(`${net.urls[1]}/healthz`);
      const json = (await r.json()) as {
        status: string;
        checks: Record<string, { status: string; detail: string }>;
      };
      return json.checks["relay-peers"]?.status === "failing" ? { status: r.status, json } : undefined;
    });
    assert.ok(health);
    assert.equal(health.status, 200);
    assert.equal(health.json.status, "degraded");
    assert.match(health.json.checks["relay-peers"]?.detail ?? "", /wait and are retried/);
    const onChain = await relationshipOf(id);
    assert.notEqual(onChain.recordRoot, root, "not published while no other relay answers");
    assert.equal(
      await env.publicClient.getTransactionCount({ address: own, blockTag: "pending" }),
      ownNonce,
      "the own relayer sent nothing",
    );

    // Opted in (RELAY_OWN_FALLBACK_AFTER_MS=0), the same situation goes through the own relay.
    const fallback = createRelaySubmitter({
      client: { publicClient: env.publicClient },
      settings: { ...env.settings({}, 1), relay: defaultRelaySettings({ ownFallbackAfterMs: 0 }) },
      own: net.gk(1).chain?.relay as RelayService,
      logger: silent,
    });
    const dave = privateKeyToAccount(generatePrivateKey());
    const { receipt } = await relayAndWait({
      client: env.publicClient,
      forwarder: env.contracts.Forwarder,
      account: dave,
      to: env.contracts.Agent,
      data: encodeFunctionData({
        abi: agentAbi,
        functionName: "register",
        args: [`0x${"33".repeat(32)}`, [], 0],
      }),
      submit: (relay) => fallback.submit(relay),
    });
    assert.equal(
      getAddress((await env.publicClient.getTransaction({ hash: receipt.transactionHash })).from),
      own,
    );

    // Riverside is back: the waiting publication lands through its relay.
    await net.start(0);
    await eventually(
      "the waiting root on chain",
      async () => (await relationshipOf(id)).recordRoot === root,
      { timeoutMs: 90_000 },
    );
    const senders = await sendersOf("RootPublished", id);
    assert.equal(senders.at(-1), relayers()[0]);
    await eventually("the relay-peers check to recover", async () => {
      const json = (await (await fetch(`${net.urls[1]}/healthz`)).json()) as {
        checks: Record<string, { status: string }>;
      };
      return json.checks["relay-peers"]?.status === "ok";
    });
  });
});
