import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { adjustedRandIndex, clusterBySharedKeys } from "./linkage.ts";

describe("adjustedRandIndex", () => {
  test("default: identical partitions score 1, whatever the label names", () => {
    assert.equal(adjustedRandIndex(["a", "a", "b", "b", "c"], ["x", "x", "y", "y", "z"]), 1);
  });
  test("behavior: a known value (the classic 6-item example: 0.2424…)", () => {
    // Two partitions of 6 items: {0,1,2}{3,4,5} against {0,1}{2,3}{4,5}.
    const ari = adjustedRandIndex(["a", "a", "a", "b", "b", "b"], ["x", "x", "y", "y", "z", "z"]);
    assert.ok(Math.abs(ari - 0.24242424) < 1e-6, String(ari));
  });
  test("behavior: everything in one cluster against the truth scores 0", () => {
    assert.equal(adjustedRandIndex(["a", "a", "b", "b", "c", "c"], ["k", "k", "k", "k", "k", "k"]), 0);
  });
  test("error: labelings of different lengths are refused", () => {
    assert.throws(() => adjustedRandIndex(["a"], ["a", "b"]), RangeError);
  });
});

describe("clusterBySharedKeys", () => {
  test("default: items sharing a key, directly or through others, end in one cluster", () => {
    const labels = clusterBySharedKeys([["s1"], ["s2"], ["s1", "s3"], ["s3"], ["s4"]]);
    assert.equal(labels[0], labels[2]);
    assert.equal(labels[2], labels[3]);
    assert.notEqual(labels[0], labels[1]);
    assert.notEqual(labels[1], labels[4]);
  });
});
