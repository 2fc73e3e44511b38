/**
 * Sharing and revoking: the patient grants a viewer chosen categories on one, several or all
 * relationships until an expiry, with details sealed to the viewer's X25519 key; every call is
 * relayed. Several providers mean several transactions: each is reported on its own, and one
 * failing never hides or undoes the others — the result lists what to retry.
 */
import { type Address, encodeFunctionData, getAddress, type Hex } from "viem";
import { getBlockNumber, getContractEvents, readContract } from "viem/actions";
import { agentAbi, relationshipAbi } from "../generated/abis.ts";
import { maskToScopes, SCOPE_CODES, type ScopeCode, scopesToMask } from "../scopes.ts";
import { sealJson } from "../sealed-box.ts";
import { agentLogs } from "./agent-logs.ts";
import { PatientDataError, type PatientErrorCode, toPatientDataError } from "./errors.ts";
import { chainNow, type PatientContext } from "./network.ts";
import { logsFromEveryNode, type ProvenGrant, provenNow, readProvenGrants } from "./proven.ts";
import { type PatientRelationship, relationshipLabel } from "./relationships.ts";
import { relayPatientCall } from "./relaying.ts";

/** How long a grant lasts: one of the usual choices, or until a date. */
export type GrantExpiry = { days: 1 | 7 | 30 | number } | { until: Date };

/** Seconds since the epoch at which `expiry` ends, counted from `now` (seconds). */
export function expiryToTimestamp(expiry: GrantExpiry, now: bigint): bigint {
  if ("until" in expiry) return BigInt(Math.floor(expiry.until.getTime() / 1000));
  if (!Number.isFinite(expiry.days) || expiry.days <= 0)
    throw new PatientDataError("invalid-input", "A grant must last at least part of a day.");
  return now + BigInt(Math.round(expiry.days * 86_400));
}

/** What the patient seals to the viewer with a grant: who shares, and where to read. */
export type ViewerDetails = {
  v: 1;
  /** How the patient wants to be known to the viewer ("Maria"). */
  from?: string;
  /** What the viewer is to the patient ("Family"). */
  label?: string;
  /** Where the records are: the provider's name and gatekeeper. */
  provider?: { name: string; gatekeeperUrl: string };
};

/** Categories a viewer may be granted: every scope code but `sensitive`, which is asked apart. */
export const SHAREABLE_CATEGORIES: readonly ScopeCode[] = SCOPE_CODES.filter((c) => c !== "sensitive");

/** The outcome for one relationship of a multi-provider action. */
export type PerProviderResult =
  | { relationship: Hex; provider: string; ok: true; txHash: Hex }
  | {
      relationship: Hex;
      provider: string;
      ok: false;
      code: PatientErrorCode;
      message: string;
      retryable: boolean;
    };

export type BatchResult = {
  results: PerProviderResult[];
  /** Every relationship succeeded. */
  ok: boolean;
  /** The relationships to try again (an unreachable relay, a refused or reverted call). */
  failed: Hex[];
};

export type ShareParameters = {
  ctx: PatientContext;
  /** The viewer's account. */
  viewer: Address;
  /**
   * The viewer's X25519 public key, to seal the details to. Default: the key of the agent the
   * viewer owns on this network (from its events); without either, no details are attached.
   */
  viewerKey?: Hex;
  /** The relationships to share (one, several, or all the patient has). */
  relationships: readonly PatientRelationship[];
  /** Categories (never `sensitive` here). */
  categories: readonly ScopeCode[];
  /** Also records labelled restricted (mental health, substance use). Default false. */
  sensitive?: boolean;
  expiry: GrantExpiry;
  details?: Omit<ViewerDetails, "v" | "provider">;
};

/** The X25519 key of the agent `account` owns (from `AgentRegistered` / `EncryptionKeyChanged`), if any. */
export async function readEncryptionKey(ctx: PatientContext, account: Address): Promise<Hex | undefined> {
  const agent = await readContract(ctx.client, {
    address: ctx.network.contracts.Agent,
    abi: agentAbi,
    functionName: "agentOf",
    args: [account],
  });
  if (/^0x0{40}$/i.test(agent)) return undefined;
  const common = agentLogs(ctx.network, agent);
  const [registered, changed] = await Promise.all([
    getContractEvents(ctx.client, { ...common, eventName: "AgentRegistered" }),
    getContractEvents(ctx.client, { ...common, eventName: "EncryptionKeyChanged" }),
  ]);
  return (changed.at(-1)?.args.encryptionKey ?? registered.at(-1)?.args.encryptionKey) as Hex | undefined;
}

