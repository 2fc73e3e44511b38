/**
 * Reading a relationship's records from a gatekeeper: every page of the searchset (`_count`,
 * `link` `next`), each entry verified against the record root read from the chain — not the one
 * the gatekeeper declares — and a report of what failed. One implementation for the tests, the
 * black-box check and the dapp.
 */
import { apiPaths, RECORDS_PAGE_MAX } from "./api.ts";
import { GatekeeperRequestError, gatekeeperRequest, nextLink } from "./client.ts";
import type { FhirResource } from "./fhir.ts";
import { createProofChecker, type Hash, verifyBundleAsync } from "./record-root.ts";
import type { ScopeCode } from "./scopes.ts";

/** Why one entry (or one page) did not verify. */
export type RecordsFailureReason =
  /** The page's `Bundle.meta` root differs from the on-chain root (or is missing). */
  | "root-mismatch"
  /** A later page declares another root than the first page: two record sets were mixed. */
  | "root-changed"
  | "missing-resource"
  | "missing-proof"
  | "malformed-proof"
  /** The proof does not link the resource to the on-chain root. */
  | "invalid-proof"
  /** The pages together hold another number of entries than `total` says. */
  | "total-mismatch";

export type RecordsFailure = {
  reason: RecordsFailureReason;
  /** 0-based page number. */
  page: number;
  /** Index in the page's `Bundle.entry` (absent for page-level failures). */
  entry?: number;
  /** `Type/id` of the entry's resource, when it has one. */
  resource?: string;
};

export type FetchVerifiedRecordsParameters = {
  gatekeeperUrl: string;
  relationship: string;
  token: string;
  /** The root on chain (`Relationship.relationshipOf(id).recordRoot`), or how to read it. */
  onChainRoot: Hash | (() => Promise<Hash>);
  category?: ScopeCode;
  /** `_since`: ISO 8601 date or date-time. */
  since?: string;
  /** Entries of the first page. Default {@link RECORDS_PAGE_MAX}. */
  count?: number;
  /**
   * Entries of each later page (the `next` link's `_count` replaced): a small first page for a quick
   * first screen, then fewer, larger pages. Default `count`.
   */
  laterCount?: number;
  /**
   * Later pages in flight at once (the `next` link's `_offset` stepped by `laterCount`; the link's
   * `_root` pins every page to the first page's set). They are still verified and delivered in
   * order. Default 2; 1 follows each page's `next` link in turn.
   */
  ahead?: number;
  /** Stop after this many pages (a gatekeeper that never ends its list cannot hang the caller). Default 1000. */
  maxPages?: number;
  /**
   * Times to start again when the records change while paging (409 from the gatekeeper); the
   * on-chain root is read again each time when `onChainRoot` is a function. Default 2.
   */
  restarts?: number;
  fetch?: typeof globalThis.fetch;
  /**
   * Called with each page as soon as it is read and verified, before the next is fetched (a first
   * screen from the first page). After a restart (409) pages come again from page 0 with a higher
   * `attempt`: drop what the earlier attempt delivered.
   */
  onPage?: (page: VerifiedPage) => void | Promise<void>;
};

/** One page as {@link FetchVerifiedRecordsParameters.onPage} receives it. */
export type VerifiedPage = {
  /** 0-based page number. */
  page: number;
  /** Restarts so far (0 for the first read). */
  attempt: number;
  /** `total` of the first page of this attempt. */
  total: number;
  /** The page's entries: `verified` only when the page declares the on-chain root and the entry's proof verifies. */
  entries: { resource: FhirResource; verified: boolean; failure?: RecordsFailureReason }[];
  /** What failed on this page (also in the final {@link VerifiedRecords.failures}). */
  failures: RecordsFailure[];
};

