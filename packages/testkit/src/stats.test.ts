import assert from "node:assert/strict";
import { test } from "node:test";
import { kolmogorovSmirnov, percentile } from "./stats.ts";

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

test("behavior: Kolmogorov–Smirnov — the same distribution is not told apart; a shifted one is", () => {
  // A deterministic pseudo-random stream (LCG), so that the test cannot flake.
  let seed = 12345;
  const uniform = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const same1 = Array.from({ length: 1000 }, uniform);
  const same2 = Array.from({ length: 1000 }, uniform);
  const same = kolmogorovSmirnov(same1, same2, 0.01);
  assert.ok(!same.differ, `D = ${same.d}`);
  assert.ok(Math.abs(same.critical - 1.6276 * Math.sqrt(2 / 1000)) < 1e-3);
  const shifted = kolmogorovSmirnov(
    same1,
    same2.map((v) => v + 0.2),
    0.01,
  );
  assert.ok(shifted.differ, `D = ${shifted.d}`);
  assert.ok(shifted.d > 0.15 && shifted.d < 0.25);
});

test("edge: Kolmogorov–Smirnov — identical samples give D = 0, disjoint ones D = 1, ties step together", () => {
  assert.equal(kolmogorovSmirnov([1, 2, 3], [1, 2, 3]).d, 0);
  assert.equal(kolmogorovSmirnov([1, 2, 3], [4, 5, 6]).d, 1);
  assert.equal(kolmogorovSmirnov([1, 1, 2, 2], [1, 2]).d, 0);
  assert.throws(() => kolmogorovSmirnov([], [1]), RangeError);
});
