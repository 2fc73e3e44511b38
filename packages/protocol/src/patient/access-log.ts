/**
 * The access log: every provider's audit entries about the patient's relationships, newest first,
 * one page at a time (adr/0014): each page is checked on its own with {@link verifyAuditPage}
 * against the tree heads that provider's bound log account anchored on chain — its entries'
 * hashes, their chain (and its link to the page before), their inclusion proofs — and the latest
 * two anchored heads with a consistency proof, once per log. Pages are merged into one list,
 * newest first; older pages are loaded on demand ({@link loadOlderAccessLog}). An entry whose proof
 * is broken is marked so, with the problem in words; entries newer than the last anchored head
 * are `pending`.
 */
import { type Address, getAddress, type Hex, isAddressEqual, zeroAddress } from "viem";
import { readContract } from "viem/actions";
import { type AuditEntry, type AuditHeadResponse, apiPaths, auditResponseSchema } from "../api.ts";
import { verifyAuditPage } from "../audit.ts";
import { type AuditProblem, auditAnchorAbi, readAnchoredHeads } from "../audit-anchor.ts";
import { fetchAuditConsistencyProof, gatekeeperJson, gatekeeperRequest } from "../client.ts";
import type { ScopeCode } from "../scopes.ts";
import { type TreeHead, verifyConsistency } from "../transparency-log.ts";
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
  /** Staff actions: how many items; aggregated refusals: how many refusals. */
  count?: number;
  /** Aggregated refusals (`refusals.aggregate`): from how many accounts. */
  actors?: number;
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
  /** Where the next (older) page starts, when there is one: {@link loadOlderAccessLog}. */
  older?: OlderPage;
};

/** The cursor of a provider's next (older) page and what it is checked against. */
export type OlderPage = {
  /** The hash of the oldest entry shown (`before=`). */
  before: string;
  /** That entry's `prevHash`: the next page's newest entry must have this hash. */
  olderThan: string;
  /** The anchored heads the first page was checked against (read once per log). */
  heads: readonly TreeHead[];
  gatekeeperUrl: string;
};

export type AccessLog = { entries: AccessLogEntry[]; providers: ProviderAccessLog[] };

/** Entries per page of a provider's log. */
export const ACCESS_LOG_PAGE = 50;

const ACTIONS: Record<string, string> = {
  "records.read": "read records",
  "audit.read": "read the access log",
  "staff.patient.link": "linked your record",
  "staff.records.upload": "added records",
  "staff.legacy.sync": "updated records from the hospital system",
  "refusals.aggregate": "read records",
};

/** The action of an hour's refusals by accounts that never had access, logged as one entry (adr/0014). */
export const AGGREGATE_ACTION = "refusals.aggregate";

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
  if (action === AGGREGATE_ACTION) return "Accounts that never had access";
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
  return merged(providers);
}

const merged = (providers: ProviderAccessLog[]): AccessLog => ({
  entries: providers
    .flatMap((p) => p.entries)
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.provider.localeCompare(a.provider)),
  providers,
});

/**
 * The next (older) page of every provider's log that has one, checked and added to `log`.
 * Never throws for one provider: a page that cannot be read keeps its cursor and sets `error`.
 */
export async function loadOlderAccessLog({
  ctx,
  log,
  sessions = createPatientSessions(ctx),
  contacts,
}: {
  ctx: PatientContext;
  log: AccessLog;
  sessions?: PatientSessions;
  contacts?: Contacts;
}): Promise<AccessLog> {
  const providers = await Promise.all(
    log.providers.map(async (p): Promise<ProviderAccessLog> => {
      const older = p.older;
      if (!older) return p;
      try {
        const token = await sessions.token(older.gatekeeperUrl);
        const page = await readPage({
          ctx,
          gatekeeperUrl: older.gatekeeperUrl,
          relationship: p.relationship,
          token,
          before: older.before,
        });
        const checked = checkPage({
          ctx,
          provider: p.provider,
          relationship: p.relationship,
          page,
          heads: older.heads,
          olderThan: older.olderThan,
          problems: p.problems,
          ...(contacts ? { contacts } : {}),
        });
        const entries = [...p.entries, ...checked.entries];
        const { older: _older, ...rest } = p;
        return {
          ...rest,
          status: entries.some((e) => e.proof === "failed") ? "failed-verification" : p.status,
          entries,
          ...(checked.older ? { older: { ...older, ...checked.older } } : {}),
        };
      } catch (error) {
        const failure = toPatientDataError(error, `Reading the access log at ${p.provider}`);
        return { ...p, error: { code: failure.code, message: failure.shortMessage } };
      }
    }),
  );
  return merged(providers);
}

type Page = { entries: AuditEntry[]; more: boolean };

