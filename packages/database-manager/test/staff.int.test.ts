/**
 * Provider staff are listed people (STAFF_ACCOUNTS, SIWE), never the sealer; the operator key
 * stays for automation. Every staff action — linking a patient, uploading records, a legacy sync,
 * by a person or the operator key — is an entry in the patient's audit log: actor, action,
 * outcome, how many resources, and a salted hash of the MRN (never the MRN). The whole gatekeeper
 * on a REAL geth network and PostgreSQL server.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readKeystore } from "@medrec/chain-node";
import { type Hex, zeroAddress, zeroHash } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { startGatekeeper } from "../src/gatekeeper.ts";
import { auditSaltOf, STAFF_ACTIONS } from "../src/patients/patients.service.ts";
import { seedLegacy } from "../src/seed/seed.ts";
import { generatePatientBundle } from "../src/seed/synthetic.ts";
import { type Patient, silent } from "./chain.support.ts";
import { type System, startSystem } from "./system.support.ts";

const staff = privateKeyToAccount(generatePrivateKey());
const MRN = "STAFF-0001";

type Entry = {
  actor: string;
  action: string;
  decision: string;
  categories: string[];
  count?: number;
  mrnHash?: string;
};

let sys: System;
let patient: Patient;
let staffToken: string;
let patientToken: string;
let relationship: Hex;

before(async () => {
  sys = await startSystem("staff_int", { database: "server", config: { STAFF_ACCOUNTS: staff.address } });
  patient = await sys.env.patient();
  [staffToken, patientToken] = await Promise.all([sys.signIn(staff), sys.signIn(patient.account)]);
});
after(async () => {
  await sys?.stop();
});

/** Waits until the gatekeeper's chain view has seen the newest block (new relationships). */
const caughtUp = async () => sys.viewAt(await sys.env.publicClient.getBlockNumber());

/** The patient's audit log, as the patient reads it. */
async function auditOf(id: Hex): Promise<Entry[]> {
  await caughtUp();
  const r = await sys.get(`/v1/relationships/${id}/audit`, { token: patientToken });
  assert.equal(r.status, 200, r.text);
  return r.json as Entry[];
}

/** Every stored audit row, as text (to prove what is never in it). */
async function everyAuditRow(): Promise<string> {
  return JSON.stringify(await sys.gk.db("audit_log").select("*"));
}

describe("staff identities", () => {
  test("default: a listed staff account links a patient; the patient reads who did it", async () => {
    const r = await sys.post(
      "/v1/patients",
      { mrn: MRN, patientAddress: patient.address },
      { token: staffToken },
    );
    assert.equal(r.status, 201, r.text);
    relationship = r.json.relationship as Hex;

    const link = (await auditOf(relationship)).filter((e) => e.action === STAFF_ACTIONS.link);
    assert.equal(link.length, 1);
    assert.equal(link[0]?.actor, staff.address);
    assert.equal(link[0]?.decision, "allowed");
    assert.equal(link[0]?.count, 1);
    assert.equal(link[0]?.mrnHash, sys.gk.patients?.mrnHash(MRN));
  });

  test("error: a session of an unlisted account — the provider's (sealer's) or a patient's — gets 403 problem+json", async () => {
    // The real sealer key of the provider's geth node, from its keystore.
    const node = sys.env.network.state.nodes[0];
    assert.ok(node);
    const keystore = (await readdir(node.keystoreDir))[0] as string;
    const sealer = privateKeyToAccount(
      await readKeystore(
        join(node.keystoreDir, keystore),
        (await readFile(node.passwordPath, "utf8")).trim(),
      ),
    );
    assert.equal(sealer.address, sys.env.settings().provider.account, "the provider account is the sealer's");
    const sealerToken = await sys.signIn(sealer);
    const stranger = await sys.signIn(privateKeyToAccount(generatePrivateKey()));
    for (const token of [sealerToken, patientToken, stranger]) {
      const r = await sys.post(
        "/v1/patients",
        { mrn: "STAFF-NOT", patientAddress: patient.address },
        { token },
      );
      assert.equal(r.status, 403, r.text);
      assert.match(r.type, /^application\/problem\+json/);
      const upload = await sys.post(
        `/v1/patients/${MRN}/records`,
        generatePatientBundle({ seed: 1, index: 0 }).bundle,
        {
          token,
        },
      );
      assert.equal(upload.status, 403);
    }
    assert.equal(await sys.gk.db("patients").where({ mrn: "STAFF-NOT" }).first(), undefined);
  });

  test("error: the provider (sealer) account in STAFF_ACCOUNTS stops the start-up", async () => {
    const provider = sys.env.settings().provider.account;
    const error = await startGatekeeper({
      config: loadConfig({
        PORT: "0",
        DATABASE_URL: sys.databaseUrl,
        STAFF_ACCOUNTS: `${staff.address},${provider}`,
      }),
      logger: silent,
      chainSettings: sys.env.settings(),
    }).then(
      () => assert.fail("a gatekeeper started with its sealer account as staff"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      "STAFF_ACCOUNTS: entry 2 of 2 is the provider (sealer) account; a sealer key is never a staff identity",
    ]);
  });
});

