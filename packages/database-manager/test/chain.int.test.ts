/**
 * The chain part against a REAL geth v1.13.15 Clique network and a real PostgreSQL server: patient
 * registration, root publication under races and restarts, the permission view following events,
 * revocation latency, and fail-closed when the node stops.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  buildForwardRequest,
  openJson,
  providerDetailsSchema,
  providerDetailsSigner,
  relationshipAbi,
  serializeRelayRequest,
  signForwardRequest,
} from "@medrec/protocol";
import { eventually, percentile } from "@medrec/testkit";
import { type Address, encodeFunctionData, type Hex, keccak256, parseEventLogs, toHex, zeroHash } from "viem";
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { DelegateKeys } from "../src/chain/client.ts";
import { type Chain, createChain } from "../src/chain/index.ts";
import { createChainWriter, type RegisterPatientResult, relationshipIdOf } from "../src/chain/writer.ts";
import { ProblemError } from "../src/errors.ts";
import { patientsRepository } from "../src/patients/patients.repository.knex.ts";
import {
  agentAbi,
  type ChainEnv,
  DELEGATE_MNEMONIC,
  type Patient,
  silent,
  startChainEnv,
} from "./chain.support.ts";

let env: ChainEnv;
let chain: Chain;
/** Signs the sealed details (the audit log account in a deployment: adr/0015). */
const detailsSigner = privateKeyToAccount(generatePrivateKey());
const roots = new Map<number, Hex>();
const listeners = new Set<(patientId: number) => void>();
const records = {
  recordSet: async (patientId: number) => ({
    patientId,
    root: roots.get(patientId) ?? zeroHash,
    resources: [],
    proofs: [],
  }),
  onChange: (listener: (patientId: number) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
const rootOfVersion = (v: number) => keccak256(toHex(`content version ${v}`));

const readRelationship = (id: Hex) =>
  env.publicClient.readContract({
    address: env.contracts.Relationship,
    abi: relationshipAbi,
    functionName: "relationshipOf",
    args: [id],
  });
/** Relationship calls from `patient`, sent at once at consecutive nonces from `first`. */
const sendAll = (
  patient: Patient,
  first: number,
  calls: { functionName: string; args: readonly unknown[] }[],
) =>
  Promise.all(
    calls.map((call, i) =>
      env.send(
        patient.account,
        { address: env.contracts.Relationship, abi: relationshipAbi, ...call },
        { nonce: first + i },
      ),
    ),
  );

/** A second chain writer on the same database and keys: another (or a restarted) gatekeeper process. */
const anotherWriter = () =>
  createChainWriter({
    client: chain.client,
    settings: chain.settings,
    db: env.db,
    logger: silent,
    delegates: new DelegateKeys(DELEGATE_MNEMONIC),
    relay: chain.submitter,
    rootOf: (p) => records.recordSet(p).then((s) => s.root),
  });
const relationshipCount = (patient: Address) =>
  env.publicClient.readContract({
    address: env.contracts.Agent,
    abi: agentAbi,
    functionName: "relationshipCount",
    args: [patient],
  });

type Registered = { patient: Patient; patientId: number; id: Hex };
/** Patients registered (agent + relationship) in parallel in `before`, by MRN. */
const pool = new Map<string, Registered>();
const spare: Patient[] = [];
const registered = (mrn: string): Registered => {
  const r = pool.get(mrn);
  if (!r) throw new Error(`no pooled patient ${mrn}`);
  return r;
};
const sparePatient = (): Patient => {
  const p = spare.pop();
  if (!p) throw new Error("no spare patient left");
  return p;
};
const MRNS = [
  "MRN-0001",
  "MRN-0002",
  "MRN-RELINK",
  "MRN-TAKEN",
  "MRN-ROOTS",
  "MRN-VIEW",
  "MRN-LATENCY",
  "MRN-FAILCLOSED",
];

/** What a crashed process had done: `call` signed by `account` as a forward request, relayed, not awaited. */
async function sendRelayed(
  account: LocalAccount,
  call: {
    address: Address;
    abi: typeof relationshipAbi;
    functionName: "create" | "publishRoot";
    args: readonly unknown[];
  },
): Promise<Hex> {
  const domain = { chainId: env.chain.id, forwarder: env.contracts.Forwarder };
  const request = await buildForwardRequest({
    client: env.publicClient,
    forwarder: env.contracts.Forwarder,
    from: account.address,
    to: call.address,
    data: encodeFunctionData(call as never),
  });
  const signature = await signForwardRequest(account, request, domain);
  return (await chain.relay.relay(serializeRelayRequest(request, signature))).txHash;
}

async function expectProblem(promise: Promise<unknown>, kind: string, pattern?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ProblemError, `expected a ProblemError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.detail);
    if (pattern) assert.match(error.detail, pattern);
    return true;
  });
}

before(async () => {
  env = await startChainEnv("chain_int");
  chain = await createChain({ db: env.db, logger: silent, records, settings: env.settings(), detailsSigner });
  // Set-up in parallel: every transaction of a round lands in the same block.
  const patients = await Promise.all(Array.from({ length: MRNS.length + 4 }, () => env.patient()));
  const results = await Promise.all(
    MRNS.map((mrn, i) => chain.writer.registerPatient(mrn, (patients[i] as Patient).address)),
  );
  MRNS.forEach((mrn, i) => {
    pool.set(mrn, {
      patient: patients[i] as Patient,
      patientId: (results[i] as { patientId: number }).patientId,
      id: (results[i] as { relationship: Hex }).relationship,
    });
  });
  spare.push(...patients.slice(MRNS.length));
  await chain.writer.idle();
});

after(async () => {
  await chain?.stop();
  await env?.stop();
});

describe("registerPatient", () => {
  test("default: creates the relationship from a fresh delegate, with details only the patient can read", async () => {
    const { patient, patientId, id } = registered("MRN-0001");
    const info = await readRelationship(id);
    assert.equal(info.patient, patient.address);
    const row = await patientsRepository(env.db).byId(patientId);
    assert.ok(row);
    const delegate = new DelegateKeys(DELEGATE_MNEMONIC).account(row.delegateIndex).address;
    assert.equal(info.provider, delegate);
    assert.equal(id, relationshipIdOf(patient.address, delegate));
    assert.equal(row.relationshipId, id);
    // The delegate is not the provider's registry account (adr/0003).
    assert.notEqual(delegate, env.settings().provider.account);
    // It holds no ether and never sent a transaction: its create was a relayed forward request.
    assert.equal(await env.publicClient.getBalance({ address: delegate }), 0n);
    assert.equal(await env.publicClient.getTransactionCount({ address: delegate }), 0);

    const logs = await env.publicClient.getLogs({
      address: env.contracts.Relationship,
      fromBlock: env.contracts.registryBlock,
      toBlock: "latest",
    });
    const created = parseEventLogs({ abi: relationshipAbi, logs, eventName: "RelationshipCreated" }).find(
      (l) => l.args.id === id,
    );
    assert.ok(created);
    const details = providerDetailsSchema.parse(
      openJson(created.args.providerDetails, patient.encryption.secretKey),
    );
    assert.deepEqual(
      { name: details.name, gatekeeperUrl: details.gatekeeperUrl, account: details.account },
      env.settings().provider,
    );
    assert.equal(JSON.stringify(details).includes("MRN-0001"), false);
    // Signed by the provider's key for exactly this relationship, patient, delegate and URL (adr/0015).
    const claim = {
      chainId: env.chain.id,
      relationshipContract: env.contracts.Relationship,
      relationship: id,
      patient: patient.address,
      delegate,
    };
    assert.equal(await providerDetailsSigner(details, claim), detailsSigner.address);
    assert.notEqual(
      await providerDetailsSigner({ ...details, gatekeeperUrl: "https://elsewhere.example" }, claim),
      detailsSigner.address,
    );
    // Nothing readable in the log: neither the name nor the URL.
    assert.equal(Buffer.from(created.args.providerDetails.slice(2), "hex").includes("Riverside"), false);
    // The view learns it is ours.
    await eventually("the view to hold the relationship", () => chain.view.relationship(id));
    assert.equal(chain.view.patientIdOf(id), patientId);
    assert.equal(chain.view.isPatientController(id, patient.address), true);
  });

  test("behavior: registering again is idempotent", async () => {
    const { patient, patientId, id } = registered("MRN-0002");
    const again = await chain.writer.registerPatient("MRN-0002", patient.address.toLowerCase() as Address);
    assert.deepEqual(again, { patientId, relationship: id, created: false });
    assert.equal(await relationshipCount(patient.address), 1n);
  });

  test("behavior: a patient whose relationship ended is linked again, as a new relationship", async () => {
    const { patient, patientId, id } = registered("MRN-RELINK");
    const [ended] = await sendAll(
      patient,
      await env.publicClient.getTransactionCount({ address: patient.address }),
      [{ functionName: "end", args: [id] }],
    );
    assert.equal((await env.receipt(ended as Hex)).status, "success");
    assert.equal((await readRelationship(id)).ended, true);

    const again = (await chain.writer.registerPatient(
      "MRN-RELINK",
      patient.address,
    )) as RegisterPatientResult;
    assert.equal(again.patientId, patientId);
    assert.equal(again.created, true);
    assert.notEqual(again.relationship, id);
    const info = await readRelationship(again.relationship);
    assert.equal(info.patient, patient.address);
    assert.equal(info.ended, false);
    assert.equal((await readRelationship(id)).ended, true);
    assert.equal(await relationshipCount(patient.address), 2n);
    assert.equal((await patientsRepository(env.db).byId(patientId))?.relationshipId, again.relationship);
    // Linked: the same again is idempotent.
    assert.deepEqual(await chain.writer.registerPatient("MRN-RELINK", patient.address), {
      ...again,
      created: false,
    });
  });

  test("behavior: a crash after `create` was sent and before the link was stored loses nothing, creates nothing twice", async () => {
    const patient = sparePatient();
    const repo = patientsRepository(env.db);
    // The crashed process had stored the link and sent `create`, then died before storing the id.
    const row = await repo.insert("MRN-CRASH", patient.address);
    assert.ok(row);
    const delegate = new DelegateKeys(DELEGATE_MNEMONIC).account(row.delegateIndex);
    const hash = await sendRelayed(delegate, {
      address: env.contracts.Relationship,
      abi: relationshipAbi,
      functionName: "create",
      args: [patient.address, "0x00"],
    });
    // The retry runs while that transaction may still be pending.
    const result = await chain.writer.registerPatient("MRN-CRASH", patient.address);
    await env.receipt(hash);
    assert.equal(result.relationship, relationshipIdOf(patient.address, delegate.address));
    assert.equal((await repo.byId(row.id))?.relationshipId, result.relationship);
    assert.equal(await relationshipCount(patient.address), 1n);
  });

  test("error: bad input gets a clear problem", async () => {
    const unregistered = privateKeyToAccount(generatePrivateKey());
    await expectProblem(
      chain.writer.registerPatient("MRN-X1", unregistered.address),
      "unprocessable",
      /not a registered MedRec agent/,
    );
    await expectProblem(
      chain.writer.registerPatient("MRN-X2", "0x1234" as Address),
      "bad-request",
      /patientAddress/,
    );
    await expectProblem(chain.writer.registerPatient("bad mrn!", unregistered.address), "bad-request", /mrn/);
    const { patient } = registered("MRN-TAKEN");
    const other = sparePatient();
    await expectProblem(
      chain.writer.registerPatient("MRN-TAKEN", other.address),
      "conflict",
      /MRN is already linked/,
    );
    await expectProblem(
      chain.writer.registerPatient("MRN-OTHER", patient.address),
      "conflict",
      /address is already linked/,
    );
    // Nothing was linked for the refused attempts.
    assert.equal(
      await env.db("patients").whereIn("mrn", ["MRN-X1", "MRN-X2", "MRN-OTHER"]).first(),
      undefined,
    );
  });
});

describe("publishRoot", () => {
  let patientId: number;
  let id: Hex;
  let delegate: ReturnType<DelegateKeys["account"]>;

  before(async () => {
    ({ patientId, id } = registered("MRN-ROOTS"));
    const row = await patientsRepository(env.db).byId(patientId);
    delegate = new DelegateKeys(DELEGATE_MNEMONIC).account(row?.delegateIndex as number);
  });

  async function publishedVersions(): Promise<{ sequence: bigint; root: Hex }[]> {
    const logs = await env.publicClient.getLogs({
      address: env.contracts.Relationship,
      fromBlock: env.contracts.registryBlock,
      toBlock: "latest",
    });
    return parseEventLogs({ abi: relationshipAbi, logs, eventName: "RootPublished" })
      .filter((l) => l.args.id === id)
      .map((l) => ({ sequence: l.args.sequence, root: l.args.root }));
  }

  test("default: publishes the current root with sequence on-chain + 1; nothing when unchanged", async () => {
    roots.set(patientId, rootOfVersion(0));
    const first = await chain.writer.publishRoot(patientId);
    assert.deepEqual(first, { root: rootOfVersion(0), sequence: 1n });
    assert.equal(await chain.writer.publishRoot(patientId), undefined);
    const info = await readRelationship(id);
    assert.equal(info.recordRoot, rootOfVersion(0));
    assert.equal(info.sequence, 1n);
  });

  test("behavior: concurrent publishes from two writers (two processes) while content changes never leave a stale root", async () => {
    const other = anotherWriter();
    const calls: Promise<unknown>[] = [];
    for (let v = 1; v <= 8; v++) {
      roots.set(patientId, rootOfVersion(v));
      calls.push((v % 2 ? chain.writer : other).publishRoot(patientId));
      calls.push((v % 2 ? other : chain.writer).publishRoot(patientId));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 600)));
    }
    const results = await Promise.allSettled(calls);
    assert.deepEqual(
      results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
    const info = await readRelationship(id);
    assert.equal(info.recordRoot, rootOfVersion(8), "the chain holds the newest content's root");
    const published = await publishedVersions();
    const versions = published.map((p) => [...Array(9).keys()].find((v) => rootOfVersion(v) === p.root));
    assert.deepEqual(
      published.map((p) => p.sequence),
      published.map((_, i) => BigInt(i + 1)),
    );
    for (let i = 1; i < versions.length; i++)
      assert.ok(
        (versions[i] as number) > (versions[i - 1] as number),
        `published out of order: ${versions.join(",")}`,
      );
  });

  test("behavior: a publication left in flight by a crashed process does not win over a newer root", async () => {
    const before = await readRelationship(id);
    // The crashed process had sent an older root with the next sequence.
    const hash = await sendRelayed(delegate, {
      address: env.contracts.Relationship,
      abi: relationshipAbi,
      functionName: "publishRoot",
      args: [id, rootOfVersion(100), before.sequence + 1n],
    });
    // After the restart the content is newer.
    roots.set(patientId, rootOfVersion(101));
    const restarted = anotherWriter();
    await restarted.reconcile();
    await env.receipt(hash);
    const info = await readRelationship(id);
    assert.equal(info.recordRoot, rootOfVersion(101));
    assert.ok(info.sequence >= before.sequence + 1n);
  });

  test("behavior: a records change notification publishes the new root", async () => {
    roots.set(patientId, rootOfVersion(200));
    for (const l of listeners) l(patientId);
    await eventually(
      "the view to see the new root",
      () => chain.view.relationship(id)?.recordRoot === rootOfVersion(200),
    );
  });
});

describe("ChainView", () => {
  test("behavior: follows grants (with expiry), revocation, custodians, ownership transfer and ending", async () => {
    const { patient, id } = registered("MRN-VIEW");
    const viewer = privateKeyToAccount(generatePrivateKey()).address;
    const custodian = privateKeyToAccount(generatePrivateKey()).address;
    const now = () => Math.floor(Date.now() / 1000);
    const viewer2 = privateKeyToAccount(generatePrivateKey()).address;
    // Each round sends its transactions together (consecutive nonces), so they share a block.
    const round = async (
      calls: { contract: "Agent" | "Relationship"; functionName: string; args: readonly unknown[] }[],
    ) => {
      const nonce = await env.publicClient.getTransactionCount({
        address: patient.address,
        blockTag: "pending",
      });
      const hashes = await Promise.all(
        calls.map((c, i) =>
          env.send(
            patient.account,
            {
              address: c.contract === "Agent" ? env.contracts.Agent : env.contracts.Relationship,
              abi: c.contract === "Agent" ? agentAbi : relationshipAbi,
              functionName: c.functionName,
              args: c.args,
            },
            { nonce: nonce + i },
          ),
        ),
      );
      for (const r of await Promise.all(hashes.map(env.receipt))) assert.equal(r.status, "success");
    };
    const newOwner = await env.account();
    assert.equal(chain.view.viewerScopes(id, viewer, now()), 0);

    const expiresAt = BigInt(now() + 3600);
    await round([
      { contract: "Relationship", functionName: "grant", args: [id, viewer, 0b101, expiresAt, "0x"] },
      { contract: "Agent", functionName: "addCustodian", args: [patient.address, custodian] },
    ]);
    await eventually("the grant", () => chain.view.viewerScopes(id, viewer, now()) === 0b101);
    assert.equal(chain.view.viewerScopes(id, viewer, Number(expiresAt)), 0, "expired at expiresAt");
    assert.deepEqual(chain.view.relationshipsOf(viewer, now()), [{ id, role: "viewer" }]);
    assert.deepEqual(chain.view.relationshipsOf(patient.address, now()), [{ id, role: "patient" }]);
    assert.equal(chain.view.isPatientController(id, viewer), false);
    assert.equal(chain.view.isPatientController(id, custodian), true, "custodians control");

    await round([
      { contract: "Relationship", functionName: "revoke", args: [id, viewer] },
      { contract: "Agent", functionName: "removeCustodian", args: [patient.address, custodian] },
      { contract: "Relationship", functionName: "grant", args: [id, viewer2, 0b1, expiresAt, "0x"] },
    ]);
    await eventually("the revocation", () => chain.view.viewerScopes(id, viewer, now()) === 0);
    assert.deepEqual(chain.view.relationshipsOf(viewer, now()), []);
    assert.equal(chain.view.isPatientController(id, custodian), false, "a removed custodian loses control");
    assert.equal(chain.view.viewerScopes(id, viewer2, now()), 1);

    await round([
      { contract: "Agent", functionName: "transferOwnership", args: [patient.address, newOwner.address] },
    ]);
    await eventually("the new owner", () => chain.view.isPatientController(id, newOwner.address));
    assert.equal(chain.view.isPatientController(id, patient.address), false, "the old owner lost control");

    await env
      .send(newOwner, {
        address: env.contracts.Relationship,
        abi: relationshipAbi,
        functionName: "end",
        args: [id],
      })
      .then(env.receipt);
    await eventually("the end", () => chain.view.relationship(id)?.ended);
    assert.equal(chain.view.viewerScopes(id, viewer2, now()), 0, "viewers lose access when it ends");
    assert.equal(chain.view.isPatientController(id, newOwner.address), true, "the patient keeps access");
  });

  test("behavior: only this provider's relationships are visible", async () => {
    const patient = sparePatient();
    const stranger = await env.account();
    const hash = await env.send(stranger, {
      address: env.contracts.Relationship,
      abi: relationshipAbi,
      functionName: "create",
      args: [patient.address, "0x00"],
    });
    const { blockNumber } = await env.receipt(hash);
    await chain.view.waitForBlock(blockNumber);
    const id = relationshipIdOf(patient.address, stranger.address);
    assert.equal(chain.view.relationship(id), undefined);
    assert.equal(chain.view.patientIdOf(id), undefined);
    assert.equal(chain.view.isPatientController(id, patient.address), false);
  });

  test("behavior: every revocation is enforced once its block is in (latency printed; measured in bench:gatekeeper)", async () => {
    const { patient, id } = registered("MRN-LATENCY");
    const viewers = Array.from({ length: 36 }, () => privateKeyToAccount(generatePrivateKey()).address);
    const now = () => Math.floor(Date.now() / 1000);
    const expiresAt = BigInt(now() + 3600);
    let nonce = await env.publicClient.getTransactionCount({ address: patient.address, blockTag: "pending" });
    const grants = await sendAll(
      patient,
      nonce,
      viewers.map((v) => ({ functionName: "grant", args: [id, v, 1, expiresAt, "0x"] })),
    );
    nonce += viewers.length;
    await Promise.all(grants.map(env.receipt));
    await eventually("every grant", () => viewers.every((v) => chain.view.viewerScopes(id, v, now()) === 1));

    const latencies: number[] = [];
    for (let batch = 0; batch < 3; batch++) {
      const group = viewers.slice(batch * 12, batch * 12 + 12);
      const hashes = await sendAll(
        patient,
        nonce,
        group.map((v) => ({ functionName: "revoke", args: [id, v] })),
      );
      nonce += group.length;
      await Promise.all(
        group.map(async (v, i) => {
          await env.receipt(hashes[i] as Hex);
          const t0 = performance.now();
          await eventually(`revocation of ${v}`, () => chain.view.viewerScopes(id, v, now()) === 0, {
            intervalMs: 2,
          });
          latencies.push(performance.now() - t0);
        }),
      );
      await new Promise((r) => setTimeout(r, 300 * batch));
    }
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    console.log(
      `# revocation enforcement (receipt → viewerScopes 0), n=${latencies.length}: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${Math.max(...latencies).toFixed(0)} ms (block period 1000 ms, poll ${chain.settings.view.pollIntervalMs} ms)`,
    );
    assert.equal(latencies.length, viewers.length);
    assert.ok(viewers.every((v) => chain.view.viewerScopes(id, v, now()) === 0));
  });
});

