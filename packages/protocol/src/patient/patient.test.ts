import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GatekeeperRequestError } from "../client.ts";
import type { FhirResource } from "../fhir.ts";
import { generatePatientMnemonic } from "../keys.ts";
import { parseManifest } from "../manifest.ts";
import { RelayedCallRevertedError } from "../relay.ts";
import { OBSERVATION_CATEGORY_SYSTEM } from "../scopes.ts";
import { encryptionKeyPairFromMnemonic, generateEncryptionKeyPair, sealJson } from "../sealed-box.ts";
import { describeActor } from "./access-log.ts";
import { describePatientErrorCode, PatientDataError, patientErrorCode } from "./errors.ts";
import { EXPORT_SOURCE_URL, exportFhirBundle, exportFullUrl, healthSummary } from "./export.ts";
import { patientNetworkFromManifest, shortAddress } from "./network.ts";
import { describeRecordChange, diffFingerprints, fingerprint } from "./notifications.ts";
import { openProviderDetails } from "./relationships.ts";
import { expiryToTimestamp, formatTimeLeft } from "./sharing.ts";
import { buildTimeline } from "./timeline.ts";

const lab = (
  id: string,
  date: string,
  value: number,
  code = "4548-4",
  display = "Hemoglobin A1c",
): FhirResource => ({
  resourceType: "Observation",
  id,
  status: "final",
  category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
  code: { coding: [{ system: "http://loinc.org", code, display }] },
  effectiveDateTime: date,
  valueQuantity: { value, unit: "%" },
  referenceRange: [{ high: { value: 5.7, unit: "%" } }],
});

const resources: FhirResource[] = [
  lab("a1c-old", "2023-03-01T09:00:00Z", 7.9),
  lab("a1c-new", "2024-03-01T09:00:00Z", 7.4),
  lab("ldl-ancient", "2019-01-01T09:00:00Z", 3.1, "18262-6", "LDL cholesterol"),
  {
    resourceType: "MedicationRequest",
    id: "metformin",
    status: "active",
    medicationCodeableConcept: { text: "metformin hydrochloride 500 MG Oral Tablet" },
    authoredOn: "2020-05-01",
  },
  {
    resourceType: "MedicationRequest",
    id: "amoxicillin",
    status: "completed",
    medicationCodeableConcept: { text: "Amoxicillin 250 MG" },
    authoredOn: "2018-05-01",
  },
  {
    resourceType: "AllergyIntolerance",
    id: "penicillin",
    criticality: "high",
    code: { coding: [{ display: "Penicillin" }] },
    recordedDate: "2015-01-01",
  },
  {
    resourceType: "Condition",
    id: "t2d",
    clinicalStatus: { coding: [{ code: "active" }] },
    code: { text: "Type 2 diabetes mellitus" },
    onsetDateTime: "2020-04-01",
  },
  {
    resourceType: "Condition",
    id: "sprain",
    clinicalStatus: { coding: [{ code: "resolved" }] },
    code: { text: "Sprain of ankle" },
    onsetDateTime: "2019-06-01",
  },
  {
    resourceType: "Immunization",
    id: "flu",
    vaccineCode: { text: "Influenza" },
    occurrenceDateTime: "2024-10-01",
  },
];
const rel = `0x${"cd".repeat(32)}`;
const timeline = buildTimeline([{ source: { provider: "Lakeside Clinic", relationship: rel }, resources }]);

