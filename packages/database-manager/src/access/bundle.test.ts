import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  leafHash,
  recordTree,
  requiredScopes,
  SCOPE_BITS,
  scopesToMask,
  verifyBundle,
} from "@medrec/protocol";
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