export type VerifiedRecords = {
  /** True when every page declares the on-chain root and every entry's proof verifies. */
  valid: boolean;
  /** The root the verification used (from the chain). */
  onChainRoot: Hash;
  /** The root the first page declared. */
  servedRoot: Hash | undefined;
  /** `total` of the first page: every match of the search. */
  total: number;
  /** Every entry's resource in the order served, verified or not (`failures` names those that did not). */
  resources: FhirResource[];
  /** `leaves[i]`: the leaf of `resources[i]` (computed once, for verification). */
  leaves: (Hash | undefined)[];
  failures: RecordsFailure[];
  pages: number;
  /** Bytes of the response bodies. */
  bytes: number;
  /** Times the read started again because the records changed meanwhile. */
  restarted: number;
};

type Page = {
  resourceType?: unknown;
  total?: unknown;
  entry?: { resource?: FhirResource }[];
};

const describe = (r: FhirResource | undefined) =>
  r && typeof r.resourceType === "string" && typeof r.id === "string"
    ? `${r.resourceType}/${r.id}`
    : undefined;

/**
 * Fetches every page of `GET /v1/relationships/{relationship}/records` and verifies each entry
 * against the on-chain root with {@link verifyBundleAsync}. Refusals (403, 503, …) throw
 * {@link GatekeeperRequestError}; what does not verify is reported in `failures`, never thrown.
 *
 * @example
 * const read = await fetchVerifiedRecords({ gatekeeperUrl, relationship, token,
 *   onChainRoot: async () => (await relationship.read.relationshipOf([id])).recordRoot })
 * if (!read.valid) console.error(read.failures)
 */
export async function fetchVerifiedRecords(
  parameters: FetchVerifiedRecordsParameters,
): Promise<VerifiedRecords> {
  const { restarts = 2 } = parameters;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await readOnce(parameters, attempt);
      return { ...result, restarted: attempt };
    } catch (error) {
      if (error instanceof GatekeeperRequestError && error.status === 409 && attempt < restarts) continue;
      throw error;
    }
  }
}

