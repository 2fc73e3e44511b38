/**
 * Custodians and recovery: thin typed wrappers over the `Agent` contract, every write relayed.
 * The owner adds and removes custodians and sets the threshold; custodians approve a new owner;
 * the owner can cancel; anyone executes a recovery once its delay has passed (docs: contracts/README.md).
 */
import { type Address, encodeFunctionData, getAddress, type Hex, toFunctionSelector } from "viem";
import { getBlock, getContractEvents, getTransaction, readContract } from "viem/actions";
import { agentAbi } from "../generated/abis.ts";
import { agentLogs } from "./agent-logs.ts";
import { chainNow, type PatientContext, type PatientNetwork } from "./network.ts";
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

/** Owner: hand the agent (its relationships, grants and custodians) to `newOwner`, a wallet that owns no agent. */
export function transferOwnership(ctx: PatientContext, newOwner: Address): Promise<Write> {
  return agentCall(ctx, "transferOwnership", ctx.agent, newOwner);
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
  pending?: {
    newOwner: Address;
    readyAt: Date;
    secondsLeft: number;
    /** The current custodians whose approval of `newOwner` counts (since the last cancel). */
    approvedBy: Address[];
  };
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
  const none = /^0x0{40}$/i.test(scheduled.newOwner);
  const current = (custodians as readonly Address[]).map((c) => getAddress(c));
  const approvedBy = none ? [] : await approversOf(ctx, agent, scheduled.newOwner, current);
  return {
    agent: getAddress(agent),
    owner: getAddress(owner as Address),
    custodians: current,
    threshold: Number(threshold),
    delaySeconds: Number(delay),
    ...(none
      ? {}
      : {
          pending: {
            newOwner: getAddress(scheduled.newOwner),
            readyAt: new Date(Number(scheduled.readyAt) * 1000),
            secondsLeft: Math.max(0, Number(scheduled.readyAt - now)),
            approvedBy,
          },
        }),
  };
}

/** The current custodians whose latest approval, since the owner last cancelled, is for `newOwner`. */
async function approversOf(
  ctx: PatientContext,
  agent: Address,
  newOwner: Address,
  custodians: readonly Address[],
): Promise<Address[]> {
  const common = agentLogs(ctx.network, agent);
  const [approved, cancelled] = await Promise.all([
    getContractEvents(ctx.client, { ...common, eventName: "RecoveryApproved" }),
    getContractEvents(ctx.client, { ...common, eventName: "RecoveryCancelled" }),
  ]);
  const since = cancelled.at(-1)?.blockNumber ?? -1n;
  const latest = new Map<string, Address>();
  for (const e of approved)
    if (e.blockNumber > since) latest.set(e.args.custodian.toLowerCase(), getAddress(e.args.newOwner));
  return custodians.filter((c) => latest.get(c.toLowerCase())?.toLowerCase() === newOwner.toLowerCase());
}

/**
 * What a wallet is to the network: the owner of an agent, a wallet whose agent was handed to
 * another one (by a recovery or a transfer), or neither (not registered yet).
 */
export type AccountStanding =
  | { status: "owner"; agent: Address }
  | {
      status: "handed-over";
      agent: Address;
      newOwner: Address;
      /** The time of the block that moved it. */
      at: Date;
      /** Moved by the custodians' recovery (else by the owner's own transfer). */
      byRecovery: boolean;
    }
  | { status: "none" };

/** The {@link AccountStanding} of `account`, from `Agent.agentOf` and the `OwnershipTransferred` log. */
export async function readAccountStanding({
  client,
  network,
  account,
}: {
  client: PatientContext["client"];
  network: PatientNetwork;
  account: Address;
}): Promise<AccountStanding> {
  const address = network.contracts.Agent;
  const agent = await readContract(client, {
    address,
    abi: agentAbi,
    functionName: "agentOf",
    args: [account],
  });
  if (!/^0x0{40}$/i.test(agent)) return { status: "owner", agent: getAddress(agent) };
  const moved = await getContractEvents(client, {
    address,
    abi: agentAbi,
    eventName: "OwnershipTransferred",
    args: { previousOwner: account },
    fromBlock: network.fromBlock ?? 0n,
    toBlock: "latest",
    strict: true,
  });
  const last = moved.at(-1);
  if (!last) return { status: "none" };
  const [block, tx] = await Promise.all([
    getBlock(client, { blockNumber: last.blockNumber }),
    getTransaction(client, { hash: last.transactionHash }),
  ]);
  return {
    status: "handed-over",
    agent: getAddress(last.args.agent),
    newOwner: getAddress(last.args.newOwner),
    at: new Date(Number(block.timestamp) * 1000),
    // Relayed or not, the call's data holds the function's selector: executeRecovery, or a transfer.
    byRecovery: tx.input.toLowerCase().includes(EXECUTE_RECOVERY.slice(2)),
  };
}

const EXECUTE_RECOVERY = toFunctionSelector("executeRecovery(address)");
