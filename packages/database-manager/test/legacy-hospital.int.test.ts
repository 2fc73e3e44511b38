/**
 * The legacy adapter run as a hospital runs it: `legacy check` and `legacy sync --once` (the
 * CLI) and the gatekeeper's periodic sync (LEGACY_SYNC_INTERVAL_SECONDS),
 * against the sample hospital schema on a REAL PostgreSQL server and geth network: changes in the
 * hospital's tables reach the served records and the on-chain root; deleted rows disappear;
 * a large history is stored all or nothing with one root; failures are logged without PHI.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "@medrec/testkit";
import { pino } from "pino";
import type { Hex } from "viem";
import { main } from "../src/cli.ts";
import { STAFF_ACTIONS } from "../src/patients/patients.service.ts";
import { seedLegacy } from "../src/seed/seed.ts";
import { DELEGATE_MNEMONIC } from "./chain.support.ts";
import { type System, startSystem } from "./system.support.ts";

// biome-ignore lint/suspicious/noExplicitAny: log lines and FHIR JSON read loosely
type Any = any;

const logs: Any[] = [];
const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
const syncLogs = () => logs.filter((l) => l.component === "legacy-sync");

let sys: System;

before(async () => {
  // The periodic sync watches schema `hospital`, which does not exist yet: its first runs fail.
  sys = await startSystem("legacy_hospital", {
    database: "server",
    logger,
    config: { LEGACY_SYNC_INTERVAL_SECONDS: "1", LEGACY_SCHEMA: "hospital" },
  });
});
after(async () => {
  await sys?.stop();
});

/** `medrec-gatekeeper legacy …` (src/cli.ts's main, as the binary runs it) with this environment. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(["legacy", ...args], {
    env: { DATABASE_URL: sys.env.dbUrl, LOG_LEVEL: "error", ...env },
    out: (line) => {
      stdout += `${line}\n`;
    },
    err: (line) => {
      stderr += `${line}\n`;
    },
  });
  return { code, stdout, stderr };
}

/** The gatekeeper's own environment, as a hospital sets it (no manifest). */
function gatekeeperEnv(): Record<string, string> {
  const s = sys.env.settings();
  return {
    PUBLIC_URL: sys.url,
    CHAIN_RPC_URL: s.rpcUrl,
    CHAIN_ID: String(s.chainId),
    AGENT_ADDRESS: s.agent,
    RELATIONSHIP_ADDRESS: s.relationship as string,
    CHAIN_START_BLOCK: String(s.startBlock),
    PROVIDER_NAME: s.provider.name,
    PROVIDER_ACCOUNT: s.provider.account,
    DELEGATE_MNEMONIC,
    RELAYER_PRIVATE_KEY: s.relayerPrivateKey as string,
    FORWARDER_ADDRESS: s.forwarder,
    AGENT_REGISTRY_ADDRESS: s.registry as string,
    OPERATOR_KEY: sys.operatorKey,
  };
}

const hospital = () => sys.env.db.withSchema("hospital");
const legacySyncEntries = async (relationship: Hex) =>
  sys.env
    .db("audit_log")
    .where({ relationship, action: STAFF_ACTIONS.legacySync, decision: "allowed" })
    .select("*");
const patientIdOf = async (mrn: string) =>
  Number((await sys.env.db("patients").where({ mrn }).first("id")).id);
