import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarize } from "../load.ts";
import { statusesOf } from "./reads.ts";

describe("statusesOf", () => {
  it("default: responses by status over all windows, with cut-short and broken reads named", () => {
    const window = (statuses: Record<string, number>, incomplete = 0, socketErrors = 0) =>
      summarize({
        concurrency: 1,
        windowMs: 1000,
        latencies: [1],
        statuses,
        incomplete,
        invalid: 0,
        socketErrors,
        connections: 1,
        parsed: 0,
        workerCpuMs: 0,
      });
    assert.deepEqual(statusesOf([window({ 200: 5, 503: 2 }), window({ 200: 1 }, 1, 3)]), {
      200: 6,
      503: 2,
      incomplete: 1,
      socketErrors: 3,
    });
  });
});
