/**
 * The whole flow of MedRec, end to end, against the real parts: a geth v1.13.15 Clique network
 * with the contracts, the full gatekeeper (`startGatekeeper`, chain on) over HTTP, SIWE, FHIR
 * intake, root publication, on-chain grants and revocation, the hash-chained audit log, the
 * `audit verify` CLI, and fail-closed when the node stops. The same behaviour runs twice: on the
 * real PostgreSQL server (DATABASE_URL) and on the embedded default (DATA_DIR).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  AUDIT_GENESIS_HASH,
  findAuditChainBreak,
  isSensitive,
  openJson,
  providerDetailsSchema,
  relationshipAbi,
  relationshipsResponseSchema,
  resourceCategories,
  verifyBundle,
} from "@medrec/protocol";
import { eventually } from "@medrec/testkit";
import { pino } from "pino";
import { type Hex, parseEventLogs } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { DelegateKeys } from "../src/chain/client.ts";
import type { FhirResource } from "../src/seams.ts";
import { DELEGATE_MNEMONIC, type Patient } from "./chain.support.ts";
import {
  assertProblem,
  type Database,
  type Reply,
  type System,
  seededRecords,
  startSystem,
} from "./system.support.ts";

type Entry = { resource: FhirResource };
const resourcesOf = (bundle: { entry?: Entry[] }) => (bundle.entry ?? []).map((e) => e.resource);
const idsOf = (bundle: { entry?: Entry[] }) =>
  resourcesOf(bundle)
    .map((r) => r.id as string)
    .sort();
const nowSeconds = () => Math.floor(Date.now() / 1000);

function behavesLikeMedRec(database: Database) {
  describe(`MedRec end to end (${database === "server" ? "PostgreSQL server, DATABASE_URL" : "embedded PostgreSQL, DATA_DIR"})`, () => {
    const MRN = `MRN-SYS-${database.toUpperCase()}`;
    const records = seededRecords(database === "server" ? 101 : 202, 0, MRN);
    const viewer = privateKeyToAccount(generatePrivateKey());
    let sys: System;
    let patient: Patient;
    let relationship: Hex;
    let root: Hex;
    let patientToken: string;
    let viewerToken: string;
    const path = (suffix = "records") => `/v1/relationships/${relationship}/${suffix}`;

    // Everything the gatekeeper logs during the flow, at debug level, to check it for PHI and secrets.
    const logLines: string[] = [];
    const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });

    before(async () => {
      sys = await startSystem(`system_${database}`, { database, logger });
      patient = await sys.env.patient();
    });
    after(async () => {
      await sys?.stop();
    });

    test("behavior: /healthz is 200 while the chain view is current", async () => {
      const r = await sys.get("/healthz");
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.checks.database.status, "ok");
      assert.equal(r.json.checks.chain.status, "ok");
    });

    test("default: staff registers the patient; the Relationship is on chain with sealed provider details", async () => {
      relationship = await sys.registerPatient(MRN, patient);
      const info = await sys.relationshipOf(relationship);
      assert.equal(info.patient, patient.address, "the patient");
      assert.equal(info.ended, false);
      const row = await sys.gk.db("patients").where({ mrn: MRN }).first();
      const delegate = new DelegateKeys(DELEGATE_MNEMONIC).account(row.delegate_index).address;
      assert.equal(info.provider, delegate, "the provider's per-relationship delegate");
      assert.notEqual(info.provider, sys.env.settings().provider.account);

      const logs = await sys.env.publicClient.getLogs({
        address: sys.env.contracts.Relationship,
        fromBlock: sys.env.contracts.registryBlock,
        toBlock: "latest",
      });
      const created = parseEventLogs({ abi: relationshipAbi, logs, eventName: "RelationshipCreated" }).find(
        (l) => l.args.id === relationship,
      );
      assert.ok(created, "RelationshipCreated");
      const details = providerDetailsSchema.parse(
        openJson(created.args.providerDetails, patient.encryption.secretKey),
      );
      assert.equal(details.name, "Riverside General");
      assert.equal(details.gatekeeperUrl, sys.url);
      assert.equal(details.account, sys.env.settings().provider.account);
      // Only the patient's key opens them.
      assert.throws(() => openJson(created.args.providerDetails, new Uint8Array(32).fill(7)));
    });

    test("default: staff ingests ~22 resources (with sensitive items); the root is published on chain", async () => {
      assert.ok(records.resources.length >= 20, `${records.resources.length} resources`);
      assert.equal(
        records.resources.filter(isSensitive).length,
        2,
        "a sensitive condition and a sensitive lab",
      );
      root = await sys.ingest(MRN, records.bundle);
      assert.match(root, /^0x[0-9a-f]{64}$/);
      await sys.rootPublished(relationship, root);
      assert.equal((await sys.relationshipOf(relationship)).sequence >= 1n, true);
    });

    test("default: the patient signs in, reads everything and verifies every proof against the on-chain root", async () => {
      patientToken = await sys.signIn(patient.account);
      const onChain = (await sys.relationshipOf(relationship)).recordRoot;
      assert.equal(onChain, root);
      const r = await sys.get(path(), { token: patientToken });
      assert.equal(r.status, 200, r.text);
      assert.match(r.type, /^application\/fhir\+json/);
      assert.equal(r.json.resourceType, "Bundle");
      assert.equal(r.json.type, "searchset");
      assert.deepEqual(idsOf(r.json), records.resources.map((x) => x.id as string).sort());
      const verdict = verifyBundle(r.json, onChain);
      assert.ok(verdict.rootMatches, "the served root is the on-chain root");
      assert.equal(verdict.entries.length, records.resources.length);
      assert.ok(
        verdict.entries.every((e) => e.valid),
        "every entry is proven",
      );
      assert.ok(verdict.valid);

      const mine = relationshipsResponseSchema.parse(
        (await sys.get("/v1/relationships", { token: patientToken })).json,
      );
      assert.deepEqual(
        mine.map((m) => [m.relationship, m.role, m.recordRoot]),
        [[relationship, "patient", onChain]],
      );
    });

    test("error: a viewer without a grant is refused (403) and sees no record", async () => {
      viewerToken = await sys.signIn(viewer);
      for (const suffix of ["records", "records?category=labs", "audit"]) {
        const r = await sys.get(path(suffix), { token: viewerToken });
        assertProblem(r, 403, records.distinctive, suffix);
      }
      assert.deepEqual((await sys.get("/v1/relationships", { token: viewerToken })).json, []);
    });

    test("behavior: a viewer granted labs only (no sensitive) sees exactly the non-sensitive labs, each verifiable", async () => {
      const block = await sys.grant(patient, relationship, viewer.address, ["labs"], nowSeconds() + 3600);
      await sys.viewAt(block);
      const expected = records.resources
        .filter((x) => resourceCategories(x).includes("labs") && !isSensitive(x))
        .map((x) => x.id as string)
        .sort();
      assert.ok(expected.length >= 6, "the seeded set has labs");
      for (const query of ["", "?category=labs"]) {
        const r = await sys.get(path(`records${query}`), { token: viewerToken });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(idsOf(r.json), expected);
        for (const resource of resourcesOf(r.json)) {
          assert.ok(resourceCategories(resource).includes("labs"), `${resource.id} is a lab`);
          assert.ok(!isSensitive(resource), `${resource.id} is not sensitive`);
        }
        for (const hidden of [
          records.sensitiveLab.id as string,
          "Positive for opioids",
          "Major depressive disorder",
        ])
          assert.ok(!r.text.includes(hidden), `hides ${hidden}`);
        const verdict = verifyBundle(r.json, root);
        assert.ok(
          verdict.valid && verdict.entries.every((e) => e.valid),
          "each entry verifies on the on-chain root",
        );
      }
      for (const category of ["medications", "sensitive", "conditions"]) {
        const r = await sys.get(path(`records?category=${category}`), { token: viewerToken });
        assertProblem(r, 403, records.distinctive, category);
      }
      const listed = (await sys.get("/v1/relationships", { token: viewerToken })).json;
      assert.deepEqual(
        listed.map((x: { role: string }) => x.role),
        ["viewer"],
      );
    });

    test("behavior: once the gatekeeper's view has the revocation's block, the viewer is refused", async () => {
      // Causal, not timed: wait for the block that carries the revocation to be applied by the
      // gatekeeper's chain view, then the very next read must be refused (bench:gatekeeper measures
      // how long that takes under load).
      const block = await sys.revoke(patient, relationship, viewer.address);
      await sys.viewAt(block);
      assertProblem(await sys.get(path(), { token: viewerToken }), 403, records.distinctive, "revoked");
      assertProblem(
        await sys.get(path("records?category=labs"), { token: viewerToken }),
        403,
        records.distinctive,
      );
    });

    test("behavior: the patient's audit shows every decision, allowed and denied, hash-chained", async () => {
      const r = await sys.get(path("audit"), { token: patientToken });
      assert.equal(r.status, 200, r.text);
      const entries = r.json as {
        at: string;
        actor: string;
        action: string;
        categories: string[];
        decision: string;
        hash: string;
        prevHash: string;
      }[];
      assert.equal(findAuditChainBreak(entries), -1);
      assert.equal(entries[0]?.prevHash, AUDIT_GENESIS_HASH);
      for (let i = 1; i < entries.length; i++)
        assert.equal(entries[i]?.prevHash, entries[i - 1]?.hash, `entry ${i} links to entry ${i - 1}`);
      const summary = entries.map(({ actor, action, decision, categories }) => ({
        actor,
        action,
        decision,
        categories,
      }));
      const has = (m: Partial<(typeof summary)[number]>) =>
        summary.some((s) =>
          Object.entries(m).every(([k, v]) => JSON.stringify(s[k as keyof typeof s]) === JSON.stringify(v)),
        );
      assert.ok(
        has({ actor: patient.address, action: "records.read", decision: "allowed" }),
        "the patient's read",
      );
      assert.ok(
        has({ actor: viewer.address, action: "records.read", decision: "denied", categories: [] }),
        "refused before the grant",
      );
      // Before its grant the viewer was a stranger: its refused audit read is counted towards the
      // hour's `refusals.aggregate` entry (adr/0014), not an entry of its own.
      assert.ok(!has({ actor: viewer.address, action: "audit.read", decision: "denied" }));
      const counted = await sys.gk
        .db("audit_refusals_open")
        .where({ relationship: relationship.toLowerCase(), actor: viewer.address.toLowerCase() })
        .first();
      assert.ok(
        counted?.refusals >= 1 || has({ action: "refusals.aggregate" }),
        "the viewer's audit attempt, counted (or aggregated, when an hour closed since)",
      );
      assert.ok(
        has({ actor: viewer.address, action: "records.read", decision: "allowed", categories: ["labs"] }),
        "granted labs",
      );
      assert.ok(
        has({
          actor: viewer.address,
          action: "records.read",
          decision: "denied",
          categories: ["medications"],
        }),
        "out of scope",
      );
      assert.deepEqual(summary.at(-1), {
        actor: patient.address,
        action: "audit.read",
        decision: "allowed",
        categories: [],
      });
      const denied = summary.filter((s) => s.decision === "denied").length;
      const allowed = summary.filter((s) => s.decision === "allowed").length;
      // (The viewer's refusals before its grant are counted towards the hour's aggregate: adr/0014.)
      assert.ok(denied >= 5 && allowed >= 4, `${allowed} allowed, ${denied} denied`);
    });

    test("error: a tampered audit row (superuser edit) is found by `audit verify`, which names the first bad entry", async () => {
      // Both databases are reachable while the gatekeeper runs: the embedded one listens on
      // 127.0.0.1 with a password (its connection string), so the CLI gets DATABASE_URL in both modes.
      const intact = await sys.auditVerify();
      assert.equal(intact.code, 0, intact.stdout + intact.stderr);
      assert.match(intact.stdout, /audit log intact: \d+ entries/);

      const rows = await sys.gk.db("audit_log").where({ relationship, decision: "denied" }).orderBy("id");
      const victim = rows[1];
      assert.ok(victim, "a denied decision to hide");
      await sys.tamperAudit((trx) =>
        trx("audit_log").where({ id: victim.id }).update({ decision: "allowed" }),
      );
      // The trigger is back: nobody else can edit (and the embedded default's runtime role may not even try).
      await assert.rejects(
        sys.gk.db("audit_log").where({ id: victim.id }).update({ decision: "denied" }),
        /append-only|permission denied/,
      );

      const whole = await sys.auditVerify();
      assert.equal(whole.code, 1, whole.stdout + whole.stderr);
      assert.match(whole.stdout, new RegExp(`first bad entry id=${victim.id} `));
      assert.match(whole.stdout, /hash does not match its content \(edited\)/);
      assert.ok(whole.stdout.includes(`relationship=${relationship}`));
      const one = await sys.auditVerify(["--relationship", relationship]);
      assert.equal(one.code, 1);
      assert.match(one.stdout, new RegExp(`first bad entry id=${victim.id} `));

      // The patient, holding only the served log, sees the same break.
      const served = (await sys.get(path("audit"), { token: patientToken })).json;
      const index = served.findIndex((e: { hash: string }) => e.hash === victim.hash);
      assert.ok(index >= 0);
      assert.equal(findAuditChainBreak(served), index);
    });

    test("error: fail closed — the node stops: reads and /healthz 503; it restarts: both recover", async () => {
      const node = sys.env.network.nodes[0];
      assert.ok(node);
      assert.equal((await sys.get(path(), { token: patientToken })).status, 200);
      const newcomer = await sys.env.patient();
      const late: FhirResource = {
        resourceType: "Basic",
        id: `${MRN.toLowerCase()}-late-note`,
        code: { text: "Written while the chain node was down" },
      };
      let lateRoot: Hex | undefined;
      await node.stop();
      try {
        await eventually("/healthz to fail", async () => (await sys.get("/healthz")).status === 503, {
          timeoutMs: 15_000,
        });
        const health = await sys.get("/healthz");
        assert.equal(health.json.checks.chain.status, "failing");
        assert.equal(health.json.checks.database.status, "ok");
        for (const p of [path(), path("audit"), "/v1/relationships"]) {
          const r: Reply = await sys.get(p, { token: patientToken });
          assertProblem(r, 503, records.distinctive, p);
        }
        // Registration needs the chain: refused, not half-done.
        const register = await sys.post(
          "/v1/patients",
          { mrn: `${MRN}-LATE`, patientAddress: newcomer.address },
          { operator: true },
        );
        assertProblem(register, 503, records.distinctive, "register while down");
        // Intake does not: the record is stored; its root is published once the node is back.
        lateRoot = await sys.ingest(MRN, {
          resourceType: "Bundle",
          type: "collection",
          entry: [{ resource: late }],
        });
      } finally {
        await node.start();
      }
      await eventually("/healthz to recover", async () => (await sys.get("/healthz")).status === 200, {
        timeoutMs: 30_000,
      });
      assert.ok(lateRoot);
      await sys.rootPublished(relationship, lateRoot, 30_000);
      const r = await sys.get(path(), { token: patientToken });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.entry.length, records.resources.length + 1);
      const verdict = verifyBundle(r.json, (await sys.relationshipOf(relationship)).recordRoot);
      assert.ok(verdict.valid && verdict.entries.every((e) => e.valid));
      // The registration refused while down goes through now.
      await sys.registerPatient(`${MRN}-LATE`, newcomer);
    });

    test("behavior: the logs of the whole flow hold no record content, MRN, token, key or seed", () => {
      const text = logLines.join("");
      assert.ok(logLines.length > 20, "requests were logged");
      assert.ok(text.includes('"route":"/v1/relationships/:id/records"'), "reads are logged by route");
      assert.ok(text.includes('"route":"/v1/patients/:id/records"'), "intake is logged by route, not by MRN");
      const settings = sys.env.settings();
      const secrets = [
        ...records.distinctive,
        MRN,
        patientToken,
        viewerToken,
        patient.mnemonic,
        settings.delegateMnemonic,
        settings.relayerPrivateKey,
        settings.relayerPrivateKey.slice(2),
      ];
      for (const secret of secrets) {
        assert.ok(secret && !text.includes(secret), `the logs contain ${secret?.slice(0, 12)}…`);
      }
    });
  });
}

behavesLikeMedRec("server");
behavesLikeMedRec("embedded");
