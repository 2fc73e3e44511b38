import { annotateBundle, BaseError, type FhirResource, requiredScopes } from "@medrec/protocol";
import type { RecordSet } from "../seams.ts";

/**
 * One entry of a record set, serialised once with its proof (docs/protocol.md `record-proof`);
 * `path` is the resource's `Type/id`, which names it in the entry's `fullUrl`.
 */
type PreparedEntry = { json: string; path: string; mask: number; lastUpdatedMs: number };

/** A record set ready to serve: the bundle's `meta` (root) and every entry as JSON text. */
export type PreparedRecordSet = { metaJson: string; entries: readonly PreparedEntry[] };

/** What a caller may see of a record set. */
export type BundleFilter = {
  /** Scope bits the caller holds; an entry is served only if all its required bits are held. */
  granted: number;
  /** Only entries needing this bit (`?category=`). */
  categoryBit?: number | undefined;
  /** Only entries updated at or after this instant (`?_since=`), ms since the epoch. */
  sinceMs?: number | undefined;
  /**
   * The absolute base of the entries' `fullUrl`s (`<base>/<Type>/<id>`, docs/protocol.md "Record
   * root"): the relationship's record set seen as a FHIR base, against which the resources'
   * relative references (`Patient/…`) resolve. Without it, entries carry no `fullUrl`.
   */
  fullUrlBase?: string | undefined;
};

const prepared = new WeakMap<RecordSet, PreparedRecordSet>();

/**
 * Serialises a record set once (protocol's `annotateBundle` adds the root and each proof) and
 * keeps the result for as long as the set object lives: the records service hands out the same
 * object until the set changes. The required scopes are the union of the stored mask and the
 * protocol's `requiredScopes` — if the two ever disagree, the stricter holds.
 */
export function prepareRecordSet(set: RecordSet): PreparedRecordSet {
  const hit = prepared.get(set);
  if (hit) return hit;
  const bundle = annotateBundle(
    {
      resourceType: "Bundle",
      type: "searchset",
      entry: set.resources.map((r) => ({
        // Stored resources are validated FHIR R4 (records/): the protocol type only names fewer fields.
        resource: r.resource as FhirResource,
        search: { mode: "match" },
      })),
    },
    { root: set.root, proofs: set.proofs },
  );
  const entries = bundle.entry.map((entry, i) => {
    const stored = set.resources[i] as RecordSet["resources"][number];
    return {
      json: JSON.stringify(entry),
      path: `${stored.resource.resourceType}/${stored.resource.id}`,
      mask: stored.scopeMask | requiredScopes(stored.resource),
      lastUpdatedMs: stored.lastUpdated.getTime(),
    };
  });
  const result = { metaJson: JSON.stringify(bundle.meta), entries };
  prepared.set(set, result);
  return result;
}

/** Which page of the matching entries to serve, and how the page links are written. */
export type BundlePage = {
  /** Entries per page (`_count`). */
  count: number;
  /** Index of the page's first entry among the matches (`_offset`). */
  offset: number;
  /** The URL of the page starting at `offset` (relative to the gatekeeper's base URL). */
  url: (offset: number) => string;
};

/** Thrown when a page starts past the last match. */
export class PageOffsetError extends BaseError {
  override name = "PageOffsetError";
}

/**
 * A FHIR R4 `searchset` Bundle of one page of the entries the filter lets through, joined from
 * the prepared JSON (no per-request serialisation): `total` counts every match, `link` has `self`
 * and, when more entries follow, `next`. Also the union of the served entries' scope bits.
 * Without `page`, every match in one bundle.
 *
 * @throws {PageOffsetError} when `page.offset` is past the last match (and not 0).
 */
export function serializeBundle(
  set: PreparedRecordSet,
  { granted, categoryBit, sinceMs, fullUrlBase }: BundleFilter,
  page?: BundlePage,
): { body: string; servedMask: number; total: number; next: number | undefined } {
  const matches: PreparedEntry[] = [];
  for (const entry of set.entries) {
    if ((entry.mask & ~granted) !== 0) continue;
    if (categoryBit !== undefined && (entry.mask & categoryBit) === 0) continue;
    if (sinceMs !== undefined && entry.lastUpdatedMs < sinceMs) continue;
    matches.push(entry);
  }
  const offset = page?.offset ?? 0;
  if (offset > 0 && offset >= matches.length) throw new PageOffsetError("offset past the last match");
  const end = page ? Math.min(matches.length, offset + page.count) : matches.length;
  const parts: string[] = [];
  let servedMask = 0;
  for (let i = offset; i < end; i++) {
    const entry = matches[i] as PreparedEntry;
    // `fullUrl` first, then the prepared entry after its opening brace.
    parts.push(
      fullUrlBase === undefined
        ? entry.json
        : `{"fullUrl":${JSON.stringify(`${fullUrlBase}/${entry.path}`)},${entry.json.slice(1)}`,
    );
    servedMask |= entry.mask;
  }
  const next = end < matches.length ? end : undefined;
  const links = page
    ? [
        { relation: "self", url: page.url(offset) },
        ...(next === undefined ? [] : [{ relation: "next", url: page.url(next) }]),
      ]
    : [];
  const link = links.length > 0 ? `,"link":${JSON.stringify(links)}` : "";
  // FHIR JSON has no empty arrays: an empty result has no `entry`.
  const entry = parts.length > 0 ? `,"entry":[${parts.join(",")}]` : "";
  const body = `{"resourceType":"Bundle","type":"searchset","meta":${set.metaJson},"total":${matches.length}${link}${entry}}`;
  return { body, servedMask, total: matches.length, next };
}
