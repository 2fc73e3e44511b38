/**
 * The patient's data layer (`@medrec/protocol/patient`) against the whole local system — one
 * `startSystem` (three providers, each with geth nodes and a gatekeeper on its own PostgreSQL) for
 * every case, in the order a patient would meet them: discover, read and verify, be notified of new
 * records, share and revoke, read the access log, then what goes wrong — a row altered behind a
 * gatekeeper's back, a gatekeeper down.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createDb } from "@medrec/database-manager";
import {
  accountFromMnemonic,
  agentAbi,
  apiPaths,
  encryptionKeyPairFromMnemonic,
  type FhirBundle,
  fetchVerifiedRecords,
  GatekeeperRequestError,
  gatekeeperJson,
  generatePatientMnemonic,
  OBSERVATION_CATEGORY_SYSTEM,
  parseManifest,
  relationshipAbi,
  resourceCategories,
  signIn,
} from "@medrec/protocol";
import {
  decodeRelationshipEntry,
  lyingBody,
  NODE_LIES,
  type NodeLie,
  relationshipEntrySlots,
} from "@medrec/protocol/light-client";
import {
  acknowledgeRecords,
  addCustodian,
  approveRecovery,
  cancelRecovery,
  chainNow,
  createPatientClient,
  discoverAllRelationships,
  discoverRelationships,
  filterTimeline,
  hasNewRecords,
  type KnownStrangers,
  lightClientOf,
  listActiveGrants,
  loadAccessLog,
  loadPatientRecords,
  loadProviderAccessLog,
  type PatientContext,
  type PatientNetwork,
  type PatientNotification,
  type PatientRecords,
  type PatientRelationship,
  patientContextFromMnemonic,
  patientNetworkFromManifest,
  type RecordsEvent,
  readRecordRoot,
  readRecoveryState,
  removeCustodian,
  revokeAccess,
  setRecoveryThreshold,
  shareRecords,
  verifiedTimelineItems,
  watchPatient,
} from "@medrec/protocol/patient";
import { eventually } from "@medrec/testkit";
import { pino } from "pino";
import { createPublicClient, decodeFunctionData, type Hex, http, keccak256, toHex } from "viem";
import { createJunkRelationships } from "./junk.ts";
import { type ProviderHandle, type System, startSystem, uploadAsStaff } from "./system.ts";

let system: System;
let ctx: PatientContext;
let relationships: PatientRelationship[];
let records: PatientRecords;
const notifications: PatientNotification[] = [];
let stopWatching: (() => void) | undefined;

const handle = (name: string): ProviderHandle => {
  const found = system.providers.find((p) => p.name === name);
  assert.ok(found, name);
  return found;
};
const relationshipAt = (name: string): PatientRelationship => {
  const found = relationships.find((r) => r.provider?.name === name);
  assert.ok(found, `a relationship with ${name}`);
  return found;
};

/** Three lab results nobody uploaded before: what the notification must count. */
function newLabs(prefix: string): FhirBundle {
  const lab = (i: number, value: number) => ({
    resourceType: "Observation",
    id: `${prefix}-${i}`,
    status: "final",
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
    code: { coding: [{ system: "http://loinc.org", code: "4548-4", display: "Hemoglobin A1c" }] },
    subject: { reference: "Patient/lakeside-patient" },
    effectiveDateTime: `2025-11-0${i + 1}T09:00:00Z`,
    valueQuantity: { value, unit: "%", system: "http://unitsofmeasure.org", code: "%" },
  });
  return {
    resourceType: "Bundle",
    type: "collection",
    entry: [lab(0, 6.9), lab(1, 7.1), lab(2, 7.4)].map((resource) => ({ resource })),
  };
}

/** Whether `error` is a gatekeeper's 403. */
const forbidden = (error: unknown) => error instanceof GatekeeperRequestError && error.status === 403;