describe("every staff action is in the patient's audit log", () => {
  test("behavior: uploads by a staff member and by the operator key: actor, count, categories", async () => {
    const { bundle } = generatePatientBundle({ seed: 21, index: 0 });
    const entries = bundle.entry?.length ?? 0;
    const byStaff = await sys.post(`/v1/patients/${MRN}/records`, bundle, { token: staffToken });
    assert.equal(byStaff.status, 200, byStaff.text);
    const small = { resourceType: "Bundle", type: "collection", entry: bundle.entry?.slice(0, 2) };
    const byOperator = await sys.post(`/v1/patients/${MRN}/records`, small, { operator: true });
    assert.equal(byOperator.status, 200, byOperator.text);

    const uploads = (await auditOf(relationship)).filter((e) => e.action === STAFF_ACTIONS.upload);
    assert.equal(uploads.length, 2);
    const [first, second] = uploads as [Entry, Entry];
    assert.equal(first.actor, staff.address);
    assert.equal(first.count, entries);
    assert.ok(first.categories.includes("labs") && first.categories.includes("demographics"));
    // The operator is no account: recorded as the zero address, which no one can sign for.
    assert.equal(second.actor, zeroAddress);
    assert.equal(second.count, 2);
    for (const e of uploads) {
      assert.equal(e.decision, "allowed");
      assert.equal(e.mrnHash, sys.gk.patients?.mrnHash(MRN));
    }
  });

  test("behavior: a legacy sync is recorded with the number of resources it stored", async () => {
    const [legacyMrn] = await seedLegacy(sys.gk.db, { count: 1, seed: 77, schema: "legacy_staff" });
    const other = await sys.env.patient();
    const linked = await sys.post(
      "/v1/patients",
      { mrn: legacyMrn, patientAddress: other.address },
      { operator: true },
    );
    assert.equal(linked.status, 201, linked.text);
    const patients = sys.gk.patients;
    assert.ok(patients && legacyMrn);
    const result = await patients.syncLegacy(
      { kind: "session", address: staff.address },
      sys.gk.db,
      legacyMrn,
      {
        schema: "legacy_staff",
      },
    );
    assert.ok(result.stored > 0);

    const otherToken = await sys.signIn(other.account);
    await caughtUp();
    const r = await sys.get(`/v1/relationships/${linked.json.relationship}/audit`, { token: otherToken });
    assert.equal(r.status, 200, r.text);
    const entries = r.json as Entry[];
    const link = entries.find((e) => e.action === STAFF_ACTIONS.link);
    const sync = entries.find((e) => e.action === STAFF_ACTIONS.legacySync);
    assert.equal(link?.actor, zeroAddress, "linked with the operator key");
    assert.equal(sync?.actor, staff.address);
    assert.equal(sync?.count, result.stored);
    assert.equal(sync?.decision, "allowed");
  });

  test("error: refused staff actions are recorded too, and no audit row holds an MRN", async () => {
    const unknown = "STAFF-NOBODY-42";
    const r = await sys.post(
      `/v1/patients/${unknown}/records`,
      generatePatientBundle({ seed: 2, index: 0 }).bundle,
      {
        token: staffToken,
      },
    );
    assert.equal(r.status, 404);
    const conflict = await sys.post(
      "/v1/patients",
      { mrn: MRN, patientAddress: (await sys.env.patient()).address },
      {
        token: staffToken,
      },
    );
    assert.equal(conflict.status, 409);

    const hash = sys.gk.patients?.mrnHash(unknown) as string;
    const refused = await sys.gk.db("audit_log").where({ relationship: zeroHash, mrn_hash: hash });
    assert.equal(refused.length, 1, "an unknown MRN: kept under the zero relationship, read by no patient");
    assert.equal(refused[0]?.decision, "denied");
    assert.equal(refused[0]?.reason, "not-found");
    // The refused relink of MRN is shown to the patient who holds it.
    const relink = (await auditOf(relationship)).filter(
      (e) => e.action === STAFF_ACTIONS.link && e.decision === "denied",
    );
    assert.equal(relink.length, 1);
    assert.equal(relink[0]?.actor, staff.address);

    const rows = await everyAuditRow();
    for (const mrn of [MRN, unknown]) {
      assert.ok(!rows.includes(mrn), "an MRN in the audit log");
      assert.ok(!rows.includes(createHash("sha256").update(mrn).digest("hex")), "an unsalted MRN hash");
    }
  });
});

describe("the salt", () => {
  test("behavior: MRN hashes are keyed per gatekeeper (AUDIT_SALT), not a bare hash", () => {
    const hash = sys.gk.patients?.mrnHash(MRN) as string;
    assert.match(hash, /^0x[0-9a-f]{64}$/);
    assert.notEqual(hash, `0x${createHash("sha256").update(MRN).digest("hex")}`);
    assert.equal(sys.gk.patients?.mrnHash(MRN), hash, "stable: the same MRN gives the same hash");
    const mnemonic = sys.env.settings().delegateMnemonic;
    const derived = auditSaltOf({ delegateMnemonic: mnemonic });
    assert.ok(
      derived.equals(auditSaltOf({ delegateMnemonic: mnemonic })),
      "derived: fixed per delegate seed",
    );
    assert.ok(!derived.equals(auditSaltOf({ auditSalt: "s".repeat(40), delegateMnemonic: mnemonic })));
    assert.ok(!derived.toString("hex").includes(Buffer.from(mnemonic).toString("hex").slice(0, 16)));
  });
});
