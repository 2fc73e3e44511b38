/**
 * The chain view's snapshot and what it follows, on a REAL geth v1.13.15 Clique network and a real
 * PostgreSQL server: a restart resumes from the saved cursor (asserted on the eth_getLogs calls it
 * makes, not on time), grants and revocations made while it was down and after it came back are
 * seen, a relationship linked after start is followed (before and after its creation), a saved
 * cursor that is no longer canonical and that its undo journal does not lead back from makes it
 * rebuild (a real reorganisation while down goes back through the journal: reorg.int.test.ts), and two
 * gatekeepers saving to one database never leave a row one of them follows behind the cursor.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "@medrec/testkit";
import { type Hex, zeroHash } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { type Chain, createChain } from "../src/chain/index.ts";
import { createChainView, type GetLogsCall, type LiveChainView } from "../src/chain/view.ts";
import { relationshipIdOf } from "../src/chain/writer.ts";
import { type ChainEnv, type Patient, relationshipAbi, silent, startChainEnv } from "./chain.support.ts";

let env: ChainEnv;
let chain: Chain;
const views: LiveChainView[] = [];
const noRecords = {
  recordSet: async (patientId: number) => ({ patientId, root: zeroHash, resources: [], proofs: [] }),
  onChange: () => () => undefined,
};
const now = () => Math.floor(Date.now() / 1000);
const expiresAt = () => BigInt(now() + 3600);

/** A second view on the same database and node (a restarted gatekeeper), recording its eth_getLogs calls. */
async function restartedView(): Promise<{ view: LiveChainView; calls: GetLogsCall[] }> {
  const calls: GetLogsCall[] = [];
  const view = createChainView({
    client: chain.client,
    settings: chain.settings,
    db: env.db,
    logger: silent,
    onGetLogs: (call) => calls.push(call),
  });
  views.push(view);
  await view.start();
  view.assertCurrent();
  return { view, calls };
}

/** Sends a Relationship call as `from` and waits for its block. */
async function relationshipCall(
  from: Patient["account"] | PrivateKeyAccount,
  functionName: "grant" | "revoke" | "create",
  args: readonly unknown[],
): Promise<bigint> {
  const hash = await env.send(from, {
    address: env.contracts.Relationship,
    abi: relationshipAbi,
    functionName,
    args,
  });
  const receipt = await env.receipt(hash);
  assert.equal(receipt.status, "success");
  return receipt.blockNumber;
}

/** A relationship created by a stranger's delegate (not linked to any view), with one viewer granted `scopes`. */
async function grantedRelationship(scopes: number) {
  const patient = await env.patient();
  const delegate = await env.account();
  const id = relationshipIdOf(patient.address, delegate.address);
  const viewer = privateKeyToAccount(generatePrivateKey()).address;
  await relationshipCall(delegate, "create", [patient.address, "0x00"]);
  await relationshipCall(patient.account, "grant", [id, viewer, scopes, expiresAt(), "0x"]);
  return { patient, id, viewer };
}

before(async () => {
  env = await startChainEnv("chain_view_int");
  chain = await createChain({ db: env.db, logger: silent, records: noRecords, settings: env.settings() });
});

after(async () => {
  for (const view of views) await view.stop();
  await chain?.stop();
  await env?.stop();
});