/** The owner role of a provider's embedded PostgreSQL (the runtime role may not edit what we alter). */
async function ownerDb(provider: ProviderHandle) {
  const password = (await readFile(path.join(provider.dataDir, "postgres.password"), "utf8")).trim();
  const runtime = (provider.gatekeeper.db.client.config as { connection: { connectionString: string } })
    .connection;
  const port = new URL(runtime.connectionString).port;
  return createDb(`postgresql://medrec:${encodeURIComponent(password)}@127.0.0.1:${port}/medrec`, {
    poolMax: 1,
  });
}

describe("the patient's data layer against a running system", () => {
  before(async () => {
    system = await startSystem({
      periodSeconds: 1,
      gatekeeperPort: 0,
      corsOrigins: [],
      log: () => undefined,
      logger: pino({ level: "silent" }),
    });
    const manifest = parseManifest(system.manifest);
    assert.ok(manifest.demo);
    ctx = await patientContextFromMnemonic({
      network: patientNetworkFromManifest(manifest),
      mnemonic: manifest.demo.patientMnemonic,
    });
  });
  after(async () => {
    stopWatching?.();
    await system?.stop();
  });

  it("behavior: the demo patient finds three relationships with their providers' names, from the chain alone", async () => {
    relationships = await discoverRelationships(ctx);
    assert.deepEqual(relationships.map((r) => [r.status, r.provider?.name]).sort(), [
      ["ok", "Hilltop Medical"],
      ["ok", "Lakeside Clinic"],
      ["ok", "Riverside General"],
    ]);
    for (const r of relationships) {
      assert.equal(r.id, handle(r.provider?.name ?? "").relationship);
      assert.ok(r.sequence >= 1n, "a root is published");
    }
  });

  it("behavior: every record at every provider is read and verified against the chain, first pages streamed", async () => {
    const events: RecordsEvent[] = [];
    records = await loadPatientRecords({ ctx, relationships, pageSize: 50, onEvent: (e) => events.push(e) });
    for (const p of records.providers) {
      assert.equal(p.status, "verified", `${p.provider}: ${p.error?.message ?? JSON.stringify(p.failures)}`);
      assert.equal(p.unverified.length, 0);
      assert.equal(p.resources.length, handle(p.provider).resources, `${p.provider}: every record`);
      assert.equal(
        p.onChainRoot,
        (await readRecordRoot(ctx.client, ctx.network, p.relationship.id)).toLowerCase(),
      );
    }
    // A page event per page, each before its provider's final status.
    for (const p of records.providers) {
      const mine = events.filter((e) => e.provider === p.provider);
      assert.ok(mine.filter((e) => e.type === "page").length >= Math.ceil(p.total / 50));
      assert.equal(mine.at(-1)?.type, "status");
      assert.equal(
        mine.flatMap((e) => (e.type === "page" ? e.items : [])).length,
        p.resources.length,
        "the streamed lines are the verified records",
      );
    }
    // The demo's labs as a patient reads them: value, unit, reference range, and the out-of-range ones flagged.
    const labs = filterTimeline(verifiedTimelineItems(records), { categories: ["labs"] }).filter(
      (i) => i.resourceType === "Observation",
    );
    assert.ok(labs.length > 10, `${labs.length} lab results`);
    assert.ok(
      labs.every((i) => i.value?.unit && i.range && i.flag),
      "every demo lab has unit, range and flag",
    );
    assert.ok(
      labs.some((i) => i.provider === "Lakeside Clinic" && /A1c/i.test(i.title) && i.flag === "high"),
      "a high HbA1c at Lakeside Clinic",
    );
  });

  it("error: Lakeside Clinic's RPC node behind a proxy that rewrites its answers — another root, a hidden value, a forged proof, a header changed under its hash — makes Lakeside not-verifiable, in words; the others verify; relationships and grants are still proven through the honest nodes", async () => {
    const liar = ctx.network.providers.find((p) => p.name === "Lakeside Clinic");
    assert.ok(liar?.rpcUrl);
    let lie: NodeLie = "root";
    const proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString("utf8");
      const real = await fetch(liar.rpcUrl ?? "", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(lyingBody(lie, JSON.parse(body), await real.json())));
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const { port } = proxy.address() as AddressInfo;
    try {
      const honestGrants = await listActiveGrants({ ctx, relationships });
      assert.ok(honestGrants.length > 0, "the demo's family member holds grants");
      for (const next of NODE_LIES) {
        lie = next;
        // The liar first in the list: asked first for what is read through any node.
        const network: PatientNetwork = {
          ...ctx.network,
          providers: [
            { ...liar, rpcUrl: `http://127.0.0.1:${port}` },
            ...ctx.network.providers.filter((p) => p !== liar),
          ],
        };
        // The liar is also the node events and plain reads come from first.
        const lying = {
          ...ctx,
          network,
          client: createPatientClient({ ...network, rpcUrl: `http://127.0.0.1:${port}` }),
        };
        const read = await loadPatientRecords({ ctx: lying, relationships });
        for (const p of read.providers) {
          if (p.provider !== "Lakeside Clinic") {
            assert.equal(p.status, "verified", `${next}: ${p.provider} ${p.error?.message ?? ""}`);
            continue;
          }
          assert.equal(p.status, "not-verifiable", `${next}: Lakeside is ${p.status}`);
          assert.equal(p.error?.code, "node-not-verifiable");
          assert.match(
            p.error?.message ?? "",
            /^Lakeside Clinic's network node gave an answer that does not match the network/,
          );
          assert.deepEqual(p.resources, []);
        }
        const named = (list: PatientRelationship[]) =>
          list.map((r) => [r.id, r.recordRoot, r.sequence, r.status, r.provider?.name]);
        assert.deepEqual(
          named(await discoverRelationships(lying)),
          named(await discoverRelationships(ctx)),
          `${next}: the relationships as the honest nodes prove them`,
        );
        const grants = await listActiveGrants({ ctx: lying, relationships });
        assert.deepEqual(
          grants.map((g) => [g.relationship, g.viewer, g.categories]),
          honestGrants.map((g) => [g.relationship, g.viewer, g.categories]),
          `${next}: no grant hidden or faked`,
        );
      }
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("behavior: every proven value equals what the contracts' getters return, at a header sealed by a listed provider that two nodes or more agree on", async () => {
    // One proof of every relationship's entry, and the header it was proven against.
    const slotsOf = (id: Hex) => relationshipEntrySlots(id);
    const { values, header } = await lightClientOf(ctx.network).readProven({
      address: ctx.network.contracts.Relationship,
      slots: relationships.flatMap((r) => slotsOf(r.id)),
    });
    // Two at least: a third may be a block behind.
    assert.ok(header.agreeing.length >= 2, header.agreeing.join(", "));
    assert.ok(ctx.network.providers.some((p) => p.account === header.signer));
    const entries = relationships.map((r) =>
      decodeRelationshipEntry(slotsOf(r.id).map((slot) => values.get(slot) ?? 0n)),
    );
    // The getters at that block, from a node that has it.
    const agreeing = ctx.network.providers.find((p) => p.name === header.agreeing[0]);
    const client = createPublicClient({ transport: http(agreeing?.rpcUrl) });
    for (const [i, r] of relationships.entries()) {
      const onChain = await client.readContract({
        address: ctx.network.contracts.Relationship,
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [r.id],
        blockNumber: header.number,
      });
      assert.deepEqual(entries[i], { ...onChain });
      assert.equal(entries[i]?.patient, ctx.agent);
    }
  });

  it("behavior: a staff upload at Lakeside Clinic is announced with the number of new records", async () => {
    let ready = false;
    stopWatching = watchPatient({
      ctx,
      onReady: () => {
        ready = true;
      },
      relationships,
      baseline: records.providers,
      sessions: records.sessions,
      auditIntervalMs: 1000,
      onNotification: (n) => notifications.push(n),
    });
    // What is published after the watcher took its starting block is announced.
    await eventually("the watcher's starting block", () => ready);
    const lakeside = handle("Lakeside Clinic");
    await uploadAsStaff(lakeside, ctx.network.chainId, newLabs("int-a1c"));
    const announced = await eventually("the new-records notification", () =>
      notifications.find((n) => n.type === "new-records" && n.provider === "Lakeside Clinic"),
    );
    assert.equal(announced.type, "new-records");
    if (announced.type !== "new-records") return;
    assert.equal(announced.added, 3, announced.message);
    assert.equal(announced.message.startsWith("3 new records from Lakeside Clinic"), true, announced.message);
    assert.deepEqual(
      notifications.filter((n) => n.type === "error"),
      [],
    );
  });

  it("behavior: labs shared with a new viewer at two providers — the viewer reads labs only; revoked everywhere, it reads nothing", async () => {
    const viewerMnemonic = generatePatientMnemonic();
    const viewer = accountFromMnemonic(viewerMnemonic, 0);
    const chosen = [relationshipAt("Riverside General"), relationshipAt("Lakeside Clinic")];
    const shared = await shareRecords({
      ctx,
      viewer: viewer.address,
      viewerKey: encryptionKeyPairFromMnemonic(viewerMnemonic).publicKey,
      relationships: chosen,
      categories: ["labs"],
      expiry: { days: 7 },
      details: { from: "Maria", label: "Second opinion" },
    });
    assert.ok(shared.ok, JSON.stringify(shared.results));
    assert.deepEqual(
      shared.results.map((r) => r.provider),
      ["Riverside General", "Lakeside Clinic"],
    );

    const grants = (await listActiveGrants({ ctx, relationships })).filter(
      (g) => g.viewer === viewer.address,
    );
    assert.deepEqual(grants.map((g) => g.provider).sort(), ["Lakeside Clinic", "Riverside General"]);
    for (const g of grants) {
      assert.deepEqual(g.categories, ["labs"]);
      assert.equal(g.sensitive, false);
      assert.ok(g.secondsLeft > 6 * 86_400 && g.secondsLeft <= 7 * 86_400, `${g.secondsLeft} s left`);
    }

    for (const r of chosen) {
      const url = r.provider?.gatekeeperUrl ?? "";
      const { token } = await signIn({ gatekeeperUrl: url, account: viewer, chainId: ctx.network.chainId });
      // The gatekeeper learns the grant from its chain view a block or so later.
      const labs = await eventually(`${r.provider?.name}: the viewer's labs`, () =>
        fetchVerifiedRecords({
          gatekeeperUrl: url,
          relationship: r.id,
          token,
          category: "labs",
          onChainRoot: () => readRecordRoot(ctx.client, ctx.network, r.id),
        }),
      );
      assert.ok(labs.valid && labs.resources.length > 0, JSON.stringify(labs.failures));
      assert.ok(labs.resources.every((x) => resourceCategories(x).includes("labs")));
      await assert.rejects(
        gatekeeperJson(url, `${apiPaths.records(r.id)}?category=conditions`, { token }),
        forbidden,
        "an ungranted category is refused",
      );
    }
    const firstUse = await eventually("the first-use notification", () =>
      notifications.find((n) => n.type === "grant-first-use" && n.viewer === viewer.address),
    );
    assert.ok(["Riverside General", "Lakeside Clinic"].includes(firstUse.provider ?? ""));
    // The watcher reads the audit logs every second for first uses: no more of that from here.
    stopWatching?.();

    const revoked = await revokeAccess({ ctx, viewer: viewer.address, relationships });
    assert.ok(revoked.ok, JSON.stringify(revoked.results));
    assert.equal(revoked.results.length, 2, "only where a grant was held");
    assert.deepEqual(
      (await listActiveGrants({ ctx, relationships })).filter((g) => g.viewer === viewer.address),
      [],
    );
    for (const r of chosen) {
      const url = r.provider?.gatekeeperUrl ?? "";
      const { token } = await signIn({ gatekeeperUrl: url, account: viewer, chainId: ctx.network.chainId });
      await eventually(`${r.provider?.name}: the viewer refused`, () =>
        gatekeeperJson(url, `${apiPaths.records(r.id)}?category=labs`, { token }).then(
          () => false,
          forbidden,
        ),
      );
    }

    // The access log: every provider's entries in one list, every one proven in an anchored head
    // (the gatekeeper anchors while its log grows; the reads of the log itself may still be newer).
    const contacts = { [viewer.address]: "Second-opinion doctor" };
    const log = await eventually(
      "every access-log entry anchored",
      async () => {
        const read = await loadAccessLog({ ctx, relationships, sessions: records.sessions, contacts });
        const open = read.entries.filter(
          (e) => e.proof !== "verified" && !(e.proof === "pending" && e.action === "audit.read"),
        );
        return open.length === 0 ? read : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 2000 },
    );
    assert.deepEqual(
      log.providers.map((p) => p.status),
      ["verified", "verified", "verified"],
    );
    assert.deepEqual([...new Set(log.entries.map((e) => e.provider))].sort(), [
      "Hilltop Medical",
      "Lakeside Clinic",
      "Riverside General",
    ]);
    const times = log.entries.map((e) => Date.parse(e.at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      "newest first",
    );
    const viewers = log.entries.filter((e) => e.actor === viewer.address);
    assert.ok(viewers.every((e) => e.who === "Second-opinion doctor"));
    assert.ok(viewers.some((e) => e.decision === "allowed" && e.categories.includes("labs")));
    assert.ok(
      viewers.some((e) => e.decision === "denied"),
      "the refusals are in the log too",
    );
    assert.ok(
      log.entries.some((e) => e.who === "Staff at Lakeside Clinic" && e.action === "staff.records.upload"),
    );
  });

  it("error: a record and an audit row altered in Lakeside Clinic's PostgreSQL are marked failed, the rest still verified", async () => {
    const lakeside = handle("Lakeside Clinic");
    const rel = relationshipAt("Lakeside Clinic");
    const db = await ownerDb(lakeside);
    try {
      // A lab value changed in place, and the record set's version bumped so the cache reloads it.
      const row = await db("record_resources")
        .where({ resource_type: "Observation", fhir_id: "int-a1c-2" })
        .first();
      assert.ok(row, "the uploaded lab is stored");
      await db("record_resources")
        .where({ id: row.id })
        .update({ content: { ...row.content, valueQuantity: { ...row.content.valueQuantity, value: 5.2 } } });
      await db("record_sets").where({ patient_id: row.patient_id }).increment("version", 1);
      // An audit entry's count changed by a superuser (its triggers off, as an attacker would): the
      // newest staff upload, on the log's newest page, the one the access log opens on (adr/0014).
      await db.transaction(async (trx) => {
        await trx.raw("alter table audit_log disable trigger user");
        await trx.raw(
          `update audit_log set count = count + 1
            where id = (select id from audit_log where relationship = ? and action = 'staff.records.upload' order by id desc limit 1)`,
          [rel.id.toLowerCase()],
        );
        await trx.raw("alter table audit_log enable trigger user");
      });
    } finally {
      await db.destroy();
    }

    const read = await loadPatientRecords({ ctx, relationships, sessions: records.sessions });
    const byName = Object.fromEntries(read.providers.map((p) => [p.provider, p]));
    assert.equal(byName["Lakeside Clinic"]?.status, "failed-verification");
    assert.deepEqual(
      byName["Lakeside Clinic"]?.unverified.map((u) => [
        `${u.resource.resourceType}/${u.resource.id}`,
        u.reason,
      ]),
      [["Observation/int-a1c-2", "invalid-proof"]],
    );
    assert.ok(
      !byName["Lakeside Clinic"]?.resources.some((r) => r.id === "int-a1c-2"),
      "the altered record is not among the trusted ones",
    );
    assert.equal(byName["Lakeside Clinic"]?.resources.length, lakeside.resources + 3 - 1);
    assert.equal(byName["Riverside General"]?.status, "verified");
    assert.equal(byName["Hilltop Medical"]?.status, "verified");

    const audit = await loadProviderAccessLog({ ctx, relationship: rel, sessions: records.sessions });
    assert.equal(audit.status, "failed-verification");
    const failed = audit.entries.filter((e) => e.proof === "failed");
    assert.equal(failed.length, 1, JSON.stringify(failed.map((e) => e.problems)));
    assert.equal(failed[0]?.action, "staff.records.upload");
    assert.match(failed[0]?.problems.join(" ") ?? "", /edited/);
    assert.ok(
      audit.entries.filter((e) => e.proof === "verified").length > 1,
      "the other entries still verify",
    );
  });

  it("behavior: a grant's end is announced when the chain's clock passes its expiry", async () => {
    const viewer = accountFromMnemonic(generatePatientMnemonic(), 0);
    const shared = await shareRecords({
      ctx,
      viewer: viewer.address,
      relationships: [relationshipAt("Riverside General")],
      categories: ["vitals"],
      expiry: { until: new Date(Number(await chainNow(ctx.client)) * 1000 + 6_000) },
    });
    assert.ok(shared.ok, JSON.stringify(shared.results));
    const heard: PatientNotification[] = [];
    const stop = watchPatient({
      ctx,
      relationships,
      baseline: records.providers,
      sessions: records.sessions,
      auditIntervalMs: 0,
      onNotification: (n) => heard.push(n),
    });
    try {
      const ended = await eventually("the grant-expired notification", () =>
        heard.find((n) => n.type === "grant-expired" && n.viewer === viewer.address),
      );
      assert.equal(ended.provider, "Riverside General");
    } finally {
      stop();
    }
  });

  it("error: a gatekeeper that is down makes its provider unreachable, the other two still shown", async () => {
    await handle("Hilltop Medical").gatekeeper.stop();
    const read = await loadPatientRecords({ ctx, relationships, sessions: records.sessions });
    const byName = Object.fromEntries(read.providers.map((p) => [p.provider, p]));
    assert.equal(byName["Hilltop Medical"]?.status, "unreachable");
    assert.equal(byName["Hilltop Medical"]?.retryable, true);
    assert.equal(byName["Hilltop Medical"]?.error?.code, "unreachable");
    assert.equal(byName["Riverside General"]?.status, "verified");
    assert.ok((byName["Riverside General"]?.resources.length ?? 0) > 0);
    assert.ok((byName["Lakeside Clinic"]?.resources.length ?? 0) > 0);
  });

  it("behavior: with a gatekeeper down, relayed through the others: add a custodian, set the threshold, a custodian approves a new owner, the owner cancels, the custodian is removed; new records marked seen", async () => {
    const custodian = accountFromMnemonic(generatePatientMnemonic(), 0);
    const newOwner = accountFromMnemonic(generatePatientMnemonic(), 0);
    await addCustodian(ctx, custodian.address);
    await setRecoveryThreshold(ctx, 1);
    const before = await readRecoveryState(ctx);
    assert.deepEqual(before.custodians, [custodian.address]);
    assert.equal(before.threshold, 1);
    assert.ok(before.delaySeconds > 0, "recovery waits");
    assert.equal(before.pending, undefined);

    // The custodian signs with its own account, for the patient's agent.
    await approveRecovery({ ...ctx, account: custodian }, ctx.agent, newOwner.address);
    const scheduled = await readRecoveryState(ctx);
    assert.equal(scheduled.pending?.newOwner, newOwner.address);
    assert.ok(
      (scheduled.pending?.secondsLeft ?? 0) > 0 &&
        (scheduled.pending?.secondsLeft ?? 0) <= before.delaySeconds,
    );

    await cancelRecovery(ctx);
    assert.equal((await readRecoveryState(ctx)).pending, undefined);
    await setRecoveryThreshold(ctx, 0);
    await removeCustodian(ctx, custodian.address);
    const removed = await readRecoveryState(ctx);
    assert.deepEqual(removed.custodians, []);
    assert.equal(removed.owner, ctx.account.address);

    // Lakeside has published since the patient last looked: marking it seen clears "new".
    const [lakeside] = (await discoverRelationships(ctx)).filter(
      (r) => r.provider?.name === "Lakeside Clinic",
    );
    assert.ok(lakeside && hasNewRecords(lakeside));
    await acknowledgeRecords(ctx, lakeside);
    const seen = (await discoverRelationships(ctx)).find((r) => r.id === lakeside.id);
    assert.equal(seen?.seenSequence, lakeside.sequence);
    assert.equal(seen && hasNewRecords(seen), false);
  });
  it("behavior: with the list this device kept, a read asks every node only for the pages from the kept length on; a kept boundary that is not the chain's, or a kept list longer than the chain's, is read again from the start", async () => {
    const junk = (count: number) =>
      createJunkRelationships({
        system,
        patient: ctx.agent,
        patientEncryptionKey: ctx.encryptionKey.publicKey,
        junk: Array.from({ length: count }, () => ({ kind: "garbage" as const })),
      });
    await junk(3);
    // Every provider's node behind a proxy that notes the offset of each `relationshipsPage` call.
    const offsets: number[] = [];
    const proxies = await Promise.all(
      ctx.network.providers.map(async (p) => {
        const proxy = createServer(async (request, response) => {
          const chunks: Buffer[] = [];
          for await (const chunk of request) chunks.push(chunk as Buffer);
          const body = Buffer.concat(chunks).toString("utf8");
          for (const call of [JSON.parse(body)].flat() as { method: string; params: unknown[] }[]) {
            const data = (call.params?.[0] as { data?: Hex; input?: Hex } | undefined) ?? {};
            const input = data.data ?? data.input;
            if (call.method !== "eth_call" || !input) continue;
            try {
              const decoded = decodeFunctionData({ abi: agentAbi, data: input });
              if (decoded.functionName === "relationshipsPage") offsets.push(Number(decoded.args[1]));
            } catch {
              // another contract's call
            }
          }
          const real = await fetch(p.rpcUrl ?? "", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body,
          });
          response.setHeader("content-type", "application/json");
          response.end(await real.text());
        });
        await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
        return { proxy, url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
      }),
    );
    try {
      const network: PatientNetwork = {
        ...ctx.network,
        providers: ctx.network.providers.map((p, i) => ({ ...p, rpcUrl: proxies[i]?.url ?? "" })),
      };
      const counted = {
        ...ctx,
        network,
        client: createPatientClient({ ...network, rpcUrl: proxies[0]?.url ?? "" }),
      };
      const known: KnownStrangers = { fingerprint: undefined, ids: new Map() };
      const summary = (all: readonly PatientRelationship[]) =>
        all.map((r) =>
          r.status === "ok"
            ? [r.id, r.status, r.delegate, r.recordRoot, r.sequence, r.seenSequence, r.ended]
            : [r.id, r.status],
        );
      await discoverAllRelationships(counted, undefined, new Map(), { known });
      assert.ok(offsets.includes(0), "with nothing kept, the list is read from the start");
      const kept = known.list?.length ?? 0;
      assert.ok(kept >= 6, `the list is kept (${kept})`);

      await junk(2);
      const expected = summary(await discoverAllRelationships(ctx));
      offsets.length = 0;
      const warm = await discoverAllRelationships(counted, undefined, new Map(), { known });
      assert.ok(offsets.length >= network.providers.length, "every node is asked for the new page");
      assert.deepEqual(
        offsets.filter((o) => o < kept - 1),
        [],
        `no page below the kept boundary (${kept - 1}) is asked for: ${offsets}`,
      );
      assert.deepEqual(summary(warm), expected);
      assert.ok(warm.filter((r) => r.status === "ok").length >= 3);
      assert.equal(known.list?.length, kept + 2);

      // The id kept at the boundary is not the chain's: the whole list again, and the right one kept.
      const right = [...(known.list ?? [])];
      known.list = [...right.slice(0, -1), keccak256(toHex("not this relationship"))];
      offsets.length = 0;
      assert.deepEqual(
        summary(await discoverAllRelationships(counted, undefined, new Map(), { known })),
        expected,
      );
      assert.ok(offsets.includes(0), `a tampered boundary is read again from the start: ${offsets}`);
      assert.deepEqual(known.list, right);

      // More kept than the chain holds (a node's invented tail, another chain's list): read again.
      known.list = [...right, keccak256(toHex("invented"))];
      offsets.length = 0;
      assert.deepEqual(
        summary(await discoverAllRelationships(counted, undefined, new Map(), { known })),
        expected,
      );
      assert.ok(offsets.includes(0), `a longer kept list is read again from the start: ${offsets}`);
      assert.deepEqual(known.list, right);
    } finally {
      for (const { proxy } of proxies) proxy.close();
    }
  });
});
