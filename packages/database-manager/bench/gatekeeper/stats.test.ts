import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ratios, repeated, spread } from "./stats.ts";

describe("spread", () => {
  it("default: the median, min and max of an odd count, values kept in run order", () => {
    assert.deepEqual(spread([30, 10, 20]), { n: 3, median: 20, min: 10, max: 30, runs: [30, 10, 20] });
  });
  it("behavior: an even count takes the lower middle (nearest rank, as every report's percentiles)", () => {
    assert.equal(spread([4, 1, 3, 2]).median, 2);
  });
  it("behavior: no values give NaN, not zero", () => {
    assert.ok(Number.isNaN(spread([]).median));
  });
});

describe("repeated and ratios", () => {
  const w = (readsPerSec: number, p50: number, p99: number, errors = 0) => ({
    readsPerSec,
    latencyMs: { p50, p99 },
    errors,
  });
  it("default: medians of throughput and latency, errors summed", () => {
    const r = repeated([w(100, 2, 9), w(120, 1, 8, 1), w(80, 3, 12)]);
    assert.equal(r.readsPerSec.median, 100);
    assert.equal(r.latencyMs.p50.median, 2);
    assert.equal(r.latencyMs.p99.median, 9);
    assert.equal(r.errors, 1);
  });
  it("behavior: ours at 40 % of bare throughput with 3× its p99 misses both goals", () => {
    const ours = repeated([w(400, 5, 30), w(400, 5, 30), w(400, 5, 30)]);
    const bare = repeated([w(1000, 2, 10), w(1000, 2, 10), w(1000, 2, 10)]);
    const r = ratios(ours, bare);
    assert.deepEqual([r.throughput, r.p99], [0.4, 3]);
    assert.deepEqual(r.met, { throughput: false, p99: false });
  });
  it("behavior: at half the throughput and twice the p99 both goals are met (inclusive)", () => {
    const ours = repeated([w(500, 4, 20)]);
    const bare = repeated([w(1000, 2, 10)]);
    assert.deepEqual(ratios(ours, bare).met, { throughput: true, p99: true });
  });
});
