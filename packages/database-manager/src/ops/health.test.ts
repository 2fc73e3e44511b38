import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runHealthChecks } from "./health.ts";

const ok = (name: string) => ({ name, check: async () => "fine" });
const failing = (name: string, degradesOnly?: boolean) => ({
  name,
  check: async () => {
    throw new Error(`${name} is down`);
  },
  ...(degradesOnly ? { degradesOnly } : {}),
});

describe("runHealthChecks", () => {
  test("default: ok when every check passes; unavailable with no checks", async () => {
    assert.equal((await runHealthChecks([ok("database"), ok("chain")])).status, "ok");
    assert.equal((await runHealthChecks([])).status, "unavailable");
  });

  test("behavior: a failing degradesOnly check degrades; any other failing check makes it unavailable", async () => {
    const degraded = await runHealthChecks([ok("database"), failing("relayer", true)]);
    assert.equal(degraded.status, "degraded");
    assert.deepEqual(degraded.checks.relayer, {
      status: "failing",
      detail: "relayer is down",
      degradesOnly: true,
    });
    const down = await runHealthChecks([failing("chain"), failing("relayer", true)]);
    assert.equal(down.status, "unavailable");
  });
});
