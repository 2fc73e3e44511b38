/**
 * The viewer's side: what other patients shared with this account, from the chain alone
 * (`ViewerGranted` events naming the viewer, each checked with `grantOf` / `activeScopes`), with
 * the details the patient sealed to the viewer's X25519 key (who shared, and at which provider),
 * and the records of each grant still in force — read with {@link fetchVerifiedRecords}, every
 * entry verified against the root read from the chain, exactly like the patient's own records.
 * A gatekeeper is trusted only when the network lists it: a grant's sealed details name a
 * provider, never an arbitrary URL to call.
 */
import { type Address, getAddress, type Hex } from "viem";
import { getBlockNumber, getContractEvents } from "viem/actions";
import { apiPaths, relationshipsResponseSchema } from "../api.ts";
import { gatekeeperJson } from "../client.ts";
import type { FhirResource } from "../fhir.ts";
import { relationshipAbi } from "../generated/abis.ts";
import { fetchVerifiedRecords, type RecordsFailure } from "../records-client.ts";
import { maskToScopes, type ScopeCode } from "../scopes.ts";
import { openJson } from "../sealed-box.ts";
import { type PatientErrorCode, toPatientDataError } from "./errors.ts";
import { type PatientContext, type PatientProvider, readRecordRoot } from "./network.ts";
import { logsFromEveryNode, type ProvenGrant, provenNow, readProvenGrants } from "./proven.ts";
import { createPatientSessions, type PatientSessions } from "./sessions.ts";
import type { ViewerDetails } from "./sharing.ts";

/** What a viewer needs: no agent of its own is required (a viewer may never have registered). */
export type ViewerContext = Pick<
  PatientContext,
  "network" | "client" | "account" | "encryptionKey" | "fetch"
>;

/**
 * `active`: in force. `revoked`: the patient stopped sharing. `expired`: its end date passed
 * (or the relationship was ended).
 */
export type SharedGrantStatus = "active" | "revoked" | "expired";

export type SharedGrant = {
  relationship: Hex;
  /** The patient's agent (from `RelationshipCreated`). */
  patient: Address | undefined;
  /** How the patient asked to be known ("Maria"), from the sealed details. */
  from: string | undefined;
  /** The provider, when the sealed details name one the network lists (or a listed gatekeeper knows the grant). */
  provider: PatientProvider | undefined;
  status: SharedGrantStatus;
  /** Categories granted (the last grant's, for a revoked or expired one). */
  categories: ScopeCode[];
  sensitive: boolean;
  expiresAt: Date | undefined;
  secondsLeft: number;
  grantedAtBlock: bigint;
};

/** A grant's state from `grantOf` and `activeScopes` at chain time `now` (seconds). */
export function sharedGrantStatus(
  stored: { scopes: number; expiresAt: bigint },
  activeScopes: number,
): SharedGrantStatus {
  if (stored.expiresAt === 0n) return "revoked";
  return activeScopes === 0 ? "expired" : "active";
}

/** The details a patient sealed to the viewer, opened; undefined when absent or not for this key. */
export function openViewerDetails(sealed: Hex, secretKey: Uint8Array): ViewerDetails | undefined {
  if (!sealed || sealed === "0x") return undefined;
  try {
    const value = openJson(sealed, secretKey) as Partial<ViewerDetails> | undefined;
    if (!value || typeof value !== "object" || value.v !== 1) return undefined;
    const text = (x: unknown) => (typeof x === "string" && x.trim() ? x.trim().slice(0, 80) : undefined);
    const provider =
      value.provider &&
      typeof value.provider.name === "string" &&
      typeof value.provider.gatekeeperUrl === "string"
        ? { name: value.provider.name, gatekeeperUrl: value.provider.gatekeeperUrl }
        : undefined;
    const from = text(value.from);
    const label = text(value.label);
    return {
      v: 1,
      ...(from ? { from } : {}),
      ...(label ? { label } : {}),
      ...(provider ? { provider } : {}),
    };
  } catch {
    return undefined;
  }
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, "") === b.replace(/\/+$/, "");

/**
 * Every grant ever made to `ctx.account` (the latest per relationship), newest first, with its
 * state on chain. Grants whose details name no listed provider are looked up at the network's
 * gatekeepers (`GET /v1/relationships` lists the relationships a caller holds a current grant on).
 */
