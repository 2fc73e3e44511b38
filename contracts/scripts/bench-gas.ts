/**
 * `./medrec run bench:gas` — gas of MedRec's patient-facing transactions on Hardhat's in-process EDR
 * chain (hardfork merge = the paris EVM that geth 1.13 Clique runs), and of MedRec v2's for the same
 * three steps, measured on the same chain from v2's own contracts (`scripts/medrec-v2.ts`). Prints a
 * table and writes `reports/gas.json` at the repository root (with its provenance). Exits 1 when
 * onboarding + relationship + grant exceeds the budget, directly or relayed.
 *
 * The measurement is `test/gas.ts`'s, which `Gas.test.ts` also runs: `pnpm test` fails when a step
 * costs more than 1 % over the committed `reports/gas.json` (run this bench to update it).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startReport } from "@medrec/testkit";
import { network } from "hardhat";
import { DETAILS_BYTES, gasReport, measureGas } from "../test/gas.ts";
import { measureMedRecV2 } from "./medrec-v2.ts";

/** Budgets for onboarding + relationship + grant (set when v2's sum was quoted as 2,783,937). */
const BUDGET = 278_000;
const RELAYED_BUDGET = 340_000;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const provenance = startReport("./medrec run bench:gas", root);
const { viem } = await network.create();
const { direct, relayed: relayedGas } = await measureGas(viem);
const report = gasReport({ direct, relayed: relayedGas });
const { viem: v2Viem } = await network.create();
const MEDREC_V2 = await measureMedRecV2(v2Viem);

const totalOf = (g: typeof direct) => g.onboarding + g.relationship + g.grant;
const total = totalOf(direct);
const relayedTotal = totalOf(relayedGas);
const v2Total = MEDREC_V2.onboarding + MEDREC_V2.relationship + MEDREC_V2.grant;

const rows: [string, keyof typeof direct, number | undefined][] = [
  ["onboarding (Agent.register)", "onboarding", MEDREC_V2.onboarding],
  [`relationship (create, ${DETAILS_BYTES} B details)`, "relationship", MEDREC_V2.relationship],
  [`grant (one viewer, ${DETAILS_BYTES} B details)`, "grant", MEDREC_V2.grant],
  ["revoke", "revoke", undefined],
  ["publish record root (first)", "publish", undefined],
  ["publish record root (later)", "republish", undefined],
];
const fmt = (n: number | undefined) => (n === undefined ? "—" : n.toLocaleString("en-US"));
console.log(
  `${"operation".padEnd(40)} ${"gas".padStart(10)} ${"relayed".padStart(10)} ${"MedRec v2".padStart(12)}`,
);
for (const [label, key, v2] of rows)
  console.log(
    `${label.padEnd(40)} ${fmt(direct[key]).padStart(10)} ${fmt(relayedGas[key]).padStart(10)} ${fmt(v2).padStart(12)}`,
  );
console.log(
  `${"onboarding + relationship + grant".padEnd(40)} ${fmt(total).padStart(10)} ${fmt(relayedTotal).padStart(10)} ` +
    `${fmt(v2Total).padStart(12)}   budget ${fmt(BUDGET)} direct, ${fmt(RELAYED_BUDGET)} relayed; ` +
    `${(v2Total / total).toFixed(1)}× less than v2`,
);

const out = path.join(root, "reports", "gas.json");
const ratio = (x: number) => Math.round((v2Total / x) * 10) / 10;
provenance.write(out, {
  // EDR's gas is deterministic: each step is measured once, on a fresh deployment.
  runs: 1,
  chain: "Hardhat EDR, hardfork merge (the paris EVM); ours: solc 0.8.28, optimizer 200 runs, evm paris",
  ...report,
  sums: { direct: total, relayed: relayedTotal, medrecV2: v2Total },
  medrecV2TimesOurs: { direct: ratio(total), relayed: ratio(relayedTotal) },
  medrecV2: MEDREC_V2,
});
console.log(`wrote ${path.relative(process.cwd(), out)}`);

if (total > BUDGET) {
  console.error(`over budget: ${fmt(total)} > ${fmt(BUDGET)}`);
  process.exitCode = 1;
}
if (relayedTotal > RELAYED_BUDGET) {
  console.error(`relayed over budget: ${fmt(relayedTotal)} > ${fmt(RELAYED_BUDGET)}`);
  process.exitCode = 1;
}
