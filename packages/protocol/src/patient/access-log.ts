/**
 * The access log: every provider's audit entries about the patient's relationships (all pages),
 * each checked with {@link verifyAuditEntries} against the tree heads that provider's bound log
 * account anchored on chain, merged into one list, newest first. An entry whose proof is broken is
 * marked so, with the problem in words; entries newer than the last anchored head are `pending`.
 */
import { type Address, getAddress, type Hex, isAddressEqual, zeroAddress } from "viem";
import { readContract } from "viem/actions";
import { type AuditEntry, type AuditHeadResponse, apiPaths } from "../api.ts";
import { type AuditProblem, auditAnchorAbi, readAnchoredHeads, verifyAuditEntries } from "../audit-anchor.ts";
import { fetchAuditConsistencyProof, fetchAuditEntries, gatekeeperJson } from "../client.ts";
import type { ScopeCode } from "../scopes.ts";
import { PatientDataError, type PatientErrorCode, toPatientDataError } from "./errors.ts";
import { type PatientContext, shortAddress } from "./network.ts";
import { type PatientRelationship, relationshipLabel } from "./relationships.ts";
import { createPatientSessions, type PatientSessions } from "./sessions.ts";

/** Names the patient saved for addresses (family, a doctor): address → name. */
export type Contacts = Readonly<Record<string, string>>;

/** `verified`: proven in a head anchored on chain. `pending`: newer than the last anchored head. `failed`: a broken proof. */
export type AccessProofStatus = "verified" | "pending" | "failed";

/** Wait before reading a log again whose first read did not verify (a block or two). */
const RACE_RETRY_MS = 2_000;

export type AccessLogEntry = {
  /** When, ISO. */
  at: string;
  provider: string;
  relationship: Hex;
  actor: Address;
  /** Who in words: "You", a saved contact's name, "Staff at …", or a short address. */
  who: string;
  /** `records.read`, `audit.read`, `staff.records.upload`, … */
  action: string;
  /** The action in words. */
  what: string;
  categories: ScopeCode[];
  decision: AuditEntry["decision"];
  /** Staff actions: how many items. */
  count?: number;
  proof: AccessProofStatus;
  /** For `failed`: what is wrong, in words. */
  problems: string[];
  entry: AuditEntry;
};

export type ProviderAccessLog = {
  provider: string;
  relationship: Hex;
  status: "verified" | "failed-verification" | "unreachable" | "refused" | "unavailable";
  entries: AccessLogEntry[];
  /** Problems that belong to no single entry (a rewritten log, a log account not bound by this provider). */
  problems: AuditProblem[];
  error?: { code: PatientErrorCode; message: string };
};

export type AccessLog = { entries: AccessLogEntry[]; providers: ProviderAccessLog[] };

const ACTIONS: Record<string, string> = {
  "records.read": "read records",
  "audit.read": "read the access log",
  "staff.patient.link": "linked your record",
  "staff.records.upload": "added records",
  "staff.legacy.sync": "updated records from the hospital system",
};

/** Who an actor is, in words. */
export function describeActor(
  actor: Address,
  {
    patient,
    contacts,
    provider,
    action,
  }: { patient: Address; contacts?: Contacts; provider: string; action: string },
): string {
  if (isAddressEqual(actor, patient)) return "You";
  const saved = contacts
    ? Object.entries(contacts).find(([address]) => address.toLowerCase() === actor.toLowerCase())?.[1]
    : undefined;
  if (saved) return saved;
  if (action.startsWith("staff."))
    return isAddressEqual(actor, zeroAddress) ? `${provider} (automated)` : `Staff at ${provider}`;
  return shortAddress(actor);
}

/**
 * The access log of every relationship with a known provider, merged, newest first. Never throws
 * for one provider: its `status` says what happened.
 */
export async function loadAccessLog({
  ctx,
  relationships,
  sessions = createPatientSessions(ctx),
  contacts,
}: {
  ctx: PatientContext;
  relationships: readonly PatientRelationship[];
  sessions?: PatientSessions;
  contacts?: Contacts;
}): Promise<AccessLog> {
  const providers = await Promise.all(
    relationships.map((relationship) =>
      loadProviderAccessLog({ ctx, relationship, sessions, ...(contacts ? { contacts } : {}) }),
    ),
  );
  const entries = providers
    .flatMap((p) => p.entries)
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.provider.localeCompare(a.provider));
  return { entries, providers };
}

