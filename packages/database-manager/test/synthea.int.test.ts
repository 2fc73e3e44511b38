/**
 * FHIR that nobody here wrote: every bundle of a small deterministic Synthea population (see
 * scripts/synthea.ts; generated once into ~/.cache/medrec by `./medrec test`'s set-up step, or here
 * when missing) goes through the staff API of a whole gatekeeper on a REAL geth network and
 * PostgreSQL server — patients' transaction bundles (Claims, ExplanationOfBenefits, Provenance,
 * `urn:uuid` and conditional references) and the provider directory's batch bundles. None is
 * refused; references are resolved or kept as FHIR's rules say; every resource lands in the scope
 * the protocol's table gives; everything read back in pages verifies against the on-chain root.
 *
 * And a validator nobody here wrote checks what the gatekeeper serves: HAPI FHIR's
 * FhirInstanceValidator with the R4 core definitions (@medrec/testkit/fhir-validator, one JVM for
 * the file) finds no error in any page the demo's patient and family member read, nor in the
 * dapp's export of those records, nor in any page of the Synthea population read back.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { after, before, describe, test } from "node:test";
import { fetchVerifiedRecords, type Hash, resourceCategories, SCOPE_CODES } from "@medrec/protocol";
import { buildTimeline, exportFhirBundle, type TimelineSource } from "@medrec/protocol/patient";
import {
  describeFhirIssues,
  type FhirValidator,
  fhirErrors,
  startFhirValidator,
} from "@medrec/testkit/fhir-validator";
import type { Hex } from "viem";
import { ensureTestPopulations } from "../scripts/synthea.ts";
import type { FhirResource } from "../src/seams.ts";
import { DEMO_FAMILY_GRANT, demoPatientBundles } from "../src/seed/demo.ts";
import { type System, startSystem } from "./system.support.ts";

type Bundle = { resourceType: "Bundle"; type: string; entry: { fullUrl?: string; resource: FhirResource }[] };
type Uploaded = { file: string; mrn: string; relationship: Hex; token: string; bundle: Bundle; root: Hex };

let sys: System;
let validator: FhirValidator | undefined;
const uploaded: Uploaded[] = [];

const onChain = (relationship: Hex) => async (): Promise<Hash> =>
  (await sys.relationshipOf(relationship)).recordRoot;

before(async () => {
  // The JVM loads the R4 definitions while the network starts.
  const validatorStarted = startFhirValidator();
  validatorStarted.catch(() => {});
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
  validator = await validatorStarted;
});
after(async () => {
  await validator?.stop();
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

  test("behavior: urn:uuid references become Type/id; conditional references to the directory become logical references", async () => {
    const u = uploaded.find((x) => x.bundle.type === "transaction") as Uploaded;
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship: u.relationship,
      token: u.token,
      onChainRoot: onChain(u.relationship),
    });
    const byId = new Set(read.resources.map((r) => `${r.resourceType}/${r.id}`));
    const refs: string[] = [];
    const logical: { type: string; identifier: { system?: string; value: string } }[] = [];
    JSON.stringify(read.resources, (key, value) => {
      if (key === "reference" && typeof value === "string") refs.push(value);
      if (typeof value?.type === "string" && value.identifier?.value !== undefined && !("reference" in value))
        logical.push(value);
      return value;
    });
    assert.ok(refs.length > 100);
    assert.equal(refs.filter((r) => r.startsWith("urn:uuid:")).length, 0, "no urn:uuid reference is left");
    const local = refs.filter((r) => /^[A-Z][A-Za-z]+\/[A-Za-z0-9.-]+$/.test(r));
    assert.ok(local.length > 0);
    for (const r of local) assert.ok(byId.has(r), `${r} resolves within the record set`);
    // The Practitioner, Organization and Location are in the directory's bundles, not the
    // patient's: a conditional reference matching nothing in the upload (only meaningful inside a
    // transaction) becomes the logical reference it stands for — type and identifier.
    assert.equal(refs.filter((r) => r.includes("?")).length, 0, "no conditional reference is stored");
    const types = new Set(logical.map((l) => l.type));
    for (const type of ["Practitioner", "Organization", "Location"]) assert.ok(types.has(type), type);
    const npi = logical.find((l) => l.type === "Practitioner")?.identifier;
    assert.equal(npi?.system, "http://hl7.org/fhir/sid/us-npi");
    assert.match(npi?.value ?? "", /^\d+$/);
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

/** Every page of a search as served (the raw text), following `link` `next` from `first`. */
async function servedPages(first: string, token: string): Promise<string[]> {
  const pages: string[] = [];
  for (let url: string | undefined = first; url !== undefined; ) {
    const r = await sys.get(url, { token });
    assert.equal(r.status, 200, `${url}: ${r.text.slice(0, 300)}`);
    pages.push(r.text);
    url = (r.json.link as { relation: string; url: string }[]).find((l) => l.relation === "next")?.url;
  }
  return pages;
}