export async function listSharedWithMe({
  ctx,
  sessions = createPatientSessions(ctx as PatientContext),
}: {
  ctx: ViewerContext;
  sessions?: PatientSessions;
}): Promise<SharedGrant[]> {
  const { client, network } = ctx;
  const viewer = getAddress(ctx.account.address);
  const fromBlock = network.fromBlock ?? 0n;
  // The block the reading node calls latest: the grants' proofs must be at least as new.
  const head = await getBlockNumber(client, { cacheTime: 0 });
  // From every node: one that hides a grant's event does not hide the grant (adr/0012).
  const events = await logsFromEveryNode(
    network,
    (node) =>
      getContractEvents(node, {
        address: network.contracts.Relationship,
        abi: relationshipAbi,
        eventName: "ViewerGranted",
        args: { viewer },
        fromBlock,
        toBlock: head,
        strict: true,
      }),
    client,
  );
  if (events.length === 0) return [];
  const latest = new Map<string, (typeof events)[number]>();
  for (const e of events) latest.set(e.args.id.toLowerCase(), e);
  const ids = [...latest.values()].map((e) => e.args.id);
  const [created, now] = await Promise.all([
    getContractEvents(client, {
      address: network.contracts.Relationship,
      abi: relationshipAbi,
      eventName: "RelationshipCreated",
      args: { id: ids },
      fromBlock,
      toBlock: "latest",
      strict: true,
    }),
    provenNow(network, head),
  ]);
  // The grants' state in one proof (adr/0012); the events only name what to prove.
  const proven = await readProvenGrants(
    network,
    [...latest.values()].map((e) => ({ id: e.args.id, viewer })),
    head,
  );
  const grants = await Promise.all(
    [...latest.values()].map(async (e, i): Promise<SharedGrant> => {
      const stored = proven[i] as ProvenGrant;
      const active = stored.active;
      const details = openViewerDetails(e.args.viewerDetails, ctx.encryptionKey.secretKey);
      const provider = details?.provider
        ? network.providers.find((p) => sameUrl(p.gatekeeperUrl, details.provider?.gatekeeperUrl ?? ""))
        : undefined;
      const status = sharedGrantStatus(stored, active);
      const scopes = maskToScopes(status === "active" ? active : e.args.scopes);
      const expiresAt = status === "revoked" ? e.args.expiresAt : stored.expiresAt;
      const patient = created.find((c) => c.args.id.toLowerCase() === e.args.id.toLowerCase())?.args.patient;
      return {
        relationship: e.args.id,
        patient: patient ? getAddress(patient) : undefined,
        from: details?.from,
        provider,
        status,
        categories: scopes.filter((s) => s !== "sensitive"),
        sensitive: scopes.includes("sensitive"),
        expiresAt: expiresAt > 0n ? new Date(Number(expiresAt) * 1000) : undefined,
        secondsLeft: status === "active" ? Math.max(0, Number(stored.expiresAt - now)) : 0,
        grantedAtBlock: e.blockNumber,
      };
    }),
  );
  // Active grants whose details named no listed provider: ask the listed gatekeepers.
  const unplaced = grants.filter((g) => g.status === "active" && !g.provider);
  if (unplaced.length > 0)
    await Promise.all(
      network.providers.map(async (provider) => {
        try {
          const token = await sessions.token(provider.gatekeeperUrl);
          const held = relationshipsResponseSchema.parse(
            await gatekeeperJson(provider.gatekeeperUrl, apiPaths.relationships, {
              token,
              ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
            }),
          );
          for (const g of unplaced)
            if (held.some((h) => h.relationship.toLowerCase() === g.relationship.toLowerCase()))
              g.provider = provider;
        } catch {
          // this provider did not answer: its grants stay unplaced
        }
      }),
    );
  return grants.sort((a, b) => Number(b.grantedAtBlock - a.grantedAtBlock));
}

/**
 * `verified`: every entry verified against the chain. `failed-verification`: some did not (they are
 * left out of `resources`). `refused`: the gatekeeper said no — the grant ended meanwhile.
 * `unreachable`: try again later. `unavailable`: no listed provider holds this grant.
 */
export type SharedRecordsStatus =
  | "verified"
  | "failed-verification"
  | "refused"
  | "unreachable"
  | "unavailable";

export type SharedRecords = {
  status: SharedRecordsStatus;
  /** Verified resources only. */
  resources: FhirResource[];
  failures: RecordsFailure[];
  error?: { code: PatientErrorCode; message: string };
};

/** The records of one grant in force, every entry verified against the record root on chain. */
export async function loadSharedRecords({
  ctx,
  grant,
  sessions = createPatientSessions(ctx as PatientContext),
}: {
  ctx: ViewerContext;
  grant: Pick<SharedGrant, "relationship" | "provider">;
  sessions?: PatientSessions;
}): Promise<SharedRecords> {
  const provider = grant.provider;
  if (!provider) return { status: "unavailable", resources: [], failures: [] };
  try {
    const token = await sessions.token(provider.gatekeeperUrl);
    // Only entries verified against the chain are kept (pages again from the start after a restart).
    let resources: FhirResource[] = [];
    let attempt = 0;
    const read = await fetchVerifiedRecords({
      gatekeeperUrl: provider.gatekeeperUrl,
      relationship: grant.relationship,
      token,
      onChainRoot: () => readRecordRoot(ctx.client, ctx.network, grant.relationship),
      onPage: (page) => {
        if (page.attempt !== attempt) {
          attempt = page.attempt;
          resources = [];
        }
        resources.push(...page.entries.filter((e) => e.verified).map((e) => e.resource));
      },
      ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
    });
    return { status: read.valid ? "verified" : "failed-verification", resources, failures: read.failures };
  } catch (error) {
    const failure = toPatientDataError(error, `Reading shared records at ${provider.name}`);
    return {
      status: failure.code === "unreachable" ? "unreachable" : "refused",
      resources: [],
      failures: [],
      error: { code: failure.code, message: failure.shortMessage },
    };
  }
}
