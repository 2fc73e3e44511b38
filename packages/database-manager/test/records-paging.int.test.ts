/**
 * Hospital-scale records, end to end on a REAL geth network and PostgreSQL server: NDJSON bulk
 * intake (FHIR Bulk Data style, one resource per line) and streamed Bundles through the staff API,
 * their limits and bad inputs; paged reads as FHIR searchsets (`_count`, `total`, `link` `next`
 * bound to the first page's root) verified entry by entry against the on-chain root by the
 * protocol's `fetchVerifiedRecords`.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  fetchVerifiedRecords,
  type Hash,
  RECORDS_PAGE_MAX,
  readBundleProofs,
  requiredScopes,
  SCOPE_BITS,
} from "@medrec/protocol";
import type { Hex } from "viem";
import type { FhirResource } from "../src/seams.ts";
import { generatePatientRecords } from "../src/seed/synthetic.ts";
import type { Patient } from "./chain.support.ts";
import { assertProblem, type System, startSystem } from "./system.support.ts";

const MRN = "PAGING-0001";
const UPLOAD_LIMIT = 1_000_000;
const MAX_RESOURCES = 300;

let sys: System;
let patient: Patient;
let token: string;
let relationship: Hex;
let resources: FhirResource[];
let root: Hex;

const ndjson = (rs: readonly unknown[]) => `${rs.map((r) => JSON.stringify(r)).join("\n")}\n`;

/** A staff upload as the operator, sent as is. */
const upload = (body: string | Buffer, contentType = "application/fhir+ndjson", mrn = MRN) =>
  sys.call(`/v1/patients/${mrn}/records`, { method: "POST", operator: true, rawBody: body, contentType });

const count = async () => Number((await sys.gk.db("record_resources").count({ n: "*" }).first())?.n);

before(async () => {
  sys = await startSystem("records_paging", {
    database: "server",
    config: {
      RECORDS_UPLOAD_LIMIT_BYTES: String(UPLOAD_LIMIT),
      RECORDS_UPLOAD_MAX_RESOURCES: String(MAX_RESOURCES),
    },
  });
  patient = await sys.env.patient();
  relationship = await sys.registerPatient(MRN, patient);
  token = await sys.signIn(patient.account);
  // Two synthetic patients' records under one MRN: ~45 resources of every category.
  resources = [1, 2].flatMap((seed) => generatePatientRecords({ seed, index: 0 }).resources);
});
after(async () => {
  await sys?.stop();
});

const onChainRoot = async (): Promise<Hash> => (await sys.relationshipOf(relationship)).recordRoot;

describe("NDJSON bulk intake", () => {
  test("default: one resource per line is validated, stored all or nothing, and its root published once", async () => {
    const r = await upload(ndjson(resources));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.stored, resources.length);
    assert.equal(r.json.changed, resources.length);
    root = r.json.recordRoot as Hex;
    await sys.rootPublished(relationship, root);
    assert.equal(await count(), resources.length);
  });

  test("error: a truncated line → 422 naming the line; nothing stored", async () => {
    const before = await count();
    const extra = { ...(resources[3] as FhirResource), id: "truncated-one" };
    const text = `${ndjson([extra, ...resources.slice(0, 3)])}${JSON.stringify(extra).slice(0, 40)}`;
    const r = await upload(text);
    assertProblem(r, 422, ["truncated-one"], "truncated line");
    assert.match(r.json.detail, /^line 5: not valid JSON \(truncated or malformed\)/);
    assert.equal(await count(), before);
  });

  test("error: an invalid resource → 422 naming the line and the element path, the value never echoed", async () => {
    const bad = { ...(resources[0] as FhirResource), id: "bad-gender", gender: "robot" };
    const r = await upload(ndjson([resources[1], resources[2], bad]));
    assertProblem(r, 422, ["robot"], "invalid resource");
    assert.match(r.json.detail, /^line 3: Patient\.gender: code is not in the required value set/);
    const notObject = await upload('{"resourceType":"Basic","code":{"text":"x"}}\n[1,2]\n');
    assertProblem(notObject, 422, [], "array line");
    assert.match(notObject.json.detail, /^line 2: must be one FHIR resource/);
  });

  test("error: every size refusal names the limit and the alternative", async () => {
    const big = ndjson(
      Array.from({ length: 200 }, (_, i) => ({
        resourceType: "Basic",
        id: `b${i}`,
        code: { text: "x".repeat(6000) },
      })),
    );
    assert.ok(Buffer.byteLength(big) > UPLOAD_LIMIT);
    const bytes = await upload(big);
    assertProblem(bytes, 413, [], "bytes");
    assert.match(
      bytes.json.detail,
      new RegExp(`at most ${UPLOAD_LIMIT} bytes \\(RECORDS_UPLOAD_LIMIT_BYTES\\)`),
    );
    assert.match(bytes.json.detail, /application\/fhir\+ndjson/);

    const many = ndjson(
      Array.from({ length: MAX_RESOURCES + 1 }, (_, i) => ({
        resourceType: "Basic",
        id: `m${i}`,
        code: { text: "x" },
      })),
    );
    const resourcesRefused = await upload(many);
    assertProblem(resourcesRefused, 413, [], "resources");
    assert.match(
      resourcesRefused.json.detail,
      new RegExp(`at most ${MAX_RESOURCES} resources \\(RECORDS_UPLOAD_MAX_RESOURCES\\)`),
    );

    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      entry: Array.from({ length: MAX_RESOURCES + 1 }, (_, i) => ({
        resource: { resourceType: "Basic", id: `e${i}`, code: { text: "x" } },
      })),
    };
    const entriesRefused = await upload(JSON.stringify(bundle), "application/fhir+json");
    assertProblem(entriesRefused, 413, [], "bundle entries");
    assert.match(entriesRefused.json.detail, /RECORDS_UPLOAD_MAX_RESOURCES/);

    // Other routes keep the small JSON limit, and say where records go.
    const other = await sys.call("/v1/patients", {
      method: "POST",
      operator: true,
      rawBody: JSON.stringify({ mrn: "X", pad: "x".repeat(5_100_000) }),
    });
    assertProblem(other, 413, [], "other route");
    assert.match(other.json.detail, /BODY_LIMIT_BYTES/);
    assert.match(other.json.detail, /POST \/v1\/patients\/\{mrn\}\/records/);

    const unsupported = await upload("Patient,1\n", "text/csv");
    assertProblem(unsupported, 415, [], "csv");
  });

  test("behavior: a streamed Bundle upload answers as before (unchanged resources change nothing)", async () => {
    const r = await upload(
      JSON.stringify({
        resourceType: "Bundle",
        type: "collection",
        entry: resources.map((resource) => ({ resource })),
      }),
      "application/fhir+json",
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.changed, 0);
    assert.equal(r.json.recordRoot, root);
  });
});

