/**
 * Reorganisations on a REAL geth v1.13.15 Clique network of three sealers (1 s blocks): provider 0
 * is cut off from providers 1 and 2 (`partitionNetwork`), its sealer seals one block of its own
 * (Clique lets a lone signer of three seal once: it then signed the last block) holding grants, a
 * revocation, a relationship's creation and a custodian, while the majority seals on with other
 * grants, revocations, a creation and a root for the same patient. Healed, the majority's branch is
 * heavier and provider 0's RPC node switches to it: its gatekeeper's view — running, or restarted
 * from the snapshot it saved on the losing branch — goes back to the common ancestor, ends exactly
 * as a view built from scratch on the winning chain, and never fetches from the deployment block.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { blockNumber, ipcRpc, partitionNetwork, setSealing } from "@medrec/chain-node";
import { eventually } from "@medrec/testkit";
import type { Knex } from "knex";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type LocalAccount,
} from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import type { ChainClient } from "../src/chain/client.ts";
import {
  createChainView,
  type GetLogsCall,
  type LiveChainView,
  type Reorganisation,
} from "../src/chain/view.ts";
import { relationshipIdOf } from "../src/chain/writer.ts";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import {
  agentAbi,
  type ChainEnv,
  type Patient,
  relationshipAbi,
  silent,
  startChainEnv,
} from "./chain.support.ts";
import { createTestDatabase } from "./support/postgres.ts";

let env: ChainEnv;
const views: LiveChainView[] = [];
const dbs: Knex[] = [];
const now = () => Math.floor(Date.now() / 1000);
const expiresAt = () => BigInt(now() + 3600);

before(async () => {
  env = await startChainEnv("reorg_int", {
    providers: [
      { name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7101" },
      { name: "Lakeside Clinic", gatekeeperUrl: "http://127.0.0.1:7102" },
      { name: "Hilltop Medical", gatekeeperUrl: "http://127.0.0.1:7103" },
    ],
  });
});
after(async () => {
  for (const view of views) await view.stop();
  for (const db of dbs) await db.destroy();
  await env?.stop();
});

/** A view of provider 0's RPC node on its own database, recording its eth_getLogs calls and reorganisations. */
async function startView(name: string, link: readonly Hex[]) {
  const db = createDb(await createTestDatabase(env.pg.url, name));
  dbs.push(db);
  await migrateToLatest(db);
  return viewOn(db, link);
}
async function viewOn(db: Knex, link: readonly Hex[]) {
  const calls: GetLogsCall[] = [];
  const reorganisations: Reorganisation[] = [];
  const view = createChainView({
    client: {
      agent: env.contracts.Agent,
      relationship: env.contracts.Relationship,
      publicClient: env.publicClient,
    } as unknown as ChainClient,
    settings: env.settings(),
    db,
    logger: silent,
    onGetLogs: (call) => calls.push(call),
    onReorganised: (r) => reorganisations.push(r),
  });
  for (const [i, id] of link.entries()) view.link(id, 9100 + i);
  views.push(view);
  await view.start();
  return { view, db, calls, reorganisations };
}

/** Sends a call through provider `p`'s RPC node (with an explicit nonce: both branches use the same ones). */
async function sendVia(
  p: number,
  account: LocalAccount,
  call: { address: Address; abi: unknown; functionName: string; args: readonly unknown[] },
  nonce: number,
): Promise<Hex> {
  const rpcUrl = env.network.nodes[p]?.rpcUrl as string;
  const wallet = createWalletClient({
    account,
    chain: env.chain,
    transport: http(rpcUrl, { retryCount: 0 }),
  });
  return wallet.writeContract({ ...call, account, chain: env.chain, nonce, gas: 300_000n } as never);
}
const rpcClient = (p: number) =>
  createPublicClient({
    chain: env.chain,
    transport: http(env.network.nodes[p]?.rpcUrl as string, { retryCount: 0 }),
    pollingInterval: 50,
  });
const nonceOf = (account: LocalAccount) => env.publicClient.getTransactionCount({ address: account.address });
const rel = (functionName: string, args: readonly unknown[]) => ({
  address: env.contracts.Relationship,
  abi: relationshipAbi,
  functionName,
  args,
});

type Scenario = {
  patient: Patient;
  r1: Hex;
  r2: Hex;
  r3: Hex;
  delegate2: PrivateKeyAccount;
  delegate3: PrivateKeyAccount;
  viewers: Address[];
  custodian: Address;
};