describe("ChainView snapshot", () => {
  test("behavior: a restart resumes from the saved cursor, fetches nothing before it, and sees grants and revocations from while it was down and after", async () => {
    const patient = await env.patient();
    const { relationship: id } = await chain.writer.registerPatient("MRN-RESUME", patient.address);
    const early = privateKeyToAccount(generatePrivateKey()).address;
    const late = privateKeyToAccount(generatePrivateKey()).address;
    const granted = await relationshipCall(patient.account, "grant", [id, early, 3, expiresAt(), "0x"]);
    await chain.view.waitForBlock(granted);
    assert.equal(chain.view.viewerScopes(id, early, now()), 3);
    await chain.stop();
    const saved = BigInt((await env.db("chain_view_cursor").first("block"))?.block ?? -1);
    assert.ok(saved >= granted, "the poll that applied the grant saved the snapshot");

    // While down: the early viewer is revoked and the late one granted.
    await relationshipCall(patient.account, "revoke", [id, early]);
    const downTo = await relationshipCall(patient.account, "grant", [id, late, 1, expiresAt(), "0x"]);

    const { view, calls } = await restartedView();
    assert.equal(view.resumedFrom, saved, "it loaded the snapshot saved at the last applied block");
    assert.ok(calls.length > 0);
    for (const call of calls)
      assert.ok(
        call.fromBlock > saved,
        `fetched from ${call.fromBlock}, at or before the saved cursor ${saved}`,
      );
    await view.waitForBlock(downTo);
    assert.equal(view.viewerScopes(id, early, now()), 0, "revoked while down");
    assert.equal(view.viewerScopes(id, late, now()), 1, "granted while down");
    assert.equal(
      view.isPatientController(id, patient.address),
      true,
      "the patient's agent came from the snapshot",
    );

    // After the restart, live.
    await view.waitForBlock(await relationshipCall(patient.account, "revoke", [id, late]));
    assert.equal(view.viewerScopes(id, late, now()), 0);
    await view.waitForBlock(
      await relationshipCall(patient.account, "grant", [id, early, 5, expiresAt(), "0x"]),
    );
    assert.equal(view.viewerScopes(id, early, now()), 5);
    assert.deepEqual(view.relationshipsOf(early, now()), [{ id, role: "viewer" }]);
  });

  test("behavior: a relationship linked after start is followed, whether linked before its creation or after", async () => {
    const view = views.at(-1) ?? (await restartedView()).view;
    const viewer = privateKeyToAccount(generatePrivateKey()).address;
    /** Links `id`, then waits for a poll that started after the link. */
    const link = async (id: Hex, patientId: number) => {
      view.link(id, patientId);
      await view.waitForBlock((await env.publicClient.getBlockNumber()) + 1n);
    };

    // Linked first, created after (what the writer does).
    const before = await env.patient();
    const delegateBefore = await env.account();
    const idBefore = relationshipIdOf(before.address, delegateBefore.address);
    await link(idBefore, 9001);
    assert.equal(view.relationship(idBefore), undefined, "not created yet");
    await relationshipCall(delegateBefore, "create", [before.address, "0x00"]);
    await view.waitForBlock(
      await relationshipCall(before.account, "grant", [idBefore, viewer, 2, expiresAt(), "0x"]),
    );
    assert.equal(view.patientIdOf(idBefore), 9001);
    assert.equal(view.viewerScopes(idBefore, viewer, now()), 2);
    assert.equal(view.isPatientController(idBefore, before.address), true);

    // Created and granted first, linked after (another process linked it): its past logs are fetched.
    const afterwards = await env.patient();
    const delegateAfter = await env.account();
    const idAfter = relationshipIdOf(afterwards.address, delegateAfter.address);
    await relationshipCall(delegateAfter, "create", [afterwards.address, "0x00"]);
    await relationshipCall(afterwards.account, "grant", [idAfter, viewer, 4, expiresAt(), "0x"]);
    assert.equal(view.relationship(idAfter), undefined, "not followed yet");
    await link(idAfter, 9002);
    assert.equal(view.patientIdOf(idAfter), 9002);
    assert.equal(view.viewerScopes(idAfter, viewer, now()), 4);
    assert.equal(view.isPatientController(idAfter, afterwards.address), true);
    assert.equal(view.encryptionKeyOf(afterwards.address), afterwards.encryption.publicKey);
  });

  test("behavior: a saved cursor that is no longer canonical and that no saved checkpoint leads back from (an edited snapshot) is rebuilt from the deployment block — reorg.int.test covers the journal's way back", async () => {
    const running = views.at(-1) ?? (await restartedView()).view;
    await running.stop();
    const { id, viewer } = await grantedRelationship(6);
    // The snapshot of a running view, then its cursor's block replaced as a reorganisation would.
    const { view: saver } = await restartedView();
    saver.link(id, 9003);
    await saver.waitForBlock((await env.publicClient.getBlockNumber()) + 1n);
    assert.equal(saver.viewerScopes(id, viewer, now()), 6);
    await saver.stop();
    await env.db("chain_view_cursor").update({ block_hash: `0x${"ab".repeat(32)}` });

    const { view, calls } = await restartedView();
    assert.ok(
      calls.some((c) => c.fromBlock === env.contracts.registryBlock),
      "the followed ids were fetched again from the deployment block",
    );
    view.link(id, 9003);
    await view.waitForBlock((await env.publicClient.getBlockNumber()) + 1n);
    assert.equal(view.viewerScopes(id, viewer, now()), 6);
    const stored = await env.db("chain_view_cursor").first("block_hash");
    assert.notEqual(stored?.block_hash, `0x${"ab".repeat(32)}`, "the snapshot was replaced");
  });

  test("behavior: two gatekeepers on one database: one that does not follow a saved relationship follows it before it saves, so no row stays behind the cursor", async () => {
    for (const v of views) await v.stop();
    const { view: first } = await restartedView();
    const { view: second, calls } = await restartedView();
    const { patient, id, viewer } = await grantedRelationship(7);
    // Only the first links it (the second has not read the patients table yet) and saves it.
    first.link(id, 9004);
    await first.waitForBlock((await env.publicClient.getBlockNumber()) + 1n);
    await first.stop();
    const stored = await env.db("chain_view_relationships").where({ id }).first("state");
    assert.equal(stored?.state?.grants?.[0]?.[1], 7, "the first saved the relationship with its grant");

    // The second cannot save past it without following it: it fetches its logs from the deployment block.
    const callsBefore = calls.length;
    await eventually("the second to follow the relationship the first saved", () =>
      // From the deployment block: by topic on a long chain, the contract's logs kept by id on a young one.
      calls.slice(callsBefore).some((c) => c.fromBlock === env.contracts.registryBlock),
    );
    const revoked = await relationshipCall(patient.account, "revoke", [id, viewer]);
    await eventually("the second to save past the revocation", async () => {
      const cursor = await env.db("chain_view_cursor").first("block");
      return BigInt(cursor?.block ?? 0) >= revoked;
    });
    await second.stop();
    const { view } = await restartedView();
    view.link(id, 9004);
    assert.equal(view.viewerScopes(id, viewer, now()), 0, "the saved row has the revocation");
    assert.equal(view.isPatientController(id, patient.address), true);
  });
});
