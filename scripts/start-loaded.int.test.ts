/**
 * `./medrec start` on a loaded machine (issue 18): one start beside four CPU-burning processes
 * becomes ready and stops cleanly on Ctrl-C. Relays' nodes lag behind under such load; a relayed
 * request names the block it depends on and the relay waits for it, so no step of the start is
 * refused for a block its relay has not seen yet. The repeated version, with its figures, is
 * `./medrec run stress:start` (reports/stress.json).
 */
import assert from "node:assert/strict";
import { loadavg } from "node:os";
import { describe, it } from "node:test";
import { cpuLoad, startOnce } from "./stress-start.ts";

describe("./medrec start under load", () => {
  it("behavior: beside 4 CPU-burning processes, start becomes ready and Ctrl-C stops it cleanly", async (t) => {
    const load = cpuLoad(4);
    try {
      const run = await startOnce({ timeoutMs: 420_000 });
      t.diagnostic(
        `ready in ${((run.readyMs ?? 0) / 1000).toFixed(1)} s; load average ${run.loadAtStart} at start, ${loadavg()[0]?.toFixed(2)} when ready`,
      );
      assert.ok(run.ready, run.failure);
      assert.equal(run.exitCode, 0, "Ctrl-C stops it cleanly");
    } finally {
      await load.stop();
    }
  });
});
