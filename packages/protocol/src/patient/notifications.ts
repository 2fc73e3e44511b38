/**
 * Notifications for the patient, from the chain (and the audit log for first use of a grant):
 *
 * - `new-records`: a provider published a new record root on one of the patient's relationships;
 *   the new set is read (verified) and compared with the previous one: "3 new records from
 *   Lakeside Clinic".
 * - `grant-first-use`: a viewer read records under a grant for the first time (from the audit log).
 * - `grant-expired`: a grant's expiry passed (against the chain's time).
 *
 * The watcher polls the RPC node for the Relationship contract's logs every `pollingIntervalMs`
 * (default 500 ms: blocks come every second on the local network), so a callback fires within a
 * block or two of the event. It keeps a block cursor, so nothing between two polls is missed.
 */
import type { Address, Hex } from "viem";
import { getBlock, getContractEvents } from "viem/actions";
import { fetchAuditEntries } from "../client.ts";
import type { FhirResource } from "../fhir.ts";
import { relationshipAbi } from "../generated/abis.ts";
import { canonicalJson, leafHash } from "../record-root.ts";
import { fetchVerifiedRecords } from "../records-client.ts";
import { toPatientDataError } from "./errors.ts";
import { type PatientContext, readRecordRoot } from "./network.ts";
import type { ProviderRecords } from "./records.ts";
import { type PatientRelationship, relationshipLabel } from "./relationships.ts";
import { createPatientSessions, type PatientSessions } from "./sessions.ts";
import { type ActiveGrant, listActiveGrants, listEndedGrants } from "./sharing.ts";

export type PatientNotification =
  | {
      type: "new-records";
      provider: string;
      relationship: Hex;
      /** Resources in the new set that were not in the previous one. */
      added: number;
      /** Resources whose content changed. */
      changed: number;
      /** Resources no longer in the set. */
      removed: number;
      sequence: bigint;
      blockNumber: bigint;
      /** "3 new records from Lakeside Clinic". */
      message: string;
    }
  | {
      type: "grant-first-use";
      provider: string;
      relationship: Hex;
      viewer: Address;
      at: string;
      message: string;
    }
  | {
      type: "grant-expired";
      provider: string;
      relationship: Hex;
      viewer: Address;
      /** When it ended. */
      expiresAt: Date;
      message: string;
    }
  /** Something could not be checked (a gatekeeper or the node did not answer); the watcher goes on. */
  | { type: "error"; provider?: string; message: string };

/** `Type/id` → leaf of each resource: what a new record set is compared against. */
export type RecordFingerprints = Map<string, string>;

/** The fingerprints of a list of resources (`leaves[i]`, when given, is the leaf of `resources[i]`). */
export function fingerprint(
  resources: readonly FhirResource[],
  leaves?: readonly (string | undefined)[],
): RecordFingerprints {
  return new Map(
    resources.map((r, i) => [`${r.resourceType}/${r.id ?? canonicalJson(r)}`, leaves?.[i] ?? leafHash(r)]),
  );
}

/** What changed from `before` to `after`. */
export function diffFingerprints(before: RecordFingerprints, after: RecordFingerprints) {
  let added = 0;
  let changed = 0;
  for (const [key, leaf] of after) {
    const old = before.get(key);
    if (old === undefined) added++;
    else if (old !== leaf) changed++;
  }
  let removed = 0;
  for (const key of before.keys()) if (!after.has(key)) removed++;
  return { added, changed, removed };
}

/** "3 new records from Lakeside Clinic", "1 record updated at …". */
export function describeRecordChange(
  provider: string,
  { added, changed, removed }: ReturnType<typeof diffFingerprints>,
) {
  const parts: string[] = [];
  if (added) parts.push(`${added} new record${added === 1 ? "" : "s"}`);
  if (changed) parts.push(`${changed} updated`);
  if (removed) parts.push(`${removed} removed`);
  return parts.length
    ? `${parts.join(", ")} from ${provider}`
    : `Records from ${provider} were re-published unchanged`;
}

/** One grant's end: announced once, whether seen live or after an unlock. */
const expiryKey = (g: Pick<ActiveGrant, "relationship" | "viewer" | "expiresAt">) =>
  `${g.relationship}:${g.viewer}:${g.expiresAt.getTime()}`;

/** A grant's end, as reported. */
function expiredNotification(
  g: Pick<ActiveGrant, "provider" | "relationship" | "viewer" | "expiresAt">,
): PatientNotification {
  return {
    type: "grant-expired",
    provider: g.provider,
    relationship: g.relationship,
    viewer: g.viewer,
    expiresAt: g.expiresAt,
    message: `Sharing with ${g.viewer} at ${g.provider} has ended`,
  };
}