describe("fail-closed", () => {
  test("error: when the node stops the view refuses (503) and denies; it recovers when the node is back", async () => {
    const { patient, id } = registered("MRN-FAILCLOSED");
    const viewer = privateKeyToAccount(generatePrivateKey()).address;
    const now = () => Math.floor(Date.now() / 1000);
    await env
      .send(patient.account, {
        address: env.contracts.Relationship,
        abi: relationshipAbi,
        functionName: "grant",
        args: [id, viewer, 1, BigInt(now() + 3600), "0x"],
      })
      .then(env.receipt);
    await eventually("the grant", () => chain.view.viewerScopes(id, viewer, now()) === 1);
    chain.view.assertCurrent();
    await chain.health.check();

    const node = env.network.nodes[0];
    assert.ok(node);
    const stoppedAt = performance.now();
    await node.stop();
    await eventually(
      "the view to refuse",
      () => {
        try {
          chain.view.assertCurrent();
          return false;
        } catch (error) {
          assert.ok(error instanceof ProblemError);
          assert.equal(error.kind, "unavailable");
          return true;
        }
      },
      { timeoutMs: 10_000 },
    );
    console.log(`# fail-closed after the node stopped: ${(performance.now() - stoppedAt).toFixed(0)} ms`);
    assert.equal(chain.view.viewerScopes(id, viewer, now()), 0, "deny while stale");
    await assert.rejects(chain.health.check());
    // The database still answers while the chain is unknown (only chain decisions fail closed).
    const patients = Number((await env.db("patients").count({ n: "*" }))[0]?.n);
    assert.ok(patients >= 1, `patients readable while the node is down (read ${patients})`);
    await expectProblem(chain.writer.registerPatient("MRN-DOWN", patient.address), "unavailable");

    await node.start();
    await eventually(
      "the view to be current again",
      () => {
        chain.view.assertCurrent();
        return true;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(chain.view.viewerScopes(id, viewer, now()), 1);
    await chain.health.check();
  });
});