/** Waits for `n` more completed periodic runs than now. */
async function moreRuns(n: number) {
  const done = () => syncLogs().filter((l) => l.msg === "legacy sync done").length;
  const target = done() + n;
  await eventually(`${n} more periodic syncs`, () => done() >= target || undefined, { timeoutMs: 30_000 });
}
/** The record set the gatekeeper serves to the patient, read over HTTP. */
async function served(relationship: Hex, token: string): Promise<Any> {
  await sys.viewAt(await sys.env.publicClient.getBlockNumber());
  const r = await sys.get(`/v1/relationships/${relationship}/records?_count=2000`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

describe("legacy check", () => {
  test("behavior: the sample hospital schema satisfies the contract (exit 0)", async () => {
    await seedLegacy(sys.env.db, { count: 2, seed: 41, schema: "legacy" });
    const r = await cli(["check"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const view of [
      "medrec_patient",
      "medrec_encounter",
      "medrec_document",
      "medrec_lab_result",
      "medrec_medication",
    ])
      assert.match(r.stdout, new RegExp(`ok +legacy\\.${view} \\(\\d+ rows checked\\)`));
    assert.match(r.stdout, /legacy schema legacy: the five contract views are valid/);
  });

  test("error: a broken schema names each missing view, missing column and bad row (exit 1), never a value", async () => {
    await sys.env.db.raw("create schema broken");
    await sys.env.db.raw(
      "create view broken.medrec_patient as select patient_key, mrn, family_name, given_names, birth_date, 'martian'::text as gender, phone, address_line, city, postal_code, country, updated_at from legacy.medrec_patient",
    );
    await sys.env.db.raw(
      "create view broken.medrec_encounter as select encounter_key, patient_key, class_code, start_at, end_at, reason_text, updated_at from legacy.medrec_encounter",
    );
    await sys.env.db.raw("create view broken.medrec_document as select * from legacy.medrec_document");
    await sys.env.db.raw("create view broken.medrec_lab_result as select * from legacy.medrec_lab_result");
    const r = await cli(["check", "--schema", "broken"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /PROBLEM broken\.medrec_patient/);
    assert.match(r.stdout, /broken\.medrec_patient row \d+: gender/);
    assert.match(r.stdout, /broken\.medrec_encounter: missing column department/);
    assert.match(r.stdout, /broken\.medrec_medication: missing/);
    assert.match(r.stdout, /ok +broken\.medrec_document/);
    assert.match(r.stdout, /3 problem\(s\)/);
    assert.ok(!r.stdout.includes("martian"));
    assert.ok(!/LEG-41-/.test(r.stdout + r.stderr));
  });

  test("error: a schema that does not exist (exit 1); bad usage (exit 2)", async () => {
    const r = await cli(["check"], { LEGACY_SCHEMA: "nowhere" });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /schema nowhere: does not exist/);
    assert.equal((await cli(["sync"])).code, 2);
    assert.equal((await cli(["check", "--schema", "Robert'); drop"])).code, 2);
    const bad = await cli(["check"], { LEGACY_SYNC_INTERVAL_SECONDS: "soon" });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /LEGACY_SYNC_INTERVAL_SECONDS/);
  });
});

describe("legacy sync --once", () => {
  test("behavior: stores the linked patient, publishes its root, audits it; a second run changes nothing", async () => {
    const [mrn, unlinked] = await seedLegacy(sys.env.db, { count: 2, seed: 41, schema: "legacy" });
    assert.ok(mrn && unlinked);
    const patient = await sys.env.patient();
    const relationship = await sys.registerPatient(mrn, patient);
    const r = await cli(["sync", "--once", "--schema", "legacy"], gatekeeperEnv());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /2 patient\(s\) in the views, 1 synced \(1 changed\), 0 unchanged, 1 not linked, 0 failed/,
    );
    assert.ok(!r.stdout.includes(mrn) && !r.stderr.includes(mrn));
    const set = await sys.gk.records.recordSet(await patientIdOf(mrn));
    assert.equal(set.resources.length, 18);
    assert.equal((await sys.relationshipOf(relationship)).recordRoot, set.root);
    const entries = await legacySyncEntries(relationship);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].actor, "0x0000000000000000000000000000000000000000");

    const again = await cli(["sync", "--once", "--schema", "legacy"], gatekeeperEnv());
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /0 synced \(0 changed\), 1 unchanged, 1 not linked/);
    assert.equal((await legacySyncEntries(relationship)).length, 1);
  });
});

