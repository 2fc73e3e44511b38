import assert from "node:assert/strict";
import { test } from "node:test";
import { percentile } from "./stats.ts";

test("default: nearest rank over unsorted samples", () => {
  const xs = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 90), 9);
  assert.equal(percentile(xs, 99), 10);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile(xs, 100), 10);
  assert.deepEqual(xs, [10, 1, 9, 2, 8, 3, 7, 4, 6, 5], "the samples are not sorted in place");
});

test("edge: NaN without samples", () => {
  assert.ok(Number.isNaN(percentile([], 50)));
});
