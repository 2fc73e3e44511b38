import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CONFIDENTIALITY_SYSTEM,
  isSensitive,
  leafHash,
  OBSERVATION_CATEGORY_SYSTEM,
  recordTree,
  requiredScopes,
  resourceCategories,
  SCOPE_BITS,
  scopesToMask,
  verifyBundle,
} from "@medrec/protocol";
import fc from "fast-check";
import { buildRecordSet, toStoredResource } from "../records/record-set.ts";
import { generatePatientRecords } from "../seed/synthetic.ts";
import { prepareRecordSet, serializeBundle } from "./bundle.ts";

const stored = generatePatientRecords({ seed: 3, index: 0 }).resources.map((r) =>
  toStoredResource(r, requiredScopes(r), new Date(String((r.meta as { lastUpdated: string }).lastUpdated))),
);
const EVERY_SCOPE = 0xffff;

describe("record set and served bundle", () => {
  test("default: root = recordTree over the leaves; bundle independent of input order", () => {
    const set = buildRecordSet(1, stored);
    assert.equal(set.root, recordTree(stored.map((s) => leafHash(s.resource))).root);
    const reversed = buildRecordSet(1, [...stored].reverse());
    assert.equal(reversed.root, set.root);
    assert.equal(
      serializeBundle(prepareRecordSet(reversed), { granted: EVERY_SCOPE }).body,
      serializeBundle(prepareRecordSet(set), { granted: EVERY_SCOPE }).body,
      "tree order, not input order",
    );
  });

  test("behavior: the served searchset verifies, whole and filtered; servedMask names what was served", () => {
    const set = buildRecordSet(1, stored);
    const prepared = prepareRecordSet(set);
    assert.equal(prepareRecordSet(set), prepared, "prepared once per set object");
    const all = serializeBundle(prepared, { granted: EVERY_SCOPE });
    assert.equal(all.total, stored.length);
    assert.equal(verifyBundle(JSON.parse(all.body), set.root).valid, true);

    const labs = serializeBundle(prepared, { granted: scopesToMask(["labs", "vitals"]) });
    assert.equal(labs.total, 9);
    assert.equal(verifyBundle(JSON.parse(labs.body), set.root).valid, true);
    assert.equal(labs.servedMask & ~scopesToMask(["labs", "vitals"]), 0);

    const labsOnly = serializeBundle(prepared, { granted: EVERY_SCOPE, categoryBit: 1 << SCOPE_BITS.labs });
    assert.ok(labsOnly.total > 0 && labsOnly.total < labs.total);
    assert.equal(serializeBundle(prepared, { granted: EVERY_SCOPE, sinceMs: Date.now() + 60_000 }).total, 0);
  });

  test("behavior: nothing to serve → zero entries and no `entry` element", () => {
    const none = serializeBundle(prepareRecordSet(buildRecordSet(1, stored)), { granted: 0 });
    assert.equal(none.total, 0);
    assert.equal(JSON.parse(none.body).entry, undefined);
  });

  test("behavior: with a base, every entry's fullUrl is <base>/Type/id of its resource, outside what is hashed", () => {
    const set = buildRecordSet(1, stored);
    const base = `https://gk.example/v1/relationships/0x${"ab".repeat(32)}/fhir`;
    const plain = JSON.parse(serializeBundle(prepareRecordSet(set), { granted: EVERY_SCOPE }).body);
    const named = JSON.parse(
      serializeBundle(prepareRecordSet(set), { granted: EVERY_SCOPE, fullUrlBase: base }).body,
    );
    assert.equal(named.entry.length, stored.length);
    for (const [i, entry] of named.entry.entries()) {
      assert.equal(entry.fullUrl, `${base}/${entry.resource.resourceType}/${entry.resource.id}`);
      assert.deepEqual({ ...entry, fullUrl: undefined }, { ...plain.entry[i], fullUrl: undefined });
    }
    assert.equal(new Set(named.entry.map((e: { fullUrl: string }) => e.fullUrl)).size, stored.length);
    assert.equal(verifyBundle(named, set.root).valid, true);
    assert.equal(
      plain.entry.some((e: object) => "fullUrl" in e),
      false,
    );
  });

  test("behavior: empty set → zero root", () => {
    const set = buildRecordSet(1, []);
    assert.equal(set.root, `0x${"00".repeat(32)}`);
    const body = JSON.parse(serializeBundle(prepareRecordSet(set), { granted: EVERY_SCOPE }).body);
    assert.equal(body.total, 0);
    assert.equal(body.meta.extension[0].valueString, set.root);
  });
});

// ── Scopes cover everything served: contained resources and nested Bundles count ──

type Json = Record<string, unknown>;
const SENSITIVE = 1 << SCOPE_BITS.sensitive;
const label = (code: string) => ({ security: [{ system: CONFIDENTIALITY_SYSTEM, code }] });
const TYPES = [
  "Patient",
  "Encounter",
  "Condition",
  "MedicationRequest",
  "AllergyIntolerance",
  "Immunization",
  "DiagnosticReport",
  "DocumentReference",
  "Procedure",
  "Claim",
  "Observation",
] as const;

