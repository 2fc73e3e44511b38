/**
 * The patient's records from every provider at once: sign in to each gatekeeper in parallel,
 * read every page with {@link fetchVerifiedRecords} — each entry verified against the root read
 * from the chain — and keep per provider a status. Entries that fail verification are kept apart
 * (`unverified`), never in the trusted list or the timeline. Pages are delivered as they come, so
 * that a long history shows its first screen after the first page.
 */
import type { FhirResource } from "../fhir.ts";
import { fetchVerifiedRecords, type RecordsFailure, type RecordsFailureReason } from "../records-client.ts";
import type { ScopeCode } from "../scopes.ts";
import { type PatientErrorCode, toPatientDataError } from "./errors.ts";
import { type PatientContext, readRecordRoot } from "./network.ts";
import { discoverRelationships, type PatientRelationship, relationshipLabel } from "./relationships.ts";
import { createPatientSessions, type PatientSessions } from "./sessions.ts";
import { createLookup, lookupIn, type TimelineItem, toTimelineItem } from "./timeline.ts";

/**
 * `loading`: pages still coming. `verified`: every entry verified against the chain.
 * `failed-verification`: some entries (or pages) did not verify — they are in `unverified`.
 * `unreachable`: the gatekeeper or the chain did not answer — retry later. `refused`: the gatekeeper
 * said no (401/403). `unavailable`: the provider could not be told from the sealed details.
 * `not-verifiable`: the provider's own RPC node gave a root whose proof does not check, or a header
 * the other providers' nodes do not agree on (adr/0012): nothing of it is shown as verified.
 */
export type ProviderRecordsStatus =
  | "loading"
  | "verified"
  | "failed-verification"
  | "unreachable"
  | "refused"
  | "unavailable"
  | "not-verifiable";

/** An entry that did not verify: shown apart, marked, never mixed with trusted records. */
export type UnverifiedRecord = { resource: FhirResource; reason: RecordsFailureReason };

export type ProviderRecords = {
  relationship: PatientRelationship;
  /** The provider's name (or a label of the relationship). */
  provider: string;
  status: ProviderRecordsStatus;
  /** Verified resources only. */
  resources: FhirResource[];
  /** What failed verification (with the reason). */
  unverified: UnverifiedRecord[];
  /** Page-level and entry-level failures as {@link fetchVerifiedRecords} reports them. */
  failures: RecordsFailure[];
  /** `total` the gatekeeper announced. */
  total: number;
  /** The root every entry was verified against (from the chain). */
  onChainRoot?: string;
  /** Why it is `unreachable` / `refused` / `unavailable`, as a code and a sentence. */
  error?: { code: PatientErrorCode; message: string };
  /** `unreachable`: trying again may work. */
  retryable: boolean;
};

/** What a {@link loadPatientRecords} listener hears. */
export type RecordsEvent =
  /** A page of one provider: `items` are its verified entries as timeline lines; `unverified` apart. */
  | {
      type: "page";
      provider: string;
      relationship: string;
      items: TimelineItem[];
      unverified: UnverifiedRecord[];
      page: number;
      total: number;
    }
  /** The provider's read started again from its first page (its records changed): drop its earlier items. */
  | { type: "restart"; provider: string; relationship: string }
  /** The provider is done (any final status). */
  | { type: "status"; provider: string; relationship: string; records: ProviderRecords };

export type LoadPatientRecordsParameters = {
  ctx: PatientContext;
  /** Default: {@link discoverRelationships}. */
  relationships?: readonly PatientRelationship[];
  sessions?: PatientSessions;
  /** One category only (`?category=`). */
  category?: ScopeCode;
  /** Entries of the first page. Default 500: the first screen after one page. */
  pageSize?: number;
  /** Entries of each later page (fetched two ahead). Default `pageSize`. */
  laterPageSize?: number;
  onEvent?: (event: RecordsEvent) => void;
};

export type PatientRecords = {
  providers: ProviderRecords[];
  sessions: PatientSessions;
};

/**
 * Reads every provider's records in parallel; resolves when all are done (any status). Follow
 * `onEvent` for the first page of each provider as soon as it is verified.
 *
 * @example
 * const { providers } = await loadPatientRecords({ ctx, onEvent: (e) => e.type === "page" && show(e.items) })
 * providers.filter((p) => p.status === "unreachable") // offer "retry"
 */
export async function loadPatientRecords({
  ctx,
  relationships,
  sessions = createPatientSessions(ctx),
  category,
  pageSize = 500,
  laterPageSize,
  onEvent,
}: LoadPatientRecordsParameters): Promise<PatientRecords> {
  const list = relationships ?? (await discoverRelationships(ctx));
  const providers = await Promise.all(
    list.map((relationship) =>
      loadProviderRecords({
        ctx,
        relationship,
        sessions,
        pageSize,
        ...(laterPageSize ? { laterPageSize } : {}),
        ...(onEvent ? { onEvent } : {}),
        ...(category ? { category } : {}),
      }),
    ),
  );
  return { providers, sessions };
}