describe("export and summary", () => {
  test("behavior: a FHIR R4 collection Bundle of all or of a selection, each entry naming its provider", () => {
    const all = exportFhirBundle(timeline, { timestamp: new Date("2025-01-01T00:00:00Z") });
    assert.equal(all.resourceType, "Bundle");
    assert.equal(all.type, "collection");
    assert.equal(all.timestamp, "2025-01-01T00:00:00.000Z");
    assert.equal("total" in all, false, "bdl-1: total only on a searchset or history Bundle");
    assert.equal(all.entry?.length, resources.length);
    assert.deepEqual(all.entry?.[0]?.extension, [{ url: EXPORT_SOURCE_URL, valueString: "Lakeside Clinic" }]);
    const urls = all.entry?.map((e) => String(e.fullUrl)) ?? [];
    for (const url of urls)
      assert.match(url, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(urls).size, urls.length, "unique in the Bundle");
    assert.equal(
      exportFullUrl("Lakeside Clinic", resources[0] as FhirResource),
      exportFullUrl("Lakeside Clinic", resources[0] as FhirResource),
      "stable",
    );
    assert.notEqual(
      exportFullUrl("Lakeside Clinic", resources[0] as FhirResource),
      exportFullUrl("Hilltop Medical", resources[0] as FhirResource),
      "the same id at another provider is another record",
    );
    const labs = exportFhirBundle(timeline, { filter: { categories: ["labs"] } });
    assert.deepEqual(
      labs.entry?.map((e) => e.resource?.id),
      ["a1c-new", "a1c-old", "ldl-ancient"],
    );
  });

  test("behavior: the summary lists current medications and conditions, allergies, immunizations and the latest recent labs", () => {
    const summary = healthSummary(timeline);
    assert.deepEqual(
      summary.medications.map((m) => m.title),
      ["metformin hydrochloride 500 MG Oral Tablet"],
    );
    assert.deepEqual(
      summary.conditions.map((c) => c.title),
      ["Type 2 diabetes mellitus"],
    );
    assert.deepEqual(
      summary.allergies.map((a) => [a.title, a.detail]),
      [["Penicillin", "high criticality"]],
    );
    assert.deepEqual(
      summary.immunizations.map((i) => i.title),
      ["Influenza"],
    );
    assert.deepEqual(
      summary.recentLabs.map((l) => [l.title, l.detail, l.flag]),
      [["Hemoglobin A1c", "7.4 %", "high"]],
      "one line per test (the newest), none older than a year before the newest lab",
    );
  });
  test("behavior: the same test named differently at two providers is one line in the summary (by its code)", () => {
    const twoProviders = buildTimeline([
      {
        source: { provider: "Lakeside Clinic", relationship: rel },
        resources: [lab("a", "2024-03-01T09:00:00Z", 7.4)],
      },
      {
        source: { provider: "Hilltop Medical", relationship: rel },
        resources: [
          lab("b", "2024-02-01T09:00:00Z", 7.1, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
          lab("c", "2024-02-01T09:00:00Z", 3.1, "18262-6", "LDL cholesterol"),
        ],
      },
    ]);
    assert.deepEqual(
      healthSummary(twoProviders).recentLabs.map((l) => [l.title, l.detail]),
      [
        ["Hemoglobin A1c", "7.4 %"],
        ["LDL cholesterol", "3.1 %"],
      ],
    );
  });
});

describe("notifications", () => {
  test("behavior: a new record set compared with the previous one counts added, changed and removed", () => {
    const before = fingerprint(resources.slice(0, 4));
    const after = fingerprint([
      ...resources.slice(1, 3),
      { ...(resources[3] as FhirResource), status: "stopped" },
      ...resources.slice(4, 7),
    ]);
    const diff = diffFingerprints(before, after);
    assert.deepEqual(diff, { added: 3, changed: 1, removed: 1 });
    assert.equal(
      describeRecordChange("Lakeside Clinic", diff),
      "3 new records, 1 updated, 1 removed from Lakeside Clinic",
    );
    assert.equal(
      describeRecordChange("Hilltop Medical", { added: 1, changed: 0, removed: 0 }),
      "1 new record from Hilltop Medical",
    );
  });
});

describe("sharing helpers", () => {
  test("behavior: 1 day, 1 week, 30 days or a date, from the chain's time", () => {
    const now = 1_700_000_000n;
    assert.equal(expiryToTimestamp({ days: 1 }, now), now + 86_400n);
    assert.equal(expiryToTimestamp({ days: 7 }, now), now + 7n * 86_400n);
    assert.equal(expiryToTimestamp({ days: 30 }, now), now + 30n * 86_400n);
    assert.equal(expiryToTimestamp({ until: new Date("2030-01-01T00:00:00Z") }, now), 1_893_456_000n);
    assert.throws(
      () => expiryToTimestamp({ days: 0 }, now),
      (e) => e instanceof PatientDataError && e.code === "invalid-input",
    );
  });

  test("behavior: time left in words", () => {
    assert.equal(formatTimeLeft(7 * 86_400), "7 days");
    assert.equal(formatTimeLeft(5 * 3600 + 10), "5 hours");
    assert.equal(formatTimeLeft(61), "1 minute");
    assert.equal(formatTimeLeft(5), "less than a minute");
    assert.equal(formatTimeLeft(0), "expired");
  });
});

describe("who and what went wrong, in words", () => {
  const patient = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
  const viewer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  test("behavior: the patient is You, a saved contact by name, staff by provider, anyone else by a short address", () => {
    const base = { patient, provider: "Lakeside Clinic", action: "records.read" } as const;
    assert.equal(describeActor(patient, base), "You");
    assert.equal(describeActor(viewer, { ...base, contacts: { [viewer.toLowerCase()]: "Sam" } }), "Sam");
    assert.equal(
      describeActor(viewer, { ...base, action: "staff.records.upload" }),
      "Staff at Lakeside Clinic",
    );
    assert.equal(
      describeActor("0x0000000000000000000000000000000000000000", { ...base, action: "staff.legacy.sync" }),
      "Lakeside Clinic (automated)",
    );
    assert.equal(describeActor(viewer, base), "0x7099…79C8");
    assert.equal(shortAddress(viewer), "0x7099…79C8");
  });

  test("behavior: every failure maps to a code and a plain sentence; unreachable is told from refused", () => {
    const relayRefusal = (status: number, check: string) =>
      new GatekeeperRequestError(
        status,
        { type: "about:blank", title: check, status, detail: check, check },
        "POST /v1/relay",
      );
    assert.equal(patientErrorCode(new TypeError("fetch failed")), "unreachable");
    assert.equal(patientErrorCode(new GatekeeperRequestError(503, undefined, "GET /x")), "unreachable");
    assert.equal(patientErrorCode(new GatekeeperRequestError(403, undefined, "GET /x")), "refused");
    assert.equal(patientErrorCode(relayRefusal(429, "signer-limit")), "unreachable", "a limit: later");
    assert.equal(patientErrorCode(relayRefusal(409, "wrong-nonce")), "relay-refused");
    const reverted = new RelayedCallRevertedError({
      request: { from: patient, to: viewer },
      reason: "RelationshipNotPatient(0x…, 0x…)",
    });
    assert.equal(patientErrorCode(reverted), "transaction-reverted");
    assert.equal(patientErrorCode(new Error("?")), "unexpected");
    assert.match(describePatientErrorCode("unreachable"), /could not be reached/);
  });
});

describe("network and relationships", () => {
  const viewer = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
  test("behavior: the public part of a manifest, without the demo secrets", () => {
    const mnemonic = generatePatientMnemonic();
    const manifest = parseManifest({
      chainId: 1337,
      rpcUrl: "http://127.0.0.1:8545",
      deployBlock: 3,
      contracts: {
        AgentRegistry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        Agent: "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
        Relationship: "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
        Forwarder: "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9",
        AuditAnchor: "0xdc64a140aa3e981100a9beca4e685f962f0cf6c9",
      },
      providers: [
        {
          name: "Lakeside Clinic",
          account: viewer,
          gatekeeperUrl: "http://127.0.0.1:7102",
          rpcUrl: "http://127.0.0.1:8546",
        },
      ],
      demo: { patientMnemonic: mnemonic, patientAddress: viewer },
    });
    const network = patientNetworkFromManifest(manifest);
    assert.equal(network.fromBlock, 3n);
    assert.equal(network.contracts.Forwarder, "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9");
    assert.equal(network.providers[0]?.name, "Lakeside Clinic");
    assert.ok(!JSON.stringify(network, (_, v) => (typeof v === "bigint" ? String(v) : v)).includes(mnemonic));
    assert.throws(
      () =>
        patientNetworkFromManifest({
          ...manifest,
          contracts: { AgentRegistry: manifest.contracts.AgentRegistry },
        }),
      (e) => e instanceof PatientDataError && e.code === "invalid-input",
    );
  });

  test("behavior: provider details sealed to the patient open with the seed's key, and with no other", () => {
    const mnemonic = generatePatientMnemonic();
    const key = encryptionKeyPairFromMnemonic(mnemonic);
    const details = {
      v: 1,
      name: "Lakeside Clinic",
      gatekeeperUrl: "http://127.0.0.1:7102",
      account: viewer,
    };
    const sealed = sealJson(details, key.publicKey);
    assert.deepEqual(openProviderDetails({ encryptionKey: key }, sealed), details);
    assert.equal(openProviderDetails({ encryptionKey: generateEncryptionKeyPair() }, sealed), undefined);
    assert.equal(
      openProviderDetails({ encryptionKey: key }, sealJson({ v: 1, name: "" }, key.publicKey)),
      undefined,
    );
  });
});

describe("the @medrec/protocol/patient entry", () => {
  test("behavior: browser-safe — no module of the layer (or what it imports from the package) reads a node: module", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const { dirname, join, resolve } = await import("node:path");
    const { fileURLToPath } = await import("node:url");
    const here = dirname(fileURLToPath(import.meta.url));
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, "utf8");
      assert.doesNotMatch(source, /from\s+"node:|import\("node:/, `${file} imports a node: module`);
      for (const [, target] of source.matchAll(/from\s+"(\.{1,2}\/[^"]+\.ts)"/g))
        visit(resolve(dirname(file), target as string));
    };
    for (const name of readdirSync(here).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts")))
      visit(join(here, name));
    assert.ok(seen.size > 20, `${seen.size} modules read`);
  });

  test("behavior: exported from the package as ./patient; its error extends BaseError and carries a code", async () => {
    const entry = await import("@medrec/protocol/patient");
    const { BaseError } = await import("../errors.ts");
    const error = new entry.PatientDataError("unreachable", "Lakeside Clinic did not answer.");
    assert.ok(error instanceof BaseError);
    assert.equal(error.name, "PatientDataError");
    assert.equal(error.code, "unreachable");
    assert.equal(typeof entry.loadPatientRecords, "function");
    assert.equal(typeof entry.discoverRelationships, "function");
  });
});

describe("records without a network", () => {
  test("behavior: a relationship whose provider could not be told is `unavailable`, streamed as its status, never fetched", async () => {
    const { streamPatientRecords } = await import("./records.ts");
    const key = generateEncryptionKeyPair();
    const ctx = {
      network: { chainId: 1, rpcUrl: "http://127.0.0.1:1", contracts: {}, providers: [] },
      encryptionKey: key,
      fetch: () => Promise.reject(new Error("no request may be made")),
    } as unknown as Parameters<typeof streamPatientRecords>[0]["ctx"];
    const relationship = {
      id: `0x${"ef".repeat(32)}`,
      status: "unreadable",
      provider: undefined,
    } as unknown as import("./relationships.ts").PatientRelationship;
    const events = [];
    const stream = streamPatientRecords({ ctx, relationships: [relationship] });
    let next = await stream.next();
    while (!next.done) {
      events.push(next.value);
      next = await stream.next();
    }
    assert.deepEqual(
      events.map((e) => e.type),
      ["status"],
    );
    assert.equal(next.value.providers[0]?.status, "unavailable");
    assert.equal(next.value.providers[0]?.error?.code, "details-unreadable");
  });
});