/** A resource of any table row, sometimes labelled R, V (sensitive) or N (not). */
const leafResource: fc.Arbitrary<Json> = fc
  .record({
    type: fc.constantFrom(...TYPES),
    category: fc.constantFrom("laboratory", "vital-signs", "social-history"),
    security: fc.option(fc.constantFrom("R", "V", "N"), { nil: undefined }),
  })
  .map(({ type, category, security }) => ({
    resourceType: type,
    ...(security ? { meta: label(security) } : {}),
    ...(type === "Observation"
      ? { category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: category }] }] }
      : {}),
  }));

/** A resource holding others: contained resources and Bundles nested in Bundles, a few levels deep. */
const { resource: nestedResource } = fc.letrec<{ resource: Json }>((tie) => ({
  resource: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leafResource,
    fc
      .tuple(leafResource, fc.array(leafResource, { maxLength: 3 }))
      .map(([outer, contained]) => (contained.length ? { ...outer, contained } : outer)),
    fc
      .tuple(leafResource, fc.array(tie("resource"), { minLength: 1, maxLength: 3 }))
      .map(([outer, inner]) => ({
        ...outer,
        contained: [
          { resourceType: "Bundle", type: "collection", entry: inner.map((resource) => ({ resource })) },
        ],
      })),
  ),
}));

/** An oracle written apart from the protocol's walk: JSON.parse's reviver meets every nested object. */
function everyResourceIn(resource: Json): Json[] {
  const found: Json[] = [];
  JSON.parse(JSON.stringify(resource), (_key, value: unknown) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && "resourceType" in value)
      found.push(value as Json);
    return value;
  });
  return found;
}
/** Whether this very object is labelled R or V (the oracle's own reading of `meta.security`). */
const labelled = (r: Json) =>
  ((r.meta as { security?: { system?: string; code?: string }[] } | undefined)?.security ?? []).some(
    (c) => c.system === CONFIDENTIALITY_SYSTEM && (c.code === "R" || c.code === "V"),
  );
/** What a viewer must hold to see `resource`, per the oracle. */
const oracleNeeds = (resource: Json) =>
  everyResourceIn(resource).reduce(
    (mask, r) => mask | scopesToMask(resourceCategories(r)) | (labelled(r) ? SENSITIVE : 0),
    0,
  );

describe("scopes of contained resources and nested Bundles", () => {
  test("default: an Encounter with a contained Condition needs conditions too; labelled R inside, sensitive too", () => {
    const condition = { resourceType: "Condition", id: "c" };
    const encounter = { resourceType: "Encounter", id: "e", contained: [condition] };
    assert.equal(requiredScopes(encounter), scopesToMask(["encounters", "conditions"]));
    const restricted = { ...encounter, contained: [{ ...condition, meta: label("R") }] };
    assert.equal(requiredScopes(restricted), scopesToMask(["encounters", "conditions", "sensitive"]));
    assert.equal(isSensitive(restricted), true, "the timeline marks it restricted too");
    assert.equal(isSensitive(encounter), false);
    const inBundle = {
      resourceType: "Observation",
      category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
      contained: [
        {
          resourceType: "Bundle",
          type: "collection",
          entry: [
            {
              resource: { resourceType: "Bundle", entry: [{ resource: { ...condition, meta: label("V") } }] },
            },
          ],
        },
      ],
    };
    assert.equal(requiredScopes(inBundle), scopesToMask(["conditions", "labs", "sensitive", "other"]));
  });

  test("behavior (property): the mask is exactly the union over every resource inside, and never less than any part", () => {
    fc.assert(
      fc.property(nestedResource, (resource) => {
        const needed = requiredScopes(resource);
        assert.equal(needed, oracleNeeds(resource));
        assert.equal(isSensitive(resource), everyResourceIn(resource).some(labelled));
        for (const inner of everyResourceIn(resource))
          assert.equal(requiredScopes(inner) & ~needed, 0, "a part needs nothing the whole does not");
      }),
      { numRuns: 500 },
    );
  });

  test("behavior (property): a viewer is served a resource only when every category inside is granted and no restricted label inside lacks `sensitive`", () => {
    fc.assert(
      fc.property(
        fc.array(nestedResource, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffff }),
        (resources, granted) => {
          // Stored masks from before this rule (the top-level resource only): serving still looks inside.
          const rows = resources.map((r, i) => {
            const resource = { ...r, id: `r${i}` } as Parameters<typeof toStoredResource>[0];
            return toStoredResource(resource, scopesToMask(resourceCategories(resource)), new Date(0));
          });
          const served = JSON.parse(
            serializeBundle(prepareRecordSet(buildRecordSet(1, rows)), { granted }).body,
          );
          const ids = new Set((served.entry ?? []).map((e: { resource: Json }) => e.resource.id));
          for (const row of rows) {
            const inside = everyResourceIn(row.resource as Json);
            const allowed =
              inside.every((r) =>
                resourceCategories(r).every((c) => (granted & (1 << SCOPE_BITS[c])) !== 0),
              ) && inside.every((r) => !labelled(r) || (granted & SENSITIVE) !== 0);
            assert.equal(ids.has(row.resource.id), allowed, JSON.stringify(row.resource));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
