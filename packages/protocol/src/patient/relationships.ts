/**
 * The patient's relationships, from the chain alone: the agent's list (`Agent.relationshipsOf`),
 * each relationship's state (`Relationship.relationshipOf`), and who the provider is — known only
 * from `providerDetails`, sealed to the patient's X25519 key in the `RelationshipCreated` /
 * `ProviderDetailsUpdated` events — matched with the network's providers by account.
 */
import { type Address, encodeFunctionData, getAddress, type Hex, isAddressEqual } from "viem";
import { getContractEvents } from "viem/actions";
import { apiPaths, relationshipsResponseSchema } from "../api.ts";
import { gatekeeperJson } from "../client.ts";
import { agentAbi, relationshipAbi } from "../generated/abis.ts";
import { openJson, type ProviderDetails, providerDetailsSchema } from "../sealed-box.ts";
import type { PatientContext, PatientProvider } from "./network.ts";
import { logsFromEveryNode, readProvenAgent, readProvenEntries } from "./proven.ts";
import { relayPatientCall } from "./relaying.ts";
import type { PatientSessions } from "./sessions.ts";

/** One relationship of the patient, and which provider it is with (when that could be told). */
export type PatientRelationship = {
  id: Hex;
  /** The provider's per-relationship delegate account (on chain; says nothing about who it is). */
  delegate: Address;
  recordRoot: Hex;
  /** Record-root sequence: 0 before the first publication. */
  sequence: bigint;
  /** The last sequence the patient acknowledged (`Agent.seenSequence`). */
  seenSequence: bigint;
  ended: boolean;
  /** The details the provider sealed to the patient, opened; undefined when they could not be. */
  details: ProviderDetails | undefined;
  /**
   * The provider from the network's list whose account the details name; undefined when the
   * details could not be opened or name an account the network does not list (do not trust it).
   */
  provider: PatientProvider | undefined;
  /**
   * `ok`: details opened and the provider is listed with the same gatekeeper URL. `unreadable`:
   * sealed to another key or malformed. `unknown-provider`: names an account the network does not
   * list. `mismatch`: a listed account, but another gatekeeper URL than the network says.
   * `listed`: unreadable, but a listed provider's gatekeeper holds it for this wallet
   * ({@link identifyUnreadable}: details sealed to the key of the wallet the agent came from).
   */
  status: "ok" | "unreadable" | "unknown-provider" | "mismatch" | "listed";
  /** Block of `RelationshipCreated`. */
  createdAtBlock: bigint | undefined;
};

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, "") === b.replace(/\/+$/, "");