/** Before the partition: the patient's relationship r1 with viewers 1 and 2; r2 and r3 not created yet. */
async function setUp(): Promise<Scenario> {
  const patient = await env.patient();
  const [delegate1, delegate2, delegate3] = [await env.account(), await env.account(), await env.account()];
  const viewers = Array.from({ length: 5 }, () => privateKeyToAccount(generatePrivateKey()).address);
  const r1 = relationshipIdOf(patient.address, delegate1.address);
  await env.receipt(await env.send(delegate1, rel("create", [patient.address, "0x00"])));
  await env.receipt(await env.send(patient.account, rel("grant", [r1, viewers[1], 1, expiresAt(), "0x"])));
  await env.receipt(await env.send(patient.account, rel("grant", [r1, viewers[2], 2, expiresAt(), "0x"])));
  return {
    patient,
    r1,
    r2: relationshipIdOf(patient.address, delegate2.address),
    r3: relationshipIdOf(patient.address, delegate3.address),
    delegate2,
    delegate3,
    viewers,
    custodian: privateKeyToAccount(generatePrivateKey()).address,
  };
}

/**
 * Cuts provider 0 off, lets its sealer seal one block holding the losing side's transactions, and
 * has the majority include the winning side's (same senders and nonces: the losing ones cannot be
 * replayed after the heal). Resolves with the losing block and the winning side's last block.
 */
async function split(s: Scenario, beforeHeal: (losingBlock: bigint) => Promise<void>) {
  const sealer0 = env.network.state.nodes[0]?.ipcPath as string;
  // Stopped first, until the others have sealed two blocks: then it has not signed any recent
  // block and may seal one alone.
  await setSealing(sealer0, false);
  const stoppedAt = await blockNumber(sealer0);
  await eventually(
    "two blocks without provider 0's sealer",
    async () => (await blockNumber(sealer0)) >= stoppedAt + 2n,
  );
  const partition = await partitionNetwork(env.network, [[0], [1, 2]]);
  let healed = false;
  try {
    const [pn, dn] = [await nonceOf(s.patient.account), await nonceOf(s.delegate2)];
    const dn3 = await nonceOf(s.delegate3);
    const p = s.patient.account;
    // Losing side (provider 0 alone): viewer 3 granted, viewer 2 revoked, r2 created, a custodian.
    const losing = [
      await sendVia(0, p, rel("grant", [s.r1, s.viewers[3], 3, expiresAt(), "0x"]), pn),
      await sendVia(0, p, rel("revoke", [s.r1, s.viewers[2]]), pn + 1),
      await sendVia(
        0,
        p,
        {
          address: env.contracts.Agent,
          abi: agentAbi,
          functionName: "addCustodian",
          args: [s.patient.address, s.custodian],
        },
        pn + 2,
      ),
      await sendVia(0, s.delegate2, rel("create", [s.patient.address, "0x00"]), dn),
    ];
    // All four in the lone sealer's pool before it seals its one block.
    await eventually("the losing side's transactions in provider 0's sealer's pool", async () => {
      const status = await ipcRpc<{ pending: Hex }>(sealer0, "txpool_status");
      return Number(status.pending) >= losing.length;
    });
    await setSealing(sealer0, true);
    const rpc0 = rpcClient(0);
    const losingBlocks = await Promise.all(
      losing.map((hash) => rpc0.waitForTransactionReceipt({ hash, timeout: 60_000, pollingInterval: 50 })),
    );
    const losingBlock = losingBlocks[0]?.blockNumber as bigint;
    assert.ok(
      losingBlocks.every((r) => r.blockNumber === losingBlock && r.status === "success"),
      "the lone sealer put the losing side in its one block",
    );
    // Winning side (providers 1 and 2): viewer 1 revoked, viewer 2 re-granted 5, viewer 4 granted,
    // r3 created with a root; delegate 2's nonce taken by a plain transfer to itself.
    const winning = [
      await sendVia(1, p, rel("revoke", [s.r1, s.viewers[1]]), pn),
      await sendVia(1, p, rel("grant", [s.r1, s.viewers[2], 5, expiresAt(), "0x"]), pn + 1),
      await sendVia(1, p, rel("grant", [s.r1, s.viewers[4], 4, expiresAt(), "0x"]), pn + 2),
      await createWalletClient({
        account: s.delegate2,
        chain: env.chain,
        transport: http(env.network.nodes[1]?.rpcUrl as string, { retryCount: 0 }),
      }).sendTransaction({ to: s.delegate2.address, value: 0n, nonce: dn }),
      await sendVia(1, s.delegate3, rel("create", [s.patient.address, "0x00"]), dn3),
      await sendVia(1, s.delegate3, rel("publishRoot", [s.r3, `0x${"77".repeat(32)}`, 1n]), dn3 + 1),
    ];
    const rpc1 = rpcClient(1);
    const winningBlocks = await Promise.all(
      winning.map((hash) => rpc1.waitForTransactionReceipt({ hash, timeout: 60_000, pollingInterval: 50 })),
    );
    for (const r of winningBlocks) assert.equal(r.status, "success");
    let winningTo = 0n;
    for (const r of winningBlocks) if (r.blockNumber > winningTo) winningTo = r.blockNumber;
    // The majority's branch must outweigh the lone block: a few blocks past it.
    await eventually(
      "the majority to seal past the losing block",
      async () => (await rpc1.getBlockNumber()) > losingBlock + 3n,
    );
    await beforeHeal(losingBlock);
    await partition.heal();
    healed = true;
    await eventually("provider 0's node to switch to the winning branch", async () => {
      const receipt = await rpc0
        .getTransactionReceipt({ hash: winning.at(-1) as Hex })
        .catch(() => undefined);
      return receipt?.blockNumber === winningBlocks.at(-1)?.blockNumber;
    });
    return { losingBlock, winningTo };
  } finally {
    if (!healed) await partition.heal().catch(() => undefined);
    await setSealing(sealer0, true).catch(() => undefined);
  }
}

