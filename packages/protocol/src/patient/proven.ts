/**
 * What the patient's side believes of the chain, each value proven (`../light-client`): the
 * agent's relationships, their entries (record root, sequence, ended), `seenSequence` and grants.
 * One light client per network object, its nodes the providers' RPC nodes (named by provider),
 * its signer set the providers' sealer accounts.
 */
import { type Address, type Client, createPublicClient, getAddress, type Hex, http, zeroAddress } from "viem";
import {
  agentAccountSlot,
  createLightClient,
  decodeAgentAccount,
  decodeGrant,
  decodeRelationshipEntry,
  grantSlot,
  type LightClient,
  LightClientError,
  relationshipAtSlot,
  relationshipEntrySlots,
  seenSlot,
} from "../light-client/index.ts";
import { PatientDataError } from "./errors.ts";
import type { PatientNetwork } from "./network.ts";

const clients = new WeakMap<PatientNetwork, LightClient>();

/** The light client of `network` (made once per network object). */
export function lightClientOf(network: PatientNetwork): LightClient {
  let client = clients.get(network);
  if (!client) {
    const nodes = network.providers.flatMap((p) => (p.rpcUrl ? [{ name: p.name, rpcUrl: p.rpcUrl }] : []));
    client = createLightClient({
      nodes: nodes.length > 0 ? nodes : [{ name: "the network", rpcUrl: network.rpcUrl }],
      signers: network.providers.map((p) => p.account),
    });
    clients.set(network, client);
  }
  return client;
}

type Log = {
  blockNumber: bigint | null;
  logIndex: number | null;
  transactionHash: Hex | null;
  data: Hex;
  topics: readonly Hex[];
};
const nodeClients = new WeakMap<PatientNetwork, Client[]>();

function nodeClientsOf(network: PatientNetwork): Client[] {
  let clients = nodeClients.get(network);
  if (!clients) {
    const urls = [...new Set(network.providers.flatMap((p) => (p.rpcUrl ? [p.rpcUrl] : [])))];
    clients = urls.map((url) =>
      createPublicClient({ transport: http(url, { retryCount: 0, timeout: 10_000 }) }),
    );
    nodeClients.set(network, clients);
  }
  return clients;
}

/**
 * Events as every provider's node that answers has them (and `primary`'s), merged, oldest first:
 * one node cannot hide an event. Events only name what to prove (a grant, a relationship) or carry
 * what the patient's key opens; a node's invented event adds a candidate that its proof refutes.
 *
 * @throws the first node's error when no node answers.
 */
export async function logsFromEveryNode<T extends Log>(
  network: PatientNetwork,
  read: (client: Client) => Promise<readonly T[]>,
  primary?: Client,
): Promise<T[]> {
  const settled = await Promise.allSettled(
    [...(primary ? [primary] : []), ...nodeClientsOf(network)].map(read),
  );
  const answered = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (answered.length === 0) throw (settled[0] as PromiseRejectedResult | undefined)?.reason;
  const merged = new Map<string, T>();
  for (const logs of answered)
    for (const log of logs)
      merged.set(
        `${log.blockNumber}:${log.logIndex}:${log.transactionHash}:${log.data}:${log.topics.join()}`,
        log,
      );
  return [...merged.values()].sort(
    (a, b) => Number((a.blockNumber ?? 0n) - (b.blockNumber ?? 0n)) || (a.logIndex ?? 0) - (b.logIndex ?? 0),
  );
}

/** A {@link LightClientError} as the patient layer's error: a lying node is `verification-failed`. */
export function toProvenError(error: unknown): unknown {
  if (!(error instanceof LightClientError)) return error;
  if (error.code === "node-at-fault")
    return new PatientDataError(
      "node-not-verifiable",
      `${error.node}'s network node gave an answer that does not match the network (${error.message}).`,
      { cause: error },
    );
  return new PatientDataError("unreachable", error.message, { cause: error });
}

async function proven<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw toProvenError(error);
  }
}