/** Opens sealed provider details with the patient's key; undefined when that fails. */
export function openProviderDetails(ctx: Pick<PatientContext, "encryptionKey">, sealed: Hex) {
  try {
    const parsed = providerDetailsSchema.safeParse(openJson(sealed, ctx.encryptionKey.secretKey));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What the chain says of an agent's relationships, before the sealed details are opened. */
export type OnChainRelationships = {
  ids: readonly Hex[];
  created: readonly { args: { id: Hex; providerDetails: Hex }; blockNumber: bigint | null }[];
  updated: readonly { args: { id: Hex; providerDetails: Hex } }[];
  infos: readonly { provider: Address; recordRoot: Hex; sequence: bigint; ended: boolean }[];
  seen: readonly bigint[];
};

/**
 * The public half of {@link discoverRelationships}: the agent's relationships, their state and
 * their sealed details, read from the chain with no key — so it can run while the wallet is still
 * being opened.
 */
export async function readRelationshipsOnChain({
  client,
  network,
  agent,
}: Pick<PatientContext, "client" | "network" | "agent">): Promise<OnChainRelationships> {
  const fromBlock = network.fromBlock ?? 0n;
  // The list, the entries and what was seen are proven (adr/0012); the events only carry the
  // sealed details, which are opened with the patient's key and matched with the network's list.
  const { ids, seen } = await readProvenAgent(network, agent);
  if (ids.length === 0) return { ids, created: [], updated: [], infos: [], seen: [] };
  // Every node's events, merged: one node cannot hide a relationship's details.
  const common = {
    address: network.contracts.Relationship,
    abi: relationshipAbi,
    fromBlock,
    strict: true,
  } as const;
  const [created, updated, infos] = await Promise.all([
    logsFromEveryNode(
      network,
      (node) =>
        getContractEvents(node, { ...common, eventName: "RelationshipCreated", args: { patient: agent } }),
      client,
    ),
    logsFromEveryNode(
      network,
      (node) =>
        getContractEvents(node, { ...common, eventName: "ProviderDetailsUpdated", args: { id: [...ids] } }),
      client,
    ),
    readProvenEntries(network, ids),
  ]);
  return { ids, created, updated, infos, seen };
}

/**
 * Every relationship of the patient's agent, oldest first, with its provider from `ctx.network`.
 * `onChain`: what {@link readRelationshipsOnChain} already read for `ctx.agent` (else read now).
 *
 * @example
 * const relationships = await discoverRelationships(ctx)
 * relationships.map((r) => r.provider?.name) // ["Riverside General", "Lakeside Clinic", …]
 */
export async function discoverRelationships(
  ctx: PatientContext,
  onChain?: OnChainRelationships | Promise<OnChainRelationships>,
): Promise<PatientRelationship[]> {
  const { network } = ctx;
  const { ids, created, updated, infos, seen } = await (onChain ?? readRelationshipsOnChain(ctx));
  return ids.map((id, i): PatientRelationship => {
    const info = infos[i] as (typeof infos)[number];
    const creation = created.find((e) => e.args.id.toLowerCase() === id.toLowerCase());
    // The latest details the provider published win (events come oldest first).
    const latest = updated.filter((e) => e.args.id.toLowerCase() === id.toLowerCase()).at(-1);
    const sealed = latest?.args.providerDetails ?? creation?.args.providerDetails;
    const details = sealed ? openProviderDetails(ctx, sealed) : undefined;
    const listed = details
      ? network.providers.find((p) => isAddressEqual(p.account, details.account))
      : undefined;
    const status = !details
      ? "unreadable"
      : !listed
        ? "unknown-provider"
        : sameUrl(listed.gatekeeperUrl, details.gatekeeperUrl)
          ? "ok"
          : "mismatch";
    return {
      id,
      delegate: getAddress(info.provider),
      recordRoot: info.recordRoot,
      sequence: info.sequence,
      seenSequence: seen[i] ?? 0n,
      ended: info.ended,
      details,
      provider: status === "ok" ? listed : undefined,
      status,
      createdAtBlock: creation?.blockNumber ?? undefined,
    };
  });
}

/**
 * Names the providers of the relationships whose sealed details this wallet's key cannot open —
 * after a recovery or a transfer they are sealed to the key of the wallet the agent came from —
 * by asking each listed provider's gatekeeper, signed in as this wallet, which relationships it
 * holds for it (`GET /v1/relationships`). Such a relationship gets status `listed`. A gatekeeper
 * that does not answer names nothing. Its records are still verified against the chain's root, so
 * a gatekeeper claiming another's relationship could only mislabel it, never alter its records.
 */
export async function identifyUnreadable(
  ctx: PatientContext,
  sessions: PatientSessions,
  relationships: readonly PatientRelationship[],
): Promise<PatientRelationship[]> {
  if (!relationships.some((r) => r.status === "unreadable")) return [...relationships];
  const held = new Map<string, PatientProvider>();
  await Promise.all(
    ctx.network.providers.map(async (p) => {
      try {
        const listed = relationshipsResponseSchema.parse(
          await gatekeeperJson(p.gatekeeperUrl, apiPaths.relationships, {
            token: await sessions.token(p.gatekeeperUrl),
            ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
          }),
        );
        for (const r of listed) if (r.role === "patient") held.set(r.relationship.toLowerCase(), p);
      } catch {
        // this provider names nothing; its relationships stay unidentified
      }
    }),
  );
  return relationships.map((r): PatientRelationship => {
    const provider = r.status === "unreadable" ? held.get(r.id.toLowerCase()) : undefined;
    return provider ? { ...r, provider, status: "listed" } : r;
  });
}

/** A relationship's display name: its provider's name, or a short form of its id. */
export function relationshipLabel(relationship: Pick<PatientRelationship, "id" | "provider">): string {
  return relationship.provider?.name ?? `relationship ${relationship.id.slice(0, 10)}…`;
}

/** Whether the provider published records the patient has not yet marked as seen. */
export function hasNewRecords(relationship: Pick<PatientRelationship, "sequence" | "seenSequence">): boolean {
  return relationship.sequence > relationship.seenSequence;
}

/**
 * Marks a relationship's records as seen up to its current sequence (`Agent.acknowledge`,
 * relayed): what {@link hasNewRecords} and `seenSequence` read afterwards, on any device.
 */
export async function acknowledgeRecords(
  ctx: PatientContext,
  relationship: Pick<PatientRelationship, "id" | "sequence">,
): Promise<{ txHash: Hex }> {
  const { txHash } = await relayPatientCall(ctx, {
    to: ctx.network.contracts.Agent,
    data: encodeFunctionData({
      abi: agentAbi,
      functionName: "acknowledge",
      args: [ctx.agent, relationship.id, relationship.sequence],
    }),
  });
  return { txHash };
}