/** One provider's records (what {@link loadPatientRecords} does for each); never throws. */
export async function loadProviderRecords({
  ctx,
  relationship,
  sessions = createPatientSessions(ctx),
  category,
  pageSize = 500,
  laterPageSize = pageSize,
  onEvent,
}: {
  ctx: PatientContext;
  relationship: PatientRelationship;
  sessions?: PatientSessions;
  category?: ScopeCode;
  pageSize?: number;
  laterPageSize?: number;
  onEvent?: (event: RecordsEvent) => void;
}): Promise<ProviderRecords> {
  const provider = relationshipLabel(relationship);
  const result: ProviderRecords = {
    relationship,
    provider,
    status: "loading",
    resources: [],
    unverified: [],
    failures: [],
    total: 0,
    retryable: false,
  };
  const done = (records: ProviderRecords) => {
    onEvent?.({ type: "status", provider, relationship: relationship.id, records });
    return records;
  };
  const gatekeeperUrl = relationship.provider?.gatekeeperUrl;
  if (!gatekeeperUrl) {
    result.status = "unavailable";
    result.error = {
      code: "details-unreadable",
      message: `The provider of ${provider} could not be identified (${relationship.status}).`,
    };
    return done(result);
  }
  let attempt = 0;
  // Medications referenced by id are named from what has arrived so far.
  let known = createLookup();
  try {
    const token = await sessions.token(gatekeeperUrl);
    const read = await fetchVerifiedRecords({
      gatekeeperUrl,
      relationship: relationship.id,
      token,
      count: pageSize,
      laterCount: laterPageSize,
      // Through the provider's own node: a node that lies about its own relationships is named.
      onChainRoot: () =>
        readRecordRoot(ctx.client, ctx.network, relationship.id, { via: relationship.provider?.name }),
      ...(category ? { category } : {}),
      ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
      onPage: (page) => {
        if (page.attempt !== attempt) {
          attempt = page.attempt;
          result.resources = [];
          result.unverified = [];
          known = createLookup();
          onEvent?.({ type: "restart", provider, relationship: relationship.id });
        }
        result.total = page.total;
        const items: TimelineItem[] = [];
        const unverified: UnverifiedRecord[] = [];
        known.add(page.entries.filter((e) => e.verified).map((e) => e.resource));
        for (const entry of page.entries) {
          if (entry.verified) {
            result.resources.push(entry.resource);
            items.push(
              toTimelineItem(entry.resource, { provider, relationship: relationship.id }, known.lookup),
            );
          } else unverified.push({ resource: entry.resource, reason: entry.failure ?? "invalid-proof" });
        }
        result.unverified.push(...unverified);
        onEvent?.({
          type: "page",
          provider,
          relationship: relationship.id,
          items,
          unverified,
          page: page.page,
          total: page.total,
        });
      },
    });
    result.failures = read.failures;
    result.onChainRoot = read.onChainRoot;
    result.status = read.valid ? "verified" : "failed-verification";
  } catch (error) {
    const failure = toPatientDataError(error, `Reading records at ${provider}`);
    result.status =
      failure.code === "unreachable"
        ? "unreachable"
        : failure.code === "node-not-verifiable"
          ? "not-verifiable"
          : "refused";
    if (failure.code === "node-not-verifiable") {
      result.resources = [];
      result.unverified = [];
    }
    result.retryable = failure.code === "unreachable";
    result.error = { code: failure.code, message: failure.shortMessage };
    if (failure.code === "refused") sessions.forget(gatekeeperUrl);
  }
  return done(result);
}

/** The verified records of every provider as timeline lines (unsorted: see `buildTimeline`). */
export function verifiedTimelineItems(records: Pick<PatientRecords, "providers">): TimelineItem[] {
  return records.providers.flatMap((p) => {
    const lookup = lookupIn(p.resources);
    return p.resources.map((resource) =>
      toTimelineItem(resource, { provider: p.provider, relationship: p.relationship.id }, lookup),
    );
  });
}

/**
 * {@link loadPatientRecords} as an async iterator of its events (pages as they verify, each
 * provider's final status); the iterator's return value is the whole result.
 *
 * @example
 * for await (const event of streamPatientRecords({ ctx, relationships })) if (event.type === "page") show(event.items)
 */
export async function* streamPatientRecords(
  parameters: Omit<LoadPatientRecordsParameters, "onEvent">,
): AsyncGenerator<RecordsEvent, PatientRecords> {
  const queue: RecordsEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  const done = loadPatientRecords({
    ...parameters,
    onEvent: (event) => {
      queue.push(event);
      signal();
    },
  }).finally(() => {
    finished = true;
    signal();
  });
  for (;;) {
    const next = queue.shift();
    if (next) {
      yield next;
      continue;
    }
    if (finished) return await done;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
}