export type WatchPatientParameters = {
  ctx: PatientContext;
  relationships: readonly PatientRelationship[];
  onNotification: (notification: PatientNotification) => void;
  /** The records already shown (from `loadPatientRecords`): the baseline of the first change. */
  baseline?: readonly ProviderRecords[];
  /**
   * The verified records the caller holds for a relationship, asked at its first change (undefined:
   * none yet). With it the watcher reads no record set when it starts — the caller has just read
   * them all — and compares the first change with what the caller showed until then.
   */
  baselineOf?: (relationship: Hex) => readonly FhirResource[] | undefined;
  sessions?: PatientSessions;
  /** Default 500 ms. */
  pollingIntervalMs?: number;
  /** Called once the watcher has its starting block: what is published after that is announced. */
  onReady?: () => void;
  /** How often the audit logs are read for first uses of grants (each read is itself an audit entry). Default 30 s; 0 = never. */
  auditIntervalMs?: number;
  /**
   * When someone last watched (e.g. before the wallet was locked): first uses of grants after it
   * and grants that ended after it are reported too. Default: only what happens from the start.
   * Records published meanwhile are not (their previous set is not known).
   */
  since?: Date;
};

/**
 * Starts watching; returns `stop`. Callbacks never throw into the watcher: a failure to check
 * something is itself a notification (`error`) and the watcher goes on.
 */
