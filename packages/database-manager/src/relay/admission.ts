/**
 * Relay admission (issue 19, adr/0013): which lane a relayed request is served in and which budget
 * pays for it — keyed by things a stranger cannot mint for free.
 *
 * - `protective`: Relationship.revoke, Relationship.end, Agent.cancelRecovery and
 *   Agent.removeCustodian for a *linked* agent (one with at least one relationship) or by a
 *   relationship's provider. Served first; never counted against the daily totals (so a flood of
 *   other work cannot exhaust them); RELAY_PROTECTIVE_DAILY_REQUESTS per key and one unmined at a
 *   time per key.
 * - `linked`: any other call on a linked agent (key `agent:<agent>`: the relationship's patient for
 *   a patient's call on a relationship) or by a relationship's provider (key `relationship:<id>`).
 * - `open`: everything else — Agent.register, Relationship.create, calls on an agent without a
 *   relationship — keyed by the signer (worthless: a fresh key is free), so bounded as a whole by
 *   RELAY_OPEN_DAILY_REQUESTS and RELAY_OPEN_DAILY_GAS.
 * - `member`: open-lane work that carries a valid member voucher (a consortium gatekeeper's own
 *   request, adr/0013 "Member vouchers") — bounded as a whole by RELAY_MEMBER_DAILY_REQUESTS and
 *   RELAY_MEMBER_DAILY_GAS, apart from the open lane, so strangers' floods cannot use up its room.
 *
 * Linked and open work together is bounded by RELAY_DAILY_REQUESTS / RELAY_DAILY_GAS and by
 * RELAY_MAX_IN_FLIGHT unmined transactions of the relayer, so a protective transaction is at most
 * that many transactions behind in the relayer's nonce order. Gas is the receipts' `gasUsed`
 * (reverted or not), the gas limit while a transaction is in flight.
 */
import { agentAbi, relationshipAbi } from "@medrec/protocol";
import {
  type Address,
  decodeFunctionData,
  getAddress,
  type Hex,
  toFunctionSelector,
  zeroAddress,
} from "viem";
import type { ChainClient } from "../chain/client.ts";
import { ABIS, RelayAllowlistError, type RelayedContract } from "./allowlist.ts";

export type Lane = "protective" | "linked" | "open" | "member";
export const LANES: readonly Lane[] = ["protective", "linked", "open", "member"];

/** The calls that take a patient's protection back: never queued behind other work. */
export const PROTECTIVE_FUNCTIONS = {
  Agent: ["cancelRecovery", "removeCustodian"],
  Relationship: ["revoke", "end"],
} as const satisfies Record<RelayedContract, readonly string[]>;

/** Calls always in the open lane: they are what a fresh key can do. */
const ALWAYS_OPEN = new Set(["Agent.register", "Relationship.create"]);

/** The 4-byte selectors of the protective functions (for the per-client rate limit, before any check). */
export const PROTECTIVE_SELECTORS: ReadonlySet<string> = new Set(
  Object.entries(PROTECTIVE_FUNCTIONS).flatMap(([contract, names]) =>
    names.map((name) => {
      const item = ABIS[contract as RelayedContract].find((x) => x.type === "function" && x.name === name);
      if (item?.type !== "function") throw new RelayAllowlistError(`${contract}.${name} is not in the ABI`);
      return toFunctionSelector(item);
    }),
  ),
);

/** Whether a relay body's calldata calls a protective function (a hint only: the lane is decided later). */
export function looksProtective(body: unknown): boolean {
  const data = (body as { request?: { data?: unknown } } | undefined)?.request?.data;
  return typeof data === "string" && PROTECTIVE_SELECTORS.has(data.slice(0, 10).toLowerCase());
}

export type Admission = { lane: Lane; key: string };

const isProtective = (contract: RelayedContract, fn: string) =>
  (PROTECTIVE_FUNCTIONS[contract] as readonly string[]).includes(fn);

/** `admission` as a valid voucher of `member` makes it: open-lane work moves to the member lane, other lanes stay. */
export function vouched(admission: Admission, member: Address | undefined): Admission {
  return member && admission.lane === "open" ? { lane: "member", key: `member:${member}` } : admission;
}

/** The lane of a call known without reading the chain (register, create), if any. */
export function staticLane(contract: RelayedContract, fn: string, signer: Address): Admission | undefined {
  return ALWAYS_OPEN.has(`${contract}.${fn}`) ? { lane: "open", key: `signer:${signer}` } : undefined;
}

/**
 * The lane and budget key of an allowlisted call by `signer`, read from the chain as the relay's
 * node has it (after the request's dependency).
 */
export async function classify(
  client: Pick<ChainClient, "publicClient" | "agent" | "relationship">,
  { contract, fn, signer, data }: { contract: RelayedContract; fn: string; signer: Address; data: Hex },
): Promise<Admission> {
  const fixed = staticLane(contract, fn, signer);
  if (fixed) return fixed;
  const open: Admission = { lane: "open", key: `signer:${signer}` };
  const { args } = decodeFunctionData({ abi: ABIS[contract], data });
  const linkedLane: Lane = isProtective(contract, fn) ? "protective" : "linked";
  const pc = client.publicClient;
  const linked = async (agent: Address) =>
    ((await pc.readContract({
      address: client.agent,
      abi: agentAbi,
      functionName: "relationshipCount",
      args: [agent],
    })) as bigint) > 0n;
  if (contract === "Agent") {
    const agent = getAddress(String(args?.[0]));
    return (await linked(agent)) ? { lane: linkedLane, key: `agent:${agent}` } : open;
  }
  const id = String(args?.[0]).toLowerCase() as Hex;
  const info = (await pc.readContract({
    address: client.relationship,
    abi: relationshipAbi,
    functionName: "relationshipOf",
    args: [id],
  })) as { patient: Address; provider: Address };
  if (getAddress(info.patient) === zeroAddress) return open;
  if (getAddress(info.provider) === getAddress(signer))
    return { lane: linkedLane, key: `relationship:${id}` };
  return { lane: linkedLane, key: `agent:${getAddress(info.patient)}` };
}

/** Runs tasks one at a time: every waiting protective task before any other, each kind in call order. */
export function prioritySerial() {
  const queues: Record<"first" | "rest", (() => Promise<void>)[]> = { first: [], rest: [] };
  let running = false;
  const pump = () => {
    if (running) return;
    const next = queues.first.shift() ?? queues.rest.shift();
    if (!next) return;
    running = true;
    void next().finally(() => {
      running = false;
      pump();
    });
  };
  return <T>(first: boolean, task: () => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      (first ? queues.first : queues.rest).push(() => task().then(resolve, reject));
      pump();
    });
}