describe("periodic sync (LEGACY_SYNC_INTERVAL_SECONDS)", () => {
  let mrn: string;
  let relationship: Hex;
  let token: string;
  let patientId: number;
  let patKey: number;

  test("error: a failing sync is logged without PHI and retried at the next interval; the gatekeeper keeps serving", async () => {
    await eventually(
      "two failed runs",
      () =>
        syncLogs().filter((l) => l.msg === "legacy sync failed; retrying at the next interval").length >= 2 ||
        undefined,
      { timeoutMs: 30_000 },
    );
    const failed = syncLogs().find((l) => l.msg.startsWith("legacy sync failed"));
    assert.equal(failed.code, "42P01"); // undefined_table: the views are not there yet
    assert.equal((await sys.get("/healthz")).status, 200);
  });

  test("behavior: a newly linked patient is synced and its root published; unchanged patients publish nothing", async () => {
    const mrns = await seedLegacy(sys.env.db, { count: 2, seed: 42, schema: "hospital" });
    mrn = mrns[0] as string;
    const patient = await sys.env.patient();
    relationship = await sys.registerPatient(mrn, patient);
    token = await sys.signIn(patient.account);
    patientId = await patientIdOf(mrn);
    patKey = Number((await hospital().from("patients").where({ mrn }).first("pat_id")).pat_id);
    await eventually(
      "the first sync",
      async () => (await legacySyncEntries(relationship)).length === 1 || undefined,
      { timeoutMs: 30_000 },
    );
    const set = await sys.gk.records.recordSet(patientId);
    assert.equal(set.resources.length, 18);
    await sys.rootPublished(relationship, set.root);
    const { sequence } = await sys.relationshipOf(relationship);

    await moreRuns(2);
    assert.equal((await legacySyncEntries(relationship)).length, 1);
    assert.equal((await sys.relationshipOf(relationship)).sequence, sequence);
    assert.equal((await sys.gk.records.recordSet(patientId)).root, set.root);
  });

  test("behavior: a changed row in the hospital's tables reaches what is served and the root on chain", async () => {
    const lab = await hospital().from("lab_results").where({ pat_id: patKey }).orderBy("result_id").first();
    await hospital()
      .table("lab_results")
      .where({ result_id: lab.result_id })
      .update({ result_value: "12.5", modified_at: "2025-02-01 10:00:00" });
    const id = `legacy-lab-${lab.result_id}`;
    const bundle = await eventually("the changed value served", async () => {
      const b = await served(relationship, token);
      return b.entry.find((e: Any) => e.resource.id === id)?.resource.valueQuantity?.value === 12.5
        ? b
        : undefined;
    });
    const set = await sys.gk.records.recordSet(patientId);
    await sys.rootPublished(relationship, set.root);
    assert.equal(bundle.entry.length, 18);
    assert.equal((await legacySyncEntries(relationship)).length, 2);
  });

  test("behavior: a row deleted in the hospital's tables disappears from what is served", async () => {
    const med = await hospital()
      .from("medications")
      .where({ pat_id: patKey })
      .orderBy("med_id", "desc")
      .first();
    await hospital().table("medications").where({ med_id: med.med_id }).delete();
    const gone = (b: Any) => !b.entry.some((e: Any) => String(e.resource.id).endsWith(`-${med.med_id}`));
    const bundle = await eventually("the deleted row gone", async () => {
      const b = await served(relationship, token);
      return gone(b) ? b : undefined;
    });
    assert.equal(bundle.entry.length, 17);
    await sys.rootPublished(relationship, (await sys.gk.records.recordSet(patientId)).root);
  });

  test("behavior: a large history is stored all or nothing: a bad row stores none of it, fixed it is stored with one root published once", async () => {
    const before = await sys.gk.records.recordSet(patientId);
    await sys.rootPublished(relationship, before.root);
    const { sequence } = await sys.relationshipOf(relationship);
    const entries = (await legacySyncEntries(relationship)).length;
    const failuresBefore = syncLogs().filter((l) => l.msg === "legacy sync of a patient failed").length;
    // 3,000 glucose results over ten years, and one without a test name (breaks the contract).
    await sys.env.db.raw(
      `insert into hospital.lab_results (result_id, pat_id, loinc, test_name, result_value, units, ref_range, flag, status, collected_dt, modified_at)
       select 50000000 + g, ?, '2345-7', case when g = 1500 then '' else 'Glucose' end, (70 + g % 60)::text, 'mg/dL', '70-99',
              case when 70 + g % 60 > 99 then 'H' else 'N' end, 'F', timestamp '2015-01-01' + g * interval '1 day', timestamp '2025-03-01'
       from generate_series(1, 3000) g`,
      [patKey],
    );
    const failure = await eventually(
      "the bad row refused",
      () => syncLogs().filter((l) => l.msg === "legacy sync of a patient failed")[failuresBefore],
    );
    assert.equal(failure.kind, "unprocessable");
    assert.match(failure.detail, /hospital\.medrec_lab_result row 50001500: test_name/);
    assert.equal(failure.patientId, patientId);
    assert.ok(!JSON.stringify(syncLogs()).includes(mrn), "no MRN in the sync's logs");
    await moreRuns(1);
    assert.equal((await sys.gk.records.recordSet(patientId)).root, before.root);
    assert.equal((await sys.relationshipOf(relationship)).sequence, sequence);

    await hospital().table("lab_results").where({ result_id: 50001500 }).update({ test_name: "Glucose" });
    const grown = await eventually("the whole history stored", async () => {
      const set = await sys.gk.records.recordSet(patientId);
      return set.resources.length === before.resources.length + 3000 ? set : undefined;
    });
    await sys.rootPublished(relationship, (grown as NonNullable<typeof grown>).root);
    const published = await sys.relationshipOf(relationship);
    assert.equal(published.sequence, sequence + 1n);
    const synced = await legacySyncEntries(relationship);
    assert.equal(synced.length, entries + 1);
    const bundle = await served(relationship, token);
    assert.equal(bundle.total ?? bundle.entry.length, before.resources.length + 3000);
  });
});