/** `Agent.agentOf(account)`, proven: the agent `account` owns (zero when none). */
export function readProvenAgentOf(network: PatientNetwork, account: Address): Promise<Address> {
  return proven(async () => {
    const slot = agentAccountSlot(account);
    const value = (
      await lightClientOf(network).readSlots({ address: network.contracts.Agent, slots: [slot] })
    ).get(slot);
    const entry = decodeAgentAccount(value ?? 0n);
    if (entry.isOwnerRecord) return entry.owner;
    return entry.owner.toLowerCase() === account.toLowerCase() ? getAddress(account) : zeroAddress;
  });
}

export type ProvenEntry = {
  patient: Address;
  provider: Address;
  recordRoot: Hex;
  sequence: bigint;
  ended: boolean;
};

/** Which node to ask first and how fresh the header must be (`ReadSlotsParameters`). */
export type ProvenReadOptions = { via?: string | undefined; minBlock?: bigint | undefined };

/** The entries of `ids` on `Relationship`, one proof. */
export function readProvenEntries(
  network: PatientNetwork,
  ids: readonly Hex[],
  { via, minBlock }: ProvenReadOptions = {},
): Promise<ProvenEntry[]> {
  return proven(async () => {
    const slots = ids.flatMap((id) => relationshipEntrySlots(id));
    const values = await lightClientOf(network).readSlots({
      address: network.contracts.Relationship,
      slots,
      via,
      minBlock,
    });
    return ids.map((id) =>
      decodeRelationshipEntry(relationshipEntrySlots(id).map((s) => values.get(s) ?? 0n)),
    );
  });
}

/** The agent's relationship ids and `seenSequence` of each, proven (two proofs: the count, then the list). */
export function readProvenAgent(
  network: PatientNetwork,
  agent: Address,
): Promise<{ ids: Hex[]; seen: bigint[] }> {
  return proven(async () => {
    const light = lightClientOf(network);
    const address = network.contracts.Agent;
    const accountSlot = agentAccountSlot(agent);
    const account = decodeAgentAccount(
      (await light.readSlots({ address, slots: [accountSlot] })).get(accountSlot) ?? 0n,
    );
    const exists = !/^0x0{40}$/i.test(account.owner) && !account.isOwnerRecord;
    const count = exists ? account.relationshipCount : 0;
    if (count === 0) return { ids: [], seen: [] };
    const at = Array.from({ length: count }, (_, i) => relationshipAtSlot(agent, i));
    const list = await light.readSlots({ address, slots: at });
    const ids = at.map((s) => `0x${(list.get(s) ?? 0n).toString(16).padStart(64, "0")}` as Hex);
    const seenSlots = ids.map((id) => seenSlot(agent, id));
    const seen = await light.readSlots({ address, slots: seenSlots });
    return { ids, seen: seenSlots.map((s) => seen.get(s) ?? 0n) };
  });
}

export type ProvenGrant = { scopes: number; expiresAt: bigint; active: number };

/**
 * Grants on `Relationship`, one proof for all: stored scopes and expiry, and the scopes in force
 * (`activeScopes`: 0 once the relationship ended or the expiry passed the proven block's time).
 */
export function readProvenGrants(
  network: PatientNetwork,
  pairs: readonly { id: Hex; viewer: Address }[],
  minBlock?: bigint,
): Promise<ProvenGrant[]> {
  return proven(async () => {
    if (pairs.length === 0) return [];
    const light = lightClientOf(network);
    const slots = pairs.flatMap(({ id, viewer }) => [
      grantSlot(id, getAddress(viewer)),
      relationshipEntrySlots(id)[0],
    ]);
    const { values, header } = await light.readProven({
      address: network.contracts.Relationship,
      slots,
      minBlock,
    });
    return pairs.map(({ id, viewer }) => {
      const grant = decodeGrant(values.get(grantSlot(id, getAddress(viewer))) ?? 0n);
      const ended = decodeRelationshipEntry([values.get(relationshipEntrySlots(id)[0]) ?? 0n]).ended;
      const active = !ended && header.timestamp < grant.expiresAt ? grant.scopes : 0;
      return { ...grant, active };
    });
  });
}

/** The proven block's time (seconds). */
export async function provenNow(network: PatientNetwork, minBlock?: bigint): Promise<bigint> {
  return proven(async () => (await lightClientOf(network).header(minBlock)).timestamp);
}
