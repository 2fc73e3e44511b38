import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { exceedsDepth } from "./json-depth.ts";

const nest = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = i % 2 ? { a: v } : [v];
  return v;
};

describe("exceedsDepth", () => {
  test("default: scalars and flat values are never too deep", () => {
    assert.equal(exceedsDepth(1, 1), false);
    assert.equal(exceedsDepth({ a: 1, b: [1, 2] }, 2), false);
  });
  test("behavior: exactly max levels pass, one more fails", () => {
    assert.equal(exceedsDepth(nest(64), 64), false);
    assert.equal(exceedsDepth(nest(65), 64), true);
  });
  test("behavior: 100,000 levels are judged without a stack overflow", () => {
    assert.equal(exceedsDepth(nest(100_000), 64), true);
  });
});
