/**
 * `pnpm bench:gas` — gas of MedRec's patient-facing transactions on Hardhat's in-process EDR chain
 * (hardfork merge = the paris EVM that geth 1.13 Clique runs). Prints a table and writes
 * `reports/gas.json` at the repository root. Exits 1 when onboarding + relationship + grant exceeds
 * the budget (10× under MedRec v2's 2,783,937 gas for the same three steps), directly or relayed.
 *
 * Relayed: the same steps signed as EIP-712 ForwardRequests by the patient and the delegate and
 * submitted to the trusted MedRecForwarder by a relayer (what a gatekeeper's `POST /v1/relay` sends),
 * on a fresh deployment so that every storage slot starts as cold as in the direct run.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { network } from "hardhat";
import { type Hex, toHex } from "viem";
import { relayed } from "../test/via.ts";

const BUDGET = 278_000;
const RELAYED_BUDGET = 340_000;
const MEDREC_V2 = { onboarding: 794_261, relationship: 1_555_101, grant: 434_575 } as const;
const DETAILS_BYTES = 160;
const SCOPES_LABS_AND_MEDICATIONS = (1 << 6) | (1 << 3);

/** Deterministic pseudo-random bytes: ciphertext-like (few zero bytes) and the same on every run. */
function ciphertext(label: string, length: number): Hex {
  const out = Buffer.alloc(length);
  let block = createHash("sha256").update(label).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset);
    block = createHash("sha256").update(block).digest();
  }
  return toHex(out);
}

const { viem } = await network.create();
const publicClient = await viem.getPublicClient();
const [, patient, delegate, viewer] = await viem.getWalletClients();
if (!patient || !delegate || !viewer)
  throw new Error("bench:gas needs four funded accounts on the simulated chain");

/** Gas of each step on a fresh Agent + Relationship, called directly or through the forwarder. */
const measure = async (mode: "direct" | "relayed") => {
  const forwarder = await viem.deployContract("MedRecForwarder");
  const deployed = await viem.deployContract("Agent", [forwarder.address]);
  const deployedRel = await viem.getContractAt("Relationship", await deployed.read.relationships());
  const agent = mode === "relayed" ? await relayed(viem, forwarder, deployed) : deployed;
  const relationship = mode === "relayed" ? await relayed(viem, forwarder, deployedRel) : deployedRel;

  async function gasOf(tx: Promise<Hex>): Promise<number> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await tx });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
    return Number(receipt.gasUsed);
  }

  const encryptionKey = ciphertext("patient x25519 key", 32);
  const onboarding = await gasOf(agent.write.register([encryptionKey, [], 0], { account: patient.account }));

  const relationshipGas = await gasOf(
    relationship.write.create([patient.account.address, ciphertext("provider details", DETAILS_BYTES)], {
      account: delegate.account,
    }),
  );
  const id = await relationship.read.relationshipId([patient.account.address, delegate.account.address]);

  const { timestamp } = await publicClient.getBlock();
  const grant = await gasOf(
    relationship.write.grant(
      [
        id,
        viewer.account.address,
        SCOPES_LABS_AND_MEDICATIONS,
        timestamp + 30n * 24n * 3600n,
        ciphertext("viewer details", DETAILS_BYTES),
      ],
      { account: patient.account },
    ),
  );
  const revoke = await gasOf(
    relationship.write.revoke([id, viewer.account.address], { account: patient.account }),
  );
  const publish = await gasOf(
    relationship.write.publishRoot([id, ciphertext("record root", 32), 1n], { account: delegate.account }),
  );
  const republish = await gasOf(
    relationship.write.publishRoot([id, ciphertext("record root 2", 32), 2n], { account: delegate.account }),
  );
  return { onboarding, relationship: relationshipGas, grant, revoke, publish, republish };
};

const direct = await measure("direct");
const relayedGas = await measure("relayed");

const steps = ({ onboarding, relationship, grant, revoke, publish }: typeof direct) => ({
  onboarding,
  relationship,
  grant,
  revoke,
  publish,
});
const report = { ...steps(direct), relayed: steps(relayedGas) };
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

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const out = path.join(root, "reports", "gas.json");
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);

if (total > BUDGET) {
  console.error(`over budget: ${fmt(total)} > ${fmt(BUDGET)}`);
  process.exitCode = 1;
}
if (relayedTotal > RELAYED_BUDGET) {
  console.error(`relayed over budget: ${fmt(relayedTotal)} > ${fmt(RELAYED_BUDGET)}`);
  process.exitCode = 1;
}
