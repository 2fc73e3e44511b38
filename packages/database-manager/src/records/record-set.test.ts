import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { leafHash, recordTree, requiredScopes, scopesToMask, verifyBundle } from "@medrec/protocol";
import { generatePatientRecords } from "../seed/synthetic.ts";
import { buildRecordSet, renderSearchset, selectRecords, toStoredResource } from "./record-set.ts";

const stored = generatePatientRecords({ seed: 3, index: 0 }).resources.map((r) =>
  toStoredResource(r, requiredScopes(r), new Date(String((r.meta as { lastUpdated: string }).lastUpdated))),
);

describe("record set", () => {
  test("default: root = recordTree over the leaves, independent of input order", () => {
    const set = buildRecordSet(1, stored);
    assert.equal(set.root, recordTree(stored.map((s) => leafHash(s.resource))).root);
    assert.equal(buildRecordSet(1, [...stored].reverse()).root, set.root);
    assert.deepEqual(
      buildRecordSet(1, [...stored].reverse()).entryJson,
      set.entryJson,
      "tree order, not input order",
    );
  });

  test("behavior: the rendered searchset verifies, whole and filtered", () => {
    const set = buildRecordSet(1, stored);
    const all = JSON.parse(renderSearchset(set, selectRecords(set, {})));
    assert.equal(verifyBundle(all, set.root).valid, true);
    const labs = selectRecords(set, { granted: scopesToMask(["labs", "vitals"]) });
    assert.equal(labs.length, 9);
    assert.equal(verifyBundle(JSON.parse(renderSearchset(set, labs)), set.root).valid, true);
    assert.equal(JSON.parse(renderSearchset(set, [])).total, 0);
  });

  test("behavior: empty set → zero root", () => {
    const set = buildRecordSet(1, []);
    assert.equal(set.root, `0x${"00".repeat(32)}`);
    assert.equal(JSON.parse(renderSearchset(set, [])).entry.length, 0);
  });

  test("behavior: rendering is fast (precomputed entries)", () => {
    const set = buildRecordSet(1, stored);
    const all = selectRecords(set, {});
    const started = performance.now();
    for (let i = 0; i < 3000; i++) renderSearchset(set, selectRecords(set, { granted: 0xffff }));
    const ms = performance.now() - started;
    assert.ok(ms < 1000, `3000 renders took ${ms.toFixed(0)} ms`);
    assert.ok(all.length > 0);
  });
});