export function watchPatient({
  ctx,
  relationships,
  onNotification,
  baseline,
  baselineOf,
  sessions = createPatientSessions(ctx),
  pollingIntervalMs = 500,
  auditIntervalMs = 30_000,
  onReady,
  since,
}: WatchPatientParameters): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const byId = new Map(relationships.map((r) => [r.id.toLowerCase(), r]));
  const prints = new Map<string, RecordFingerprints>();
  for (const p of baseline ?? [])
    if (p.status === "verified") prints.set(p.relationship.id.toLowerCase(), fingerprint(p.resources));
  const notify = (n: PatientNotification) => {
    if (stopped) return;
    try {
      onNotification(n);
    } catch {
      // a listener's failure is its own
    }
  };
  let cursor: bigint | undefined;
  let grants: ActiveGrant[] | undefined;
  const expired = new Set<string>();
  const used = new Set<string>();
  let lastAudit = 0;

  const readSet = async (r: PatientRelationship, minBlock?: bigint): Promise<RecordFingerprints> => {
    const url = r.provider?.gatekeeperUrl;
    if (!url) throw new Error("unknown provider");
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: url,
      relationship: r.id,
      token: await sessions.token(url),
      // Through the provider's own node, at least as new as the publication being announced.
      onChainRoot: () => readRecordRoot(ctx.client, ctx.network, r.id, { via: r.provider?.name, minBlock }),
      ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
    });
    // Only verified entries count: a failing one is reported by the records view, not announced.
    if (!read.valid)
      throw new Error(`the new records of ${relationshipLabel(r)} did not verify against the chain`);
    // The leaves the verification computed: nothing hashed twice.
    return fingerprint(read.resources, read.leaves);
  };

  const onRoot = async (id: Hex, sequence: bigint, blockNumber: bigint) => {
    const r = byId.get(id.toLowerCase());
    if (!r) return;
    const provider = relationshipLabel(r);
    try {
      const held = prints.has(id.toLowerCase()) ? undefined : baselineOf?.(r.id);
      const before = prints.get(id.toLowerCase()) ?? (held ? fingerprint(held) : new Map());
      const after = await readSet(r, blockNumber);
      prints.set(id.toLowerCase(), after);
      const diff = diffFingerprints(before, after);
      notify({
        type: "new-records",
        provider,
        relationship: r.id,
        ...diff,
        sequence,
        blockNumber,
        message: describeRecordChange(provider, diff),
      });
    } catch (error) {
      notify({
        type: "error",
        provider,
        message: toPatientDataError(error, `Reading new records from ${provider}`).shortMessage,
      });
    }
  };

  const refreshGrants = async () => {
    grants = await listActiveGrants({ ctx, relationships });
  };

  /** Grants whose expiry the chain's clock has passed since the last look. */
  const checkExpiry = (now: bigint) => {
    for (const g of grants ?? []) {
      const key = expiryKey(g);
      if (BigInt(Math.floor(g.expiresAt.getTime() / 1000)) <= now && !expired.has(key)) {
        expired.add(key);
        notify(expiredNotification(g));
      }
    }
  };

  /** Grants that ended while nobody watched (after `after`). */
  const announceEndedSince = async (after: Date) => {
    for (const g of await listEndedGrants({ ctx, relationships, after })) {
      expired.add(expiryKey(g));
      notify(expiredNotification(g));
    }
  };

  /** Per relationship, the hash of the last audit entry read: each look reads only what is newer. */
  const auditCursor = new Map<string, string>();
  /** The chain's time when the watcher started (ms). */
  let startedAt = Number.POSITIVE_INFINITY;
  const checkAudit = async () => {
    const waiting = (grants ?? []).filter((g) => !used.has(`${g.relationship}:${g.viewer}`.toLowerCase()));
    for (const id of new Set(waiting.map((g) => g.relationship.toLowerCase()))) {
      const r = byId.get(id);
      const url = r?.provider?.gatekeeperUrl;
      if (!r || !url) continue;
      const provider = relationshipLabel(r);
      try {
        const after = auditCursor.get(id);
        const entries = await fetchAuditEntries({
          gatekeeperUrl: url,
          relationship: r.id,
          token: await sessions.token(url),
          ...(after ? { after } : {}),
          ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
        });
        const last = entries.at(-1);
        if (last) auditCursor.set(id, last.hash);
        for (const g of waiting.filter((x) => x.relationship.toLowerCase() === id)) {
          const first = entries.find(
            (e) =>
              e.actor.toLowerCase() === g.viewer.toLowerCase() &&
              e.action === "records.read" &&
              e.decision === "allowed",
          );
          if (!first) continue;
          used.add(`${g.relationship}:${g.viewer}`.toLowerCase());
          // A use from before the watcher started is history, not news.
          if (Date.parse(first.at) < startedAt) continue;
          notify({
            type: "grant-first-use",
            provider,
            relationship: g.relationship,
            viewer: g.viewer,
            at: first.at,
            message: `${g.viewer} opened your shared records at ${provider}`,
          });
        }
      } catch (error) {
        notify({
          type: "error",
          provider,
          message: toPatientDataError(error, `Reading the access log at ${provider}`).shortMessage,
        });
      }
    }
  };

  const tick = async () => {
    try {
      const block = await getBlock(ctx.client, { blockTag: "latest" });
      const head = block.number;
      const ids = relationships.map((r) => r.id);
      if (cursor === undefined) {
        cursor = head;
        startedAt = since ? since.getTime() : Number(block.timestamp) * 1000;
        // The baseline of relationships the caller did not give: the set as it is now.
        await Promise.all(
          relationships
            .filter((r) => !baselineOf && !prints.has(r.id.toLowerCase()) && r.provider)
            .map(async (r) => {
              try {
                prints.set(r.id.toLowerCase(), await readSet(r));
              } catch {
                // no baseline: the first change will count every record as new
              }
            }),
        );
        await refreshGrants();
        if (since) await announceEndedSince(since);
        onReady?.();
      } else if (head > cursor && ids.length > 0) {
        const range = { fromBlock: cursor + 1n, toBlock: head, strict: true } as const;
        const common = {
          address: ctx.network.contracts.Relationship,
          abi: relationshipAbi,
          args: { id: ids },
        } as const;
        const [roots, granted, revoked] = await Promise.all([
          getContractEvents(ctx.client, { ...common, eventName: "RootPublished", ...range }),
          getContractEvents(ctx.client, { ...common, eventName: "ViewerGranted", ...range }),
          getContractEvents(ctx.client, { ...common, eventName: "ViewerRevoked", ...range }),
        ]);
        cursor = head;
        // The latest root per relationship is what is read; earlier ones of the same poll are in it.
        const latest = new Map<string, (typeof roots)[number]>();
        for (const e of roots) latest.set(e.args.id.toLowerCase(), e);
        await Promise.all([...latest.values()].map((e) => onRoot(e.args.id, e.args.sequence, e.blockNumber)));
        if (granted.length > 0 || revoked.length > 0) await refreshGrants();
      }
      checkExpiry(block.timestamp);
      if (auditIntervalMs > 0 && Date.now() - lastAudit >= auditIntervalMs && (grants ?? []).length > 0) {
        lastAudit = Date.now();
        await checkAudit();
      }
    } catch (error) {
      notify({ type: "error", message: toPatientDataError(error, "Watching the chain").shortMessage });
    }
    if (!stopped) timer = setTimeout(() => void tick(), pollingIntervalMs);
  };
  void tick();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
