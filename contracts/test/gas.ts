/**
 * Gas of MedRec's patient-facing transactions on Hardhat's in-process EDR chain, directly and
 * relayed — measured the same way by `bench:gas` (which writes `reports/gas.json`) and by
 * `Gas.test.ts` (which compares a fresh measurement with that committed file).
 *
 * Relayed: the same steps signed as EIP-712 ForwardRequests by the patient and the delegate and
 * submitted to the trusted MedRecForwarder by a relayer (what a gatekeeper's `POST /v1/relay` sends),
 * on a fresh deployment so that every storage slot starts as cold as in the direct run.
 */
import { createHash } from "node:crypto";
import type { HardhatViemHelpers } from "@nomicfoundation/hardhat-viem/types";
import { type Hex, toHex } from "viem";
import { type Mode, relayed } from "./via.ts";

export const DETAILS_BYTES = 160;
const SCOPES_LABS_AND_MEDICATIONS = (1 << 6) | (1 << 3);

/**
 * How much a step may exceed its committed figure before the check fails: 1 %. Relayed figures
 * move by a few dozen gas from run to run (the signature's bytes are priced by their zero bytes),
 * which is well inside it; any real regression (a new storage write is ≥ 2,900 gas) is not.
 */
export const GAS_TOLERANCE = 0.01;

/** The steps of one measurement. */
export type StepGas = Awaited<ReturnType<typeof measure>>;
/** The shape of `reports/gas.json`: the direct steps, and the same steps relayed. */
export type GasReport = ReportedSteps & { relayed: ReportedSteps };
type ReportedSteps = Pick<StepGas, "onboarding" | "relationship" | "grant" | "revoke" | "publish">;

/** Deterministic pseudo-random bytes: ciphertext-like (few zero bytes) and the same on every run. */
export function ciphertext(label: string, length: number): Hex {
  const out = Buffer.alloc(length);
  let block = createHash("sha256").update(label).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    block.copy(out, offset);
    block = createHash("sha256").update(block).digest();
  }
  return toHex(out);
}

/** Gas of each step on a fresh Agent + Relationship, called directly or through the forwarder. */
async function measure(viem: HardhatViemHelpers, mode: Mode) {
  const publicClient = await viem.getPublicClient();
  const [, patient, delegate, viewer] = await viem.getWalletClients();
  if (!patient || !delegate || !viewer)
    throw new Error("gas measurement needs four funded accounts on the simulated chain");
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
}

/** Measures every step directly and relayed, each on a fresh deployment. */
export async function measureGas(viem: HardhatViemHelpers): Promise<{ direct: StepGas; relayed: StepGas }> {
  return { direct: await measure(viem, "direct"), relayed: await measure(viem, "relayed") };
}

/** The figures `reports/gas.json` holds. */
export function gasReport({ direct, relayed: viaRelay }: { direct: StepGas; relayed: StepGas }): GasReport {
  const steps = ({ onboarding, relationship, grant, revoke, publish }: StepGas): ReportedSteps => ({
    onboarding,
    relationship,
    grant,
    revoke,
    publish,
  });
  return { ...steps(direct), relayed: steps(viaRelay) };
}

const STEPS = new Set<string>(["onboarding", "relationship", "grant", "revoke", "publish"]);

/** One step that now costs more than the committed figure allows. */
export type GasRegression = { step: string; baseline: number; current: number; limit: number };

/**
 * Every step of `baseline` (e.g. the committed `reports/gas.json`) whose `current` figure exceeds
 * it by more than `tolerance`, or that `current` no longer measures.
 */
export function gasRegressions(
  baseline: GasReport,
  current: GasReport,
  tolerance = GAS_TOLERANCE,
): GasRegression[] {
  // Only the step figures: the committed report also carries its provenance and MedRec v2's figures.
  const numbers = (o: object | undefined, prefix: string) =>
    Object.entries(o ?? {})
      .filter(([k, v]) => STEPS.has(k) && typeof v === "number")
      .map(([k, v]) => [`${prefix}${k}`, v as number] as const);
  const flat = (r: GasReport) => new Map([...numbers(r, ""), ...numbers(r.relayed, "relayed.")]);
  const now = flat(current);
  const regressions: GasRegression[] = [];
  for (const [step, figure] of flat(baseline)) {
    const limit = Math.floor(figure * (1 + tolerance));
    const measured = now.get(step);
    if (measured === undefined || measured > limit)
      regressions.push({ step, baseline: figure, current: measured ?? Number.NaN, limit });
  }
  return regressions;
}
