/**
 * Gas regression check: measures every patient-facing step (directly and relayed) as `bench:gas`
 * does and compares it with the committed `reports/gas.json`. A step more than GAS_TOLERANCE (1 %)
 * above its committed figure fails the test command; after a deliberate change, run
 * `pnpm --filter @medrec/contracts run bench:gas` and commit the new `reports/gas.json`.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { GAS_TOLERANCE, type GasReport, gasRegressions, gasReport, measureGas } from "./gas.ts";

const BASELINE = new URL("../../reports/gas.json", import.meta.url);

describe("gas snapshot (reports/gas.json)", () => {
  it("gas: no step costs more than 1 % over its committed figure, directly or relayed", async (t) => {
    const baseline = JSON.parse(await readFile(BASELINE, "utf8")) as GasReport;
    const { viem } = await network.create();
    const current = gasReport(await measureGas(viem));
    const regressions = gasRegressions(baseline, current);
    assert.deepEqual(
      regressions,
      [],
      `gas regression over ${GAS_TOLERANCE * 100} %: ${regressions
        .map((r) => `${r.step} ${r.current} > ${r.limit} (committed ${r.baseline})`)
        .join("; ")} — if intended, run bench:gas and commit reports/gas.json`,
    );
    t.diagnostic(`measured ${JSON.stringify(current)}`);
  });

  it("gas: the comparison flags a rise beyond the tolerance and a missing step, and tolerates signature noise", () => {
    const base: GasReport = {
      onboarding: 47_050,
      relationship: 106_893,
      grant: 61_464,
      revoke: 33_259,
      publish: 54_611,
      relayed: { onboarding: 85_995, relationship: 145_906, grant: 83_434, revoke: 55_081, publish: 76_436 },
    };
    const noisy = { ...base, relayed: { ...base.relayed, grant: base.relayed.grant + 48 } };
    assert.deepEqual(gasRegressions(base, noisy), []);
    const cheaper = { ...base, grant: base.grant - 5_000 };
    assert.deepEqual(gasRegressions(base, cheaper), []);
    const costlier = { ...base, relayed: { ...base.relayed, revoke: base.relayed.revoke + 2_900 } };
    assert.deepEqual(gasRegressions(base, costlier), [
      { step: "relayed.revoke", baseline: 55_081, current: 57_981, limit: 55_631 },
    ]);
    const { publish: _, ...withoutPublish } = base;
    assert.deepEqual(
      gasRegressions(base, withoutPublish as GasReport).map((r) => r.step),
      ["publish"],
    );
  });
});