describe("paged reads", () => {
  const get = (query: string) => sys.get(`/v1/relationships/${relationship}/records${query}`, { token });

  test("default: pages of _count entries, total, self and next links, the same root on every page", async () => {
    const first = await get("?_count=10");
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.total, resources.length);
    assert.equal(first.json.entry.length, 10);
    assert.equal(readBundleProofs(first.json).root, root.toLowerCase());
    const links = first.json.link as { relation: string; url: string }[];
    assert.deepEqual(
      links.map((l) => l.relation),
      ["self", "next"],
    );
    const next = links.find((l) => l.relation === "next")?.url as string;
    assert.equal(first.headers.link, `<${next}>; rel="next"`);
    assert.match(next, new RegExp(`_count=10&_root=${root.toLowerCase()}&_offset=10$`));

    const seen = new Set<string>();
    let url: string | undefined = next;
    for (const e of first.json.entry) seen.add(`${e.resource.resourceType}/${e.resource.id}`);
    let pages = 1;
    while (url) {
      const page = await sys.get(url, { token });
      assert.equal(page.status, 200, page.text);
      assert.equal(page.json.total, resources.length);
      assert.equal(readBundleProofs(page.json).root, root.toLowerCase());
      for (const e of page.json.entry) seen.add(`${e.resource.resourceType}/${e.resource.id}`);
      url = (page.json.link as { relation: string; url: string }[]).find((l) => l.relation === "next")?.url;
      pages += 1;
    }
    assert.equal(pages, Math.ceil(resources.length / 10));
    assert.equal(seen.size, resources.length, "every entry exactly once");

    // Without _count: one page of at most the default.
    const all = await get("");
    assert.equal(all.json.entry.length, resources.length);
    assert.deepEqual(
      (all.json.link as { relation: string }[]).map((l) => l.relation),
      ["self"],
    );
  });

  test("behavior: category and _since combine with paging", async () => {
    const labs = resources.filter((r) => (requiredScopes(r) & (1 << SCOPE_BITS.labs)) !== 0);
    assert.ok(labs.length > 2);
    const first = await get("?category=labs&_count=2");
    assert.equal(first.json.total, labs.length);
    const next = (first.json.link as { relation: string; url: string }[]).find(
      (l) => l.relation === "next",
    )?.url;
    assert.match(next ?? "", /^\/v1\/relationships\/0x[0-9a-f]{64}\/records\?category=labs&_count=2&_root=/);
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship,
      token,
      onChainRoot,
      category: "labs",
      since: "2000-01-01",
      count: 2,
    });
    assert.ok(read.valid, JSON.stringify(read.failures));
    assert.equal(read.total, labs.length);
    assert.equal(read.pages, Math.ceil(labs.length / 2));
    const future = await get(
      `?_since=${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}&_count=5`,
    );
    assert.equal(future.json.total, 0);
    assert.equal(future.json.entry, undefined);
  });

  test("behavior: later pages of another size, fetched ahead, come verified and in order — the same records as one page", async () => {
    const whole = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship,
      token,
      onChainRoot,
      count: RECORDS_PAGE_MAX,
    });
    assert.ok(whole.valid, JSON.stringify(whole.failures));
    const key = (r: FhirResource) => `${r.resourceType}/${r.id}`;
    for (const [count, laterCount, ahead] of [
      [7, 13, 3],
      [5, 5, 1],
      [3, 11, 1],
    ] as const) {
      const seen: number[] = [];
      const requested: string[] = [];
      const read = await fetchVerifiedRecords({
        gatekeeperUrl: sys.url,
        relationship,
        token,
        onChainRoot,
        count,
        laterCount,
        ahead,
        fetch: (input, init) => {
          requested.push(String(input));
          return fetch(input, init);
        },
        onPage: (page) => {
          seen.push(page.page);
          assert.ok(page.entries.every((e) => e.verified));
        },
      });
      const label = `count ${count}, later ${laterCount}, ahead ${ahead}`;
      assert.ok(read.valid, `${label}: ${JSON.stringify(read.failures)}`);
      assert.deepEqual(read.resources.map(key), whole.resources.map(key), label);
      assert.equal(read.pages, 1 + Math.ceil((whole.total - count) / laterCount), label);
      assert.deepEqual(
        seen,
        Array.from({ length: read.pages }, (_, i) => i),
        label,
      );
      assert.ok(
        requested.slice(1).every((url) => url.includes(`_count=${laterCount}`) && url.includes("_root=")),
        label,
      );
    }
  });

  test("error: _count=0, _count=100000, a forged next link → 400 problem+json naming the parameter", async () => {
    for (const [query, name] of [
      ["?_count=0", "_count"],
      ["?_count=100000", "_count"],
      ["?_count=ten", "_count"],
      ["?_count=5&_count=6", "_count"],
      [`?_count=5&_offset=5`, "_root"],
      [`?_count=5&_root=${root}&_offset=-1`, "_offset"],
      [`?_count=5&_root=0xnothex&_offset=5`, "_root"],
      [`?_count=5&_root=${root}&_offset=${resources.length}`, "_offset"],
      ["?_page=2", "query parameters"],
    ] as const) {
      const r = await get(query);
      assertProblem(r, 400, [], query);
      assert.ok(r.json.detail.includes(name), `${query}: ${r.json.detail}`);
    }
    assert.match((await get("?_count=100000")).json.detail, new RegExp(`from 1 to ${RECORDS_PAGE_MAX}`));
    // A root that was never this record set's: the same answer as a superseded one.
    const forged = await get(`?_count=5&_root=0x${"ab".repeat(32)}&_offset=5`);
    assertProblem(forged, 409, [], "forged root");
    assert.match(forged.json.detail, /start again from the first page/);
  });

  test("behavior: a next link of a superseded root → 409 start again; the helper starts again and verifies", async () => {
    const first = await get("?_count=10");
    const next = (first.json.link as { relation: string; url: string }[]).find((l) => l.relation === "next")
      ?.url as string;
    const extra: FhirResource = {
      resourceType: "Basic",
      id: "paging-extra-1",
      code: { text: "added while paging" },
    };
    root = await sys.ingest(MRN, {
      resourceType: "Bundle",
      type: "collection",
      entry: [{ resource: extra }],
    });
    const stale = await sys.get(next, { token });
    assertProblem(stale, 409, [], "stale");
    assert.match(stale.json.detail, /records changed since the first page.*start again from the first page/);
    await sys.rootPublished(relationship, root);

    // The helper: a change between its first and second page makes it start again.
    let changed = false;
    const racing: typeof fetch = async (input, init) => {
      if (!changed && String(input).includes("_offset=")) {
        changed = true;
        const extra2 = { resourceType: "Basic", id: "paging-extra-2", code: { text: "added while paging" } };
        root = await sys.ingest(MRN, {
          resourceType: "Bundle",
          type: "collection",
          entry: [{ resource: extra2 }],
        });
        await sys.rootPublished(relationship, root);
      }
      return fetch(input, init);
    };
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship,
      token,
      onChainRoot,
      count: 10,
      fetch: racing,
    });
    assert.equal(read.restarted, 1);
    assert.ok(read.valid, JSON.stringify(read.failures));
    assert.equal(read.total, resources.length + 2);
    assert.equal(read.resources.length, resources.length + 2);
    assert.equal(read.onChainRoot, root.toLowerCase());
    assert.ok(read.bytes > 0);
  });

  test("error: the helper reports entries that do not verify and a root that is not the chain's", async () => {
    const tampering: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const body = (await response.json()) as { entry?: { resource: Record<string, unknown> }[] };
      const first = body.entry?.[0];
      if (first) first.resource.tampered = true;
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship,
      token,
      onChainRoot,
      count: 20,
      fetch: tampering,
    });
    assert.equal(read.valid, false);
    assert.equal(read.failures.length, read.pages);
    assert.ok(read.failures.every((f) => f.reason === "invalid-proof" && f.entry === 0 && f.resource));

    const wrongRoot = await fetchVerifiedRecords({
      gatekeeperUrl: sys.url,
      relationship,
      token,
      onChainRoot: `0x${"11".repeat(32)}`,
      count: RECORDS_PAGE_MAX,
    });
    assert.equal(wrongRoot.valid, false);
    assert.equal(wrongRoot.failures[0]?.reason, "root-mismatch");
  });
});