describe("chain view: reorganisations on real geth", () => {
  test("behavior: a running view and a view restarted from the losing branch's snapshot go back to the common ancestor and end as a view built from scratch, without fetching from the deployment block", async () => {
    const s = await setUp();
    const link = [s.r1, s.r2, s.r3];
    const running = await startView("reorg_running", link);
    const restarted = await startView("reorg_restarted", link);
    const head = await env.publicClient.getBlockNumber();
    await running.view.waitForBlock(head);
    await restarted.view.waitForBlock(head);
    const callsBefore = { running: running.calls.length, restarted: restarted.calls.length };
    const v = (view: LiveChainView, i: number, id: Hex = s.r1) =>
      view.viewerScopes(id, s.viewers[i] as Address, now());

    // Both views apply the losing block; one stops there (its snapshot saved on the losing branch).
    const { losingBlock, winningTo } = await split(s, async (losingBlock) => {
      await eventually("both views to apply the losing block", () =>
        [running.view, restarted.view].every((view) => view.cursor >= losingBlock),
      );
      // The losing branch, as the views saw it (the lone sealer's head is old by now: they refuse reads).
      for (const { view } of [running, restarted]) {
        assert.equal(
          view.contents().relationships.find(([id]) => id === s.r2)?.[1]?.patientAgent,
          s.patient.address,
        );
      }
      await restarted.view.stop();
    });
    const afterRestart = await viewOn(restarted.db, link);
    for (const { view } of [running, afterRestart]) await view.waitForBlock(winningTo);

    const fresh = await startView("reorg_fresh", link);
    await fresh.view.waitForBlock(winningTo);
    for (const [name, { view }] of [
      ["running", running],
      ["restarted", afterRestart],
    ] as const) {
      assert.deepEqual(
        view.contents(),
        fresh.view.contents(),
        `${name}: the view equals one built from scratch`,
      );
      assert.equal(v(view, 1), 0, `${name}: viewer 1 revoked on the winning branch`);
      assert.equal(
        v(view, 2),
        5,
        `${name}: viewer 2's revocation on the losing branch is gone, its new grant is there`,
      );
      assert.equal(v(view, 3), 0, `${name}: viewer 3's grant on the losing branch is gone`);
      assert.equal(v(view, 4), 4, `${name}: viewer 4 granted on the winning branch`);
      assert.equal(view.relationship(s.r2), undefined, `${name}: r2 was created only on the losing branch`);
      assert.equal(view.relationship(s.r3)?.recordRoot, `0x${"77".repeat(32)}`, `${name}: r3 and its root`);
      assert.equal(
        view.isPatientController(s.r1, s.custodian),
        false,
        `${name}: the custodian was added only on the losing branch`,
      );
      assert.equal(view.isPatientController(s.r1, s.patient.address), true);
    }
    for (const { view } of [running, afterRestart]) {
      assert.ok(view.reorganisations.rolledBack >= 1, "went back to the common ancestor");
      assert.equal(view.reorganisations.rebuilt, 0, "never rebuilt from the deployment block");
    }
    assert.ok(
      (afterRestart.view.resumedFrom ?? 0n) >= losingBlock,
      "restarted from the losing branch's snapshot",
    );
    for (const [name, calls] of [
      ["running", running.calls.slice(callsBefore.running)],
      ["restarted", afterRestart.calls],
    ] as const)
      assert.deepEqual(
        calls.filter((c) => c.fromBlock === env.contracts.registryBlock),
        [],
        `${name}: nothing fetched from the deployment block`,
      );
    const reorg = running.reorganisations.find((r) => r.from >= losingBlock);
    assert.ok(reorg && reorg.ancestor !== undefined && reorg.ancestor < losingBlock);
    // Refused while the lone branch was stale (its head too old) and while going back: once its
    // node has switched, the view is current again within the freshness bound.
    const bound = env.settings().view.maxStalenessMs;
    assert.ok(
      reorg.ms <= bound,
      `went back and forward in ${reorg.ms} ms, within the freshness bound ${bound} ms`,
    );
    console.log(
      `# reorganisation: ${reorg.from - (reorg.ancestor as bigint)} block(s) gone back (cursor ${reorg.from} → ancestor ${reorg.ancestor} → head ${reorg.head}) in ${reorg.ms} ms; restarted view: ${afterRestart.reorganisations[0]?.ms} ms`,
    );
  });
});
