/**
 * FHIR that nobody here wrote: every bundle of a small deterministic Synthea population (see
 * scripts/synthea.ts; generated once into ~/.cache/medrec by `./medrec test`'s set-up step, or here
 * when missing) goes through the staff API of a whole gatekeeper on a REAL geth network and
 * PostgreSQL server — patients' transaction bundles (Claims, ExplanationOfBenefits, Provenance,
 * `urn:uuid` and conditional references) and the provider directory's batch bundles. None is
 * refused; references are resolved or kept as FHIR's rules say; every resource lands in the scope
 * the protocol's table gives; everything read back in pages verifies against the on-chain root.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { after, before, describe, test } from "node:test";
import { fetchVerifiedRecords, type Hash, resourceCategories, SCOPE_CODES } from "@medrec/protocol";
import type { Hex } from "viem";
import { ensureTestPopulations } from "../scripts/synthea.ts";
import type { FhirResource } from "../src/seams.ts";
import { type System, startSystem } from "./system.support.ts";

type Bundle = { resourceType: "Bundle"; type: string; entry: { fullUrl?: string; resource: FhirResource }[] };
type Uploaded = { file: string; mrn: string; relationship: Hex; token: string; bundle: Bundle; root: Hex };

let sys: System;
const uploaded: Uploaded[] = [];

const onChain = (relationship: Hex) => async (): Promise<Hash> =>
  (await sys.relationshipOf(relationship)).recordRoot;

before(async () => {
  const files = await ensureTestPopulations();
  sys = await startSystem("synthea", { database: "server" });
  for (const [i, file] of files.entries()) {
    const text = await readFile(file);
    const bundle = JSON.parse(text.toString("utf8")) as Bundle;
    const patient = await sys.env.patient();
    const mrn = `SYN-${i}`;
    const relationship = await sys.registerPatient(mrn, patient);
    const token = await sys.signIn(patient.account);
    // The file's bytes as they are, streamed by the gatekeeper.
    const r = await sys.call(`/v1/patients/${mrn}/records`, {
      method: "POST",
      operator: true,
      rawBody: text,
      contentType: "application/fhir+json",
    });
    assert.equal(r.status, 200, `${basename(file)}: ${r.text.slice(0, 500)}`);
    assert.equal(r.json.stored, bundle.entry.length, basename(file));
    uploaded.push({ file: basename(file), mrn, relationship, token, bundle, root: r.json.recordRoot });
  }
});
after(async () => {
  await sys?.stop();
});

describe("a Synthea population through the staff API", () => {
  test("default: every bundle is accepted — patients' transactions and the directory's batches", () => {
    const types = new Set(uploaded.map((u) => u.bundle.type));
    assert.deepEqual([...types].sort(), ["batch", "transaction"]);
    assert.ok(uploaded.filter((u) => u.bundle.type === "transaction").length >= 4);
    const lifetime = Math.max(...uploaded.map((u) => u.bundle.entry.length));
    assert.ok(lifetime >= 1500, `the long history has ${lifetime} resources`);
  });

  test("behavior: every bundle reads back in pages, each entry verified against the on-chain root", async () => {
    for (const u of uploaded) {
      await sys.rootPublished(u.relationship, u.root);
      const read = await fetchVerifiedRecords({
        gatekeeperUrl: sys.url,
        relationship: u.relationship,
        token: u.token,
        onChainRoot: onChain(u.relationship),
      });
      assert.ok(read.valid, `${u.file}: ${JSON.stringify(read.failures.slice(0, 3))}`);
      assert.equal(read.total, u.bundle.entry.length, u.file);
      assert.equal(read.pages, Math.ceil(u.bundle.entry.length / 2000) || 1, u.file);
    }
  });

  test("behavior: urn:uuid references become Type/id; conditional references to the directory are kept", async () => {
    const u = uploaded.find((x) => x.bundle.type === "transaction") as Uploaded;
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship: u.relationship,
      token: u.token,
      onChainRoot: onChain(u.relationship),
    });
    const byId = new Set(read.resources.map((r) => `${r.resourceType}/${r.id}`));
    const refs: string[] = [];
    JSON.stringify(read.resources, (key, value) => {
      if (key === "reference" && typeof value === "string") refs.push(value);
      return value;
    });
    assert.ok(refs.length > 100);
    assert.equal(refs.filter((r) => r.startsWith("urn:uuid:")).length, 0, "no urn:uuid reference is left");
    const local = refs.filter((r) => /^[A-Z][A-Za-z]+\/[A-Za-z0-9.-]+$/.test(r));
    assert.ok(local.length > 0);
    for (const r of local) assert.ok(byId.has(r), `${r} resolves within the record set`);
    // The Practitioner, Organization and Location are in the directory's bundles, not the
    // patient's: a conditional reference matching nothing in the upload stays as written.
    const conditional = refs.filter((r) => /^(Practitioner|Organization|Location)\?identifier=/.test(r));
    assert.ok(conditional.length > 0);
    // Contained references (#coverage) are left alone.
    assert.ok(refs.filter((r) => r.startsWith("#")).every((r) => /^#[A-Za-z0-9.-]+$/.test(r)));
  });

  test("behavior: a conditional reference matching one resource of the same upload is resolved to Type/id", async () => {
    const directory = uploaded.find((x) => x.file.startsWith("practitionerInformation")) as Uploaded;
    const patient = uploaded.find((x) => x.bundle.type === "transaction") as Uploaded;
    const practitioners = directory.bundle.entry.map((e) => ({ resource: e.resource }));
    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      entry: [
        ...practitioners,
        ...patient.bundle.entry.map((e) => ({ fullUrl: e.fullUrl, resource: e.resource })),
      ],
    };
    const fresh = await sys.env.patient();
    const relationship = await sys.registerPatient("SYN-MERGED", fresh);
    const root = await sys.ingest("SYN-MERGED", bundle);
    await sys.rootPublished(relationship, root);
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship,
      token: await sys.signIn(fresh.account),
      onChainRoot: onChain(relationship),
    });
    assert.ok(read.valid);
    const refs: string[] = [];
    JSON.stringify(read.resources, (key, value) => {
      if (key === "reference" && typeof value === "string") refs.push(value);
      return value;
    });
    assert.equal(refs.filter((r) => r.startsWith("Practitioner?identifier=")).length, 0);
    const ids = new Set(practitioners.map((p) => `Practitioner/${p.resource.id}`));
    assert.ok(
      refs.some((r) => ids.has(r)),
      "references now name the directory's Practitioner by id",
    );
  });

  test("behavior: every resource type lands in the scope the protocol's table gives (billing under other)", async () => {
    const u = uploaded.reduce((a, b) => (b.bundle.entry.length > a.bundle.entry.length ? b : a));
    const expected = new Map<string, string>();
    // The table itself is pinned, type by type, by protocol's scopes.test.ts.
    for (const { resource } of u.bundle.entry) {
      const [category, ...more] = resourceCategories(resource);
      assert.deepEqual(more, [], `${resource.resourceType} needs one category`);
      expected.set(`${resource.resourceType}/${resource.id}`, category as string);
    }
    const served = new Map<string, string>();
    for (const category of SCOPE_CODES.filter((c) => c !== "sensitive")) {
      const read = await fetchVerifiedRecords({
        gatekeeperUrl: sys.url,
        relationship: u.relationship,
        token: u.token,
        onChainRoot: onChain(u.relationship),
        category,
      });
      assert.ok(read.valid, category);
      for (const r of read.resources) {
        const key = `${r.resourceType}/${r.id}`;
        assert.equal(served.get(key), undefined, `${key} is in ${served.get(key)} and ${category}`);
        served.set(key, category);
      }
    }
    assert.deepEqual(served, expected);
    const other = new Set([...served].filter(([, c]) => c === "other").map(([k]) => k.split("/")[0]));
    for (const billing of ["Claim", "ExplanationOfBenefit"]) assert.ok(other.has(billing), billing);
  });
});