/** One relationship's access log, verified against the chain. */
export async function loadProviderAccessLog({
  ctx,
  relationship,
  sessions = createPatientSessions(ctx),
  contacts,
}: {
  ctx: PatientContext;
  relationship: PatientRelationship;
  sessions?: PatientSessions;
  contacts?: Contacts;
}): Promise<ProviderAccessLog> {
  const provider = relationshipLabel(relationship);
  const base = { provider, relationship: relationship.id, entries: [], problems: [] };
  const known = relationship.provider;
  if (!known) return { ...base, status: "unavailable" };
  const anchor = ctx.network.contracts.AuditAnchor;
  try {
    if (!anchor) throw new PatientDataError("invalid-input", "The network names no AuditAnchor contract.");
    const gatekeeperUrl = known.gatekeeperUrl;
    const token = await sessions.token(gatekeeperUrl);
    const fetchOption = ctx.fetch ? { fetch: ctx.fetch } : {};
    // The log account is the one the provider bound on chain, whatever the gatekeeper says.
    const [bound, head] = await Promise.all([
      readContract(ctx.client, {
        address: anchor,
        abi: auditAnchorAbi,
        functionName: "logOf",
        args: [known.account],
      }),
      gatekeeperJson<AuditHeadResponse>(gatekeeperUrl, apiPaths.auditHead, { token, ...fetchOption }),
    ]);
    const problems: AuditProblem[] = [];
    if (!head.log || !isAddressEqual(head.log as Address, bound))
      problems.push({
        kind: "rewritten",
        message: `${provider} names another audit log account than the one it bound on chain`,
      });
    const read = async () => {
      const entries = await fetchAuditEntries({
        gatekeeperUrl,
        relationship: relationship.id,
        token,
        ...fetchOption,
      });
      const heads = await readAnchoredHeads({
        client: ctx.client,
        anchor,
        log: getAddress(bound),
        fromBlock: ctx.network.fromBlock ?? 0n,
      });
      const verification = await verifyAuditEntries({
        relationship: relationship.id,
        entries,
        heads,
        consistencyProof: (from, to) =>
          fetchAuditConsistencyProof({ gatekeeperUrl, token, from, to, ...fetchOption }),
      });
      return { entries, verification };
    };
    let { entries, verification } = await read();
    // The entries and the heads on chain are two reads: an anchor mined between them (or seen by
    // the gatekeeper's node before the one read here) makes honest entries look unproven. Such a
    // race is over a block later; a log really altered fails the second read as well.
    if (verification.problems.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, RACE_RETRY_MS));
      ({ entries, verification } = await read());
    }
    const byIndex = new Map<number, string[]>();
    for (const problem of verification.problems) {
      if (problem.index === undefined) problems.push(problem);
      else byIndex.set(problem.index, [...(byIndex.get(problem.index) ?? []), problem.message]);
    }
    const patient = ctx.account.address;
    const list = entries.map((entry, index): AccessLogEntry => {
      const broken = byIndex.get(index) ?? [];
      const pending = !entry.inclusion && (entry.leafIndex ?? 0) >= verification.latest.size;
      return {
        at: entry.at,
        provider,
        relationship: relationship.id,
        actor: getAddress(entry.actor),
        who: describeActor(entry.actor as Address, {
          patient,
          provider,
          action: entry.action,
          ...(contacts ? { contacts } : {}),
        }),
        action: entry.action,
        what: ACTIONS[entry.action] ?? entry.action,
        categories: entry.categories,
        decision: entry.decision,
        ...(entry.count === undefined ? {} : { count: entry.count }),
        proof: broken.length > 0 || problems.length > 0 ? "failed" : pending ? "pending" : "verified",
        problems: [...broken, ...problems.map((p) => p.message)],
        entry,
      };
    });
    const failed = list.some((e) => e.proof === "failed");
    return { ...base, status: failed ? "failed-verification" : "verified", entries: list, problems };
  } catch (error) {
    const failure = toPatientDataError(error, `Reading the access log at ${provider}`);
    return {
      ...base,
      status: failure.code === "unreachable" ? "unreachable" : "refused",
      error: { code: failure.code, message: failure.shortMessage },
    };
  }
}