async function eachRelationship(
  relationships: readonly PatientRelationship[],
  run: (r: PatientRelationship) => Promise<Hex>,
  what: string,
): Promise<BatchResult> {
  const results: PerProviderResult[] = [];
  // One after the other: every relayed request takes the patient's next forwarder nonce.
  for (const r of relationships) {
    const provider = relationshipLabel(r);
    try {
      results.push({ relationship: r.id, provider, ok: true, txHash: await run(r) });
    } catch (error) {
      const failure = toPatientDataError(error, `${what} at ${provider}`);
      results.push({
        relationship: r.id,
        provider,
        ok: false,
        code: failure.code,
        message: failure.shortMessage,
        retryable: failure.code === "unreachable" || failure.code === "relay-refused",
      });
    }
  }
  const failed = results.filter((r) => !r.ok).map((r) => r.relationship);
  return { results, ok: failed.length === 0, failed };
}

/**
 * Grants `viewer` the chosen categories on each chosen relationship (replacing an earlier grant
 * there). Never throws for one provider's failure: see {@link BatchResult}.
 *
 * @throws {PatientDataError} `invalid-input` for no relationship, no category, or an expiry not in the future.
 */
export async function shareRecords(p: ShareParameters): Promise<BatchResult> {
  const { ctx } = p;
  if (p.relationships.length === 0)
    throw new PatientDataError("invalid-input", "Choose at least one provider.");
  if (p.categories.includes("sensitive"))
    throw new PatientDataError(
      "invalid-input",
      "Sensitive records are shared with `sensitive: true`, not as a category.",
    );
  if (p.categories.length === 0) throw new PatientDataError("invalid-input", "Choose at least one category.");
  const mask = scopesToMask([...p.categories, ...(p.sensitive ? (["sensitive"] as const) : [])]);
  const now = await chainNow(ctx.client);
  const expiresAt = expiryToTimestamp(p.expiry, now);
  if (expiresAt <= now) throw new PatientDataError("invalid-input", "The expiry must be in the future.");
  const viewer = getAddress(p.viewer);
  const viewerKey = p.viewerKey ?? (await readEncryptionKey(ctx, viewer));
  return eachRelationship(
    p.relationships,
    async (r) => {
      const details: ViewerDetails = {
        v: 1,
        ...p.details,
        ...(r.provider
          ? { provider: { name: r.provider.name, gatekeeperUrl: r.provider.gatekeeperUrl } }
          : {}),
      };
      const sealed: Hex = viewerKey ? sealJson(details, viewerKey) : "0x";
      const { txHash } = await relayPatientCall(ctx, {
        to: ctx.network.contracts.Relationship,
        data: encodeFunctionData({
          abi: relationshipAbi,
          functionName: "grant",
          args: [r.id, viewer, mask, expiresAt, sealed],
        }),
      });
      return txHash;
    },
    "Sharing",
  );
}

/**
 * Revokes `viewer`'s grant on each given relationship where it has one (expired or not).
 * Relationships without a grant are skipped (not in the results).
 */
export async function revokeAccess({
  ctx,
  viewer,
  relationships,
}: {
  ctx: PatientContext;
  viewer: Address;
  relationships: readonly PatientRelationship[];
}): Promise<BatchResult> {
  const who = getAddress(viewer);
  const held = await Promise.all(
    relationships.map(async (r) => {
      const grant = await readGrant(ctx, r.id, who);
      return grant.expiresAt > 0n ? r : undefined;
    }),
  );
  return eachRelationship(
    held.filter((r) => r !== undefined),
    async (r) => {
      const { txHash } = await relayPatientCall(ctx, {
        to: ctx.network.contracts.Relationship,
        data: encodeFunctionData({ abi: relationshipAbi, functionName: "revoke", args: [r.id, who] }),
      });
      return txHash;
    },
    "Revoking",
  );
}

export type ActiveGrant = {
  relationship: Hex;
  provider: string;
  viewer: Address;
  categories: ScopeCode[];
  sensitive: boolean;
  expiresAt: Date;
  /** Seconds left, against the latest block's time. */
  secondsLeft: number;
  /** Block of the grant. */
  grantedAtBlock: bigint;
};

/**
 * Every grant in force on the patient's relationships, from the chain: `ViewerGranted` events,
 * each checked with `activeScopes` (0 once expired, revoked or ended), soonest expiry first.
 */