/** One newest-first page of a relationship's log (`order=desc`), before the entry `before`. */
async function readPage({
  ctx,
  gatekeeperUrl,
  relationship,
  token,
  before,
}: {
  ctx: PatientContext;
  gatekeeperUrl: string;
  relationship: Hex;
  token: string;
  before?: string | undefined;
}): Promise<Page> {
  const path = `${apiPaths.audit(relationship)}?order=desc${before ? `&before=${encodeURIComponent(before)}` : ""}&limit=${ACCESS_LOG_PAGE}`;
  const { body, headers } = await gatekeeperRequest(gatekeeperUrl, path, {
    token,
    ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
  });
  return { entries: auditResponseSchema.parse(body), more: headers.get("link") !== null };
}

/** A page checked ({@link verifyAuditPage}) and described, and where the next one starts. */
function checkPage({
  ctx,
  provider,
  relationship,
  page,
  heads,
  olderThan,
  problems,
  contacts,
}: {
  ctx: PatientContext;
  provider: string;
  relationship: Hex;
  page: Page;
  heads: readonly TreeHead[];
  olderThan?: string | undefined;
  /** Problems of the whole log: every entry shown is then `failed`. */
  problems: readonly AuditProblem[];
  contacts?: Contacts | undefined;
}): {
  entries: AccessLogEntry[];
  problems: { index?: number; message: string }[];
  older?: { before: string; olderThan: string };
} {
  const verification = verifyAuditPage({
    relationship,
    entries: page.entries,
    heads,
    olderThan,
    last: !page.more,
  });
  const byIndex = new Map<number, string[]>();
  for (const problem of verification.problems)
    if (problem.index !== undefined)
      byIndex.set(problem.index, [...(byIndex.get(problem.index) ?? []), problem.message]);
  const patient = ctx.account.address;
  const entries = page.entries.map((entry, index): AccessLogEntry => {
    const broken = byIndex.get(index) ?? [];
    const proof = verification.proofs[index] ?? "failed";
    return {
      at: entry.at,
      provider,
      relationship,
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
      ...(entry.actors === undefined ? {} : { actors: entry.actors }),
      proof: broken.length > 0 || problems.length > 0 ? "failed" : proof,
      problems: [...broken, ...problems.map((p) => p.message)],
      entry,
    };
  });
  const oldest = page.entries.at(-1);
  return {
    entries,
    problems: verification.problems,
    ...(page.more && oldest ? { older: { before: oldest.hash, olderThan: oldest.prevHash } } : {}),
  };
}

/**
 * The newest page of one relationship's access log, verified against the chain: the page's
 * entries on their own ({@link verifyAuditPage}), and the latest two anchored heads with a
 * consistency proof (a log rewritten between them is a problem of the whole log).
 */
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
    const logProblems: AuditProblem[] = [];
    if (!head.log || !isAddressEqual(head.log as Address, bound))
      logProblems.push({
        kind: "rewritten",
        message: `${provider} names another audit log account than the one it bound on chain`,
      });
    const read = async () => {
      const [page, heads] = await Promise.all([
        readPage({ ctx, gatekeeperUrl, relationship: relationship.id, token }),
        readAnchoredHeads({
          client: ctx.client,
          anchor,
          log: getAddress(bound),
          fromBlock: ctx.network.fromBlock ?? 0n,
        }),
      ]);
      const problems = [...logProblems];
      const [previous, latest] = heads.slice(-2);
      if (previous && latest) {
        let proof: readonly string[] = [];
        try {
          proof = await fetchAuditConsistencyProof({
            gatekeeperUrl,
            token,
            from: previous.size,
            to: latest.size,
            ...fetchOption,
          });
        } catch {
          proof = [];
        }
        if (!verifyConsistency(previous.size, latest.size, previous.root, latest.root, proof))
          problems.push({
            kind: "rewritten",
            message: `the log was rewritten between its anchored heads of ${previous.size} and ${latest.size} entries (no valid consistency proof)`,
          });
      }
      const checked = checkPage({
        ctx,
        provider,
        relationship: relationship.id,
        page,
        heads,
        problems,
        ...(contacts ? { contacts } : {}),
      });
      return { checked, heads, problems };
    };
    let result = await read();
    // The page and the heads on chain are two reads: an anchor mined between them (or seen by
    // the gatekeeper's node before the one read here) makes honest entries look unproven. Such a
    // race is over a block later; a log really altered fails the second read as well.
    if (result.checked.problems.length > 0 || result.problems.length > logProblems.length) {
      await new Promise((resolve) => setTimeout(resolve, RACE_RETRY_MS));
      result = await read();
    }
    const { checked, heads, problems } = result;
    const failed = checked.entries.some((e) => e.proof === "failed");
    return {
      ...base,
      status: failed ? "failed-verification" : "verified",
      entries: checked.entries,
      problems,
      ...(checked.older ? { older: { ...checked.older, heads, gatekeeperUrl } } : {}),
    };
  } catch (error) {
    const failure = toPatientDataError(error, `Reading the access log at ${provider}`);
    return {
      ...base,
      status: failure.code === "unreachable" ? "unreachable" : "refused",
      error: { code: failure.code, message: failure.shortMessage },
    };
  }
}