async function readOnce(
  {
    gatekeeperUrl,
    relationship,
    token,
    onChainRoot,
    category,
    since,
    count = RECORDS_PAGE_MAX,
    laterCount = count,
    ahead = 2,
    maxPages = 1000,
    fetch = globalThis.fetch,
    onPage,
  }: FetchVerifiedRecordsParameters,
  attempt = 0,
): Promise<Omit<VerifiedRecords, "restarted">> {
  const root = (typeof onChainRoot === "function" ? await onChainRoot() : onChainRoot).toLowerCase() as Hash;
  // One checker for every page: later pages reuse the nodes earlier ones proved.
  const checker = createProofChecker(root);
  let bytes = 0;
  // Counts the bytes of each body as it is read.
  const counting: typeof globalThis.fetch = async (input, init) => {
    const response = await fetch(input, init);
    const body = await response.arrayBuffer();
    bytes += body.byteLength;
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
  const get = (path: string) => gatekeeperRequest<Page>(gatekeeperUrl, path, { token, fetch: counting });
  const params = new URLSearchParams();
  if (category !== undefined) params.set("category", category);
  if (since !== undefined) params.set("_since", since);
  params.set("_count", String(count));
  const resources: FhirResource[] = [];
  const leaves: (Hash | undefined)[] = [];
  const failures: RecordsFailure[] = [];
  let servedRoot: Hash | undefined;
  let total = 0;

  /** Verifies one page, keeps what it holds and hands it to `onPage`. */
  const take = async (body: Page | undefined, page: number) => {
    const verdict = await verifyBundleAsync(body, checker);
    const declared = verdict.declaredRoot;
    const before = failures.length;
    if (page === 0) {
      servedRoot = declared;
      total = typeof body?.total === "number" ? body.total : 0;
    } else if (declared !== servedRoot) {
      failures.push({ reason: "root-changed", page });
    }
    if (!verdict.rootMatches) failures.push({ reason: "root-mismatch", page });
    const pageTrusted = failures.length === before;
    const entries = Array.isArray(body?.entry) ? body.entry : [];
    const delivered: VerifiedPage["entries"] = [];
    for (const entry of verdict.entries) {
      const resource = entries[entry.index]?.resource;
      if (resource !== undefined) {
        resources.push(resource);
        leaves.push(entry.leaf);
      }
      if (entry.valid) {
        const pageFailure = failures[before]?.reason;
        if (resource !== undefined)
          delivered.push({
            resource,
            verified: pageTrusted,
            ...(pageFailure ? { failure: pageFailure } : {}),
          });
        continue;
      }
      const reason: RecordsFailureReason = entry.problem ?? "invalid-proof";
      const name = describe(resource);
      failures.push({ reason, page, entry: entry.index, ...(name ? { resource: name } : {}) });
      if (resource !== undefined) delivered.push({ resource, verified: false, failure: reason });
    }
    await onPage?.({ page, attempt, total, entries: delivered, failures: failures.slice(before) });
  };

  const first = await get(`${apiPaths.records(relationship)}?${params.toString()}`);
  await take(first.body, 0);
  let page = 1;
  let next = nextLink(first.headers, gatekeeperUrl);
  const later = next ? laterPages(next, total, laterCount, maxPages - 1) : undefined;
  if (later && ahead > 1) {
    // Every later page is known from the first `next` link: fetch `ahead` at a time, verify in order.
    const inFlight: ReturnType<typeof get>[] = [];
    const request = (path: string) => {
      const reply = get(path);
      // Handled when its turn comes; a failure meanwhile (a 409, say) must not be "unhandled".
      reply.catch(() => undefined);
      inFlight.push(reply);
    };
    for (const path of later.slice(0, ahead)) request(path);
    for (let k = 0; k < later.length; k++, page++) {
      const reply = await inFlight[k];
      // This page is in hand: the next one goes out, so `ahead` are in flight while it is verified.
      const queued = later[k + ahead];
      if (queued !== undefined) request(queued);
      await take(reply?.body, page);
    }
  } else {
    if (later) next = later[0];
    for (; next !== undefined; page++) {
      if (page >= maxPages)
        throw new GatekeeperRequestError(0, undefined, `records longer than ${maxPages} pages`);
      const { body, headers } = await get(next);
      await take(body, page);
      next = nextLink(headers, gatekeeperUrl);
      if (next && laterCount !== count) next = withParams(next, { _count: laterCount });
    }
  }
  if (resources.length !== total) failures.push({ reason: "total-mismatch", page: page - 1 });
  return {
    valid: failures.length === 0,
    onChainRoot: root,
    servedRoot,
    total,
    resources,
    leaves,
    failures,
    pages: page,
    bytes,
  };
}

/** A gatekeeper path (a `next` link) with some query parameters set, the rest as given. */
function withParams(path: string, params: Readonly<Record<string, number>>): string {
  const url = new URL(path, "http://gatekeeper.invalid");
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  return `${url.pathname}${url.search}`;
}

/**
 * The paths of every page after the first, from the first page's `next` link: its `_offset`
 * stepped by `count` up to `total`, everything else as the link gives it (the filters and the
 * `_root` that pins the set). Undefined when the link has no `_offset` (then links are followed).
 *
 * @throws {GatekeeperRequestError} when `total` means more than `maxPages` pages.
 */
function laterPages(next: string, total: number, count: number, maxPages: number): string[] | undefined {
  const offset = Number(new URL(next, "http://gatekeeper.invalid").searchParams.get("_offset") ?? Number.NaN);
  if (!Number.isSafeInteger(offset) || offset < 1 || !Number.isSafeInteger(total)) return undefined;
  if (Math.ceil((total - offset) / count) > maxPages)
    throw new GatekeeperRequestError(0, undefined, `records longer than ${maxPages + 1} pages`);
  const paths: string[] = [];
  for (let at = offset; at < total; at += count) paths.push(withParams(next, { _count: count, _offset: at }));
  return paths;
}
