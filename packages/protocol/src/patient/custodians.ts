/**
 * Custodians and recovery: thin typed wrappers over the `Agent` contract, every write relayed.
 * The owner adds and removes custodians and sets the threshold; custodians approve a new owner;
 * the owner can cancel; anyone executes a recovery once its delay has passed (docs: contracts/README.md).
 */
import { type Address, encodeFunctionData, getAddress, type Hex } from "viem";
import { readContract } from "viem/actions";
import { agentAbi } from "../generated/abis.ts";
import { chainNow, type PatientContext } from "./network.ts";
import { relayPatientCall } from "./relaying.ts";

type Write = { txHash: Hex };

async function agentCall(
  ctx: PatientContext,
  functionName: "addCustodian" | "removeCustodian" | "approveRecovery" | "transferOwnership",
  agent: Address,
  other: Address,
): Promise<Write>;
async function agentCall(
  ctx: PatientContext,
  functionName: "cancelRecovery" | "executeRecovery",
  agent: Address,
): Promise<Write>;
async function agentCall(
  ctx: PatientContext,
  functionName: string,
  agent: Address,
  other?: Address,
): Promise<Write> {
  const data = encodeFunctionData({
    abi: agentAbi,
    functionName: functionName as "cancelRecovery",
    args: (other === undefined ? [agent] : [agent, getAddress(other)]) as [Address],
  });
  const { txHash } = await relayPatientCall(ctx, { to: ctx.network.contracts.Agent, data });
  return { txHash };
}

/** Owner: add a custodian (a parent, a guardian) who may act on the relationships and approve a recovery. */
export function addCustodian(ctx: PatientContext, custodian: Address): Promise<Write> {
  return agentCall(ctx, "addCustodian", ctx.agent, custodian);
}

/** Owner: remove a custodian (lower the threshold first if it would exceed the rest). */
export function removeCustodian(ctx: PatientContext, custodian: Address): Promise<Write> {
  return agentCall(ctx, "removeCustodian", ctx.agent, custodian);
}

/** Owner: how many custodians must approve the same new owner (0 turns recovery off). */
export async function setRecoveryThreshold(ctx: PatientContext, threshold: number): Promise<Write> {
  const data = encodeFunctionData({
    abi: agentAbi,
    functionName: "setRecoveryThreshold",
    args: [ctx.agent, threshold],
  });
  const { txHash } = await relayPatientCall(ctx, { to: ctx.network.contracts.Agent, data });
  return { txHash };
}

/** Custodian (`ctx.account`): approve recovering `agent` to `newOwner`; schedules it at the threshold. */
export function approveRecovery(ctx: PatientContext, agent: Address, newOwner: Address): Promise<Write> {
  return agentCall(ctx, "approveRecovery", getAddress(agent), newOwner);
}

/** Owner: cancel every pending approval and any scheduled recovery. */
export function cancelRecovery(ctx: PatientContext): Promise<Write> {
  return agentCall(ctx, "cancelRecovery", ctx.agent);
}

/** Anyone: execute the scheduled recovery of `agent` once its delay has passed. */
export function executeRecovery(ctx: PatientContext, agent: Address): Promise<Write> {
  return agentCall(ctx, "executeRecovery", getAddress(agent));
}

export type RecoveryState = {
  agent: Address;
  owner: Address;
  custodians: Address[];
  /** Approvals a recovery needs (0: recovery off). */
  threshold: number;
  /** Seconds between reaching the threshold and the recovery being executable. */
  delaySeconds: number;
  /** The scheduled recovery, if any. */
  pending?: { newOwner: Address; readyAt: Date; secondsLeft: number };
};

/** The agent's custodians, threshold, delay and scheduled recovery, from the chain. */
export async function readRecoveryState(
  ctx: PatientContext,
  agent: Address = ctx.agent,
): Promise<RecoveryState> {
  const address = ctx.network.contracts.Agent;
  const [owner, custodians, threshold, pending, delay, now] = await Promise.all([
    readContract(ctx.client, { address, abi: agentAbi, functionName: "ownerOf", args: [agent] }),
    readContract(ctx.client, { address, abi: agentAbi, functionName: "custodians", args: [agent] }),
    readContract(ctx.client, { address, abi: agentAbi, functionName: "recoveryThreshold", args: [agent] }),
    readContract(ctx.client, { address, abi: agentAbi, functionName: "pendingRecovery", args: [agent] }),
    readContract(ctx.client, { address, abi: agentAbi, functionName: "RECOVERY_DELAY" }),
    chainNow(ctx.client),
  ]);
  const scheduled = pending as { newOwner: Address; readyAt: bigint };
  return {
    agent: getAddress(agent),
    owner: getAddress(owner as Address),
    custodians: (custodians as readonly Address[]).map((c) => getAddress(c)),
    threshold: Number(threshold),
    delaySeconds: Number(delay),
    ...(/^0x0{40}$/i.test(scheduled.newOwner)
      ? {}
      : {
          pending: {
            newOwner: getAddress(scheduled.newOwner),
            readyAt: new Date(Number(scheduled.readyAt) * 1000),
            secondsLeft: Math.max(0, Number(scheduled.readyAt - now)),
          },
        }),
  };
}