export async function listActiveGrants({
  ctx,
  relationships,
}: {
  ctx: PatientContext;
  relationships: readonly PatientRelationship[];
}): Promise<ActiveGrant[]> {
  const { events, head } = await latestGrantEvents(ctx, relationships);
  // Every grant in one proof (adr/0012): a node cannot hide one or fake a revocation.
  const [now, proven] = await Promise.all([
    provenNow(ctx.network, head),
    readProvenGrants(
      ctx.network,
      events.map((e) => ({ id: e.args.id, viewer: e.args.viewer })),
      head,
    ),
  ]);
  const grants = events.map((e, i): ActiveGrant | undefined => {
    const stored = proven[i] as ProvenGrant;
    const active = stored.active;
    if (active === 0) return undefined;
    const scopes = maskToScopes(active);
    return {
      relationship: e.args.id,
      provider: providerOf(relationships, e.args.id),
      viewer: getAddress(e.args.viewer),
      categories: scopes.filter((s) => s !== "sensitive"),
      sensitive: scopes.includes("sensitive"),
      expiresAt: new Date(Number(stored.expiresAt) * 1000),
      secondsLeft: Math.max(0, Number(stored.expiresAt - now)),
      grantedAtBlock: e.blockNumber,
    };
  });
  return grants.filter((g) => g !== undefined).sort((a, b) => a.secondsLeft - b.secondsLeft);
}

/** A grant whose time ran out (not revoked): who, where, when. */
export type EndedGrant = { relationship: Hex; provider: string; viewer: Address; expiresAt: Date };

/**
 * The grants whose expiry passed after `after` and by the latest block's time — not revoked ones,
 * nor ones granted again since (from the chain: the latest `ViewerGranted` per viewer, `grantOf`).
 */
export async function listEndedGrants({
  ctx,
  relationships,
  after,
}: {
  ctx: PatientContext;
  relationships: readonly PatientRelationship[];
  after: Date;
}): Promise<EndedGrant[]> {
  const { events, head } = await latestGrantEvents(ctx, relationships);
  const now = await provenNow(ctx.network, head);
  const since = BigInt(Math.floor(after.getTime() / 1000));
  const ended = await Promise.all(
    events.map(async (e): Promise<EndedGrant | undefined> => {
      const { expiresAt } = await readGrant(ctx, e.args.id, e.args.viewer);
      if (expiresAt === 0n || expiresAt <= since || expiresAt > now) return undefined;
      return {
        relationship: e.args.id,
        provider: providerOf(relationships, e.args.id),
        viewer: getAddress(e.args.viewer),
        expiresAt: new Date(Number(expiresAt) * 1000),
      };
    }),
  );
  return ended.filter((g) => g !== undefined);
}

/**
 * The latest `ViewerGranted` of each (relationship, viewer) on `relationships`, up to `head`: the
 * block the reading node called latest, which the grants' proofs must be at least as new as.
 */
async function latestGrantEvents(ctx: PatientContext, relationships: readonly PatientRelationship[]) {
  const head = await getBlockNumber(ctx.client, { cacheTime: 0 });
  if (relationships.length === 0) return { events: [], head };
  // From every node: one that hides a grant's event does not hide the grant (adr/0012).
  const events = await logsFromEveryNode(
    ctx.network,
    (node) =>
      getContractEvents(node, {
        address: ctx.network.contracts.Relationship,
        abi: relationshipAbi,
        eventName: "ViewerGranted",
        args: { id: relationships.map((r) => r.id) },
        fromBlock: ctx.network.fromBlock ?? 0n,
        toBlock: head,
        strict: true,
      }),
    ctx.client,
  );
  const latest = new Map<string, (typeof events)[number]>();
  for (const e of events) latest.set(`${e.args.id.toLowerCase()}:${e.args.viewer.toLowerCase()}`, e);
  return { events: [...latest.values()], head };
}

/** A grant's stored scopes and expiry, proven. */
async function readGrant(ctx: PatientContext, id: Hex, viewer: Address): Promise<ProvenGrant> {
  const [grant] = await readProvenGrants(ctx.network, [{ id, viewer }]);
  return grant as ProvenGrant;
}

function providerOf(relationships: readonly PatientRelationship[], id: Hex): string {
  const r = relationships.find((x) => x.id.toLowerCase() === id.toLowerCase());
  return r ? relationshipLabel(r) : id;
}

/** "3 days", "5 hours", "12 minutes": time left in words. */
export function formatTimeLeft(seconds: number): string {
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (seconds >= 2 * 86_400) return plural(Math.floor(seconds / 86_400), "day");
  if (seconds >= 2 * 3600) return plural(Math.floor(seconds / 3600), "hour");
  if (seconds >= 60) return plural(Math.floor(seconds / 60), "minute");
  return seconds > 0 ? "less than a minute" : "expired";
}