/** Validates each document; fails naming the first errors of each that has any. */
async function assertValidFhir(
  documents: { what: string; document: unknown }[],
  diagnostic: (message: string) => void,
): Promise<void> {
  const failures: string[] = [];
  const started = performance.now();
  // All asked at once: the JVM validates on every core and answers in order.
  const answers = await Promise.all(
    documents.map(({ document }) => (validator as FhirValidator).validate(document)),
  );
  diagnostic(
    `${documents.length} documents validated in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  for (const [i, issues] of answers.entries()) {
    const errors = fhirErrors(issues);
    if (errors.length === 0) continue;
    const kinds = new Map<string, number>();
    for (const e of errors) kinds.set(e.messageId ?? "?", (kinds.get(e.messageId ?? "?") ?? 0) + 1);
    const byKind = [...kinds].map(([k, n]) => `${k} ×${n}`).join(", ");
    failures.push(
      `${documents[i]?.what}: ${errors.length} errors (${byKind})\n${describeFhirIssues(errors, 5)}`,
    );
  }
  assert.equal(failures.length, 0, `HAPI FHIR's validator found errors:\n${failures.slice(0, 5).join("\n")}`);
}

describe("a validator nobody here wrote: what the gatekeeper serves is valid FHIR R4", () => {
  test("behavior: every page the demo's patient and family member read, and the dapp's export of them, has no error", async (t) => {
    const viewer = await sys.env.patient();
    const viewerToken = await sys.signIn(viewer.account);
    // One gatekeeper holds the three providers' demo records, each as its own patient's record set.
    const sets = await Promise.all(
      demoPatientBundles().map(async ({ provider, bundle }, i) => {
        const holder = await sys.env.patient();
        const relationship = await sys.registerPatient(`DEMO-${i}`, holder);
        await sys.rootPublished(relationship, await sys.ingest(`DEMO-${i}`, bundle));
        return { provider, holder, relationship, token: await sys.signIn(holder.account) };
      }),
    );
    const documents: { what: string; document: unknown }[] = [];
    const sources: { source: TimelineSource; resources: FhirResource[] }[] = [];
    for (const [i, { provider, holder, relationship, token }] of sets.entries()) {
      const base = `/v1/relationships/${relationship}/records`;
      // Default pages; for one provider also small pages, so that `link` `next` is served too.
      for (const query of i === 1 ? ["", "?_count=25"] : [""])
        for (const [n, page] of (await servedPages(`${base}${query}`, token)).entries())
          documents.push({
            what: `${provider}: the patient's page ${n + 1} of ${base}${query}`,
            document: page,
          });
      if ((DEMO_FAMILY_GRANT.providers as readonly string[]).includes(provider)) {
        const scopes = DEMO_FAMILY_GRANT.scopes;
        await sys.viewAt(
          await sys.grant(holder, relationship, viewer.account.address, scopes, 2_000_000_000),
        );
        for (const category of scopes)
          for (const [n, page] of (await servedPages(`${base}?category=${category}`, viewerToken)).entries())
            documents.push({
              what: `${provider}: the family member's ${category} page ${n + 1}`,
              document: page,
            });
      }
      const read = await fetchVerifiedRecords({
        gatekeeperUrl: sys.url,
        relationship,
        token,
        onChainRoot: onChain(relationship),
      });
      assert.ok(read.valid, provider);
      sources.push({ source: { provider, relationship }, resources: read.resources });
    }
    const timeline = buildTimeline(sources);
    documents.push({ what: "the dapp's export of every record", document: exportFhirBundle(timeline) });
    documents.push({
      what: "the dapp's export of the labs",
      document: exportFhirBundle(timeline, { filter: { categories: ["labs"] } }),
    });
    assert.ok(documents.length >= 10, `${documents.length} documents`);
    await assertValidFhir(documents, (m) => t.diagnostic(m));

    // The validator is not silent: a served page without its fullUrls, and an export with a
    // total, are the errors it found before the gatekeeper and the export were fixed.
    const page = JSON.parse(documents[0]?.document as string);
    for (const entry of page.entry) delete entry.fullUrl;
    const found = async (document: unknown) =>
      new Set(fhirErrors(await (validator as FhirValidator).validate(document)).map((e) => e.messageId));
    assert.ok((await found(page)).has("Bundle_BUNDLE_Entry_NoFullUrl"));
    const exported = exportFhirBundle(timeline);
    assert.ok(
      (await found({ ...exported, total: exported.entry?.length })).has(
        "http://hl7.org/fhir/StructureDefinition/Bundle#bdl-1",
      ),
    );
  });

  test("behavior: every page of the Synthea population read back has no error", async (t) => {
    const documents: { what: string; document: unknown }[] = [];
    // Pages of the default size (500), as a client reads them: smaller documents also spread
    // over the validator's threads. The export's wrapper is checked with the demo's records.
    for (const u of uploaded) {
      const base = `/v1/relationships/${u.relationship}/records`;
      for (const [n, page] of (await servedPages(base, u.token)).entries())
        documents.push({ what: `${u.file}: page ${n + 1}`, document: page });
    }
    const served = documents.map((d) => JSON.parse(d.document as string).entry?.length ?? 0);
    assert.equal(
      served.reduce((a, b) => a + b, 0),
      uploaded.reduce((a, u) => a + u.bundle.entry.length, 0),
      "every resource is on a page",
    );
    await assertValidFhir(documents, (m) => t.diagnostic(m));
  });
});
