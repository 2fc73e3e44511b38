import {
  type AuditEntry,
  KNOWN_SCOPES_MASK,
  maskToScopes,
  type RelationshipSummary,
  SCOPE_BITS,
  type ScopeCode,
} from "@medrec/protocol";
import type { Address, Hex } from "viem";
import type { GatekeeperAuditLog } from "../audit/audit.log.ts";
import { ProblemError } from "../errors.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { AuditLog, ChainView, RecordsService } from "../seams.ts";
import { PageOffsetError, prepareRecordSet, serializeBundle } from "./bundle.ts";

export type AccessServiceParameters = {
  view: ChainView;
  records: RecordsService;
  audit: AuditLog & Pick<GatekeeperAuditLog, "page">;
  metrics?: Pick<Metrics, "accessDecisions" | "unheldDenials" | "denialsRateLimited"> | undefined;
  clock?: () => Date;
  /** Refused reads per caller per minute before 429 (AUDIT_DENIALS_PER_MINUTE). */
  denialsPerMinute?: number;
};

/** The one answer to every refused read, whether or not the relationship exists here. */
export const FORBIDDEN_DETAIL = "You may not read this relationship's records.";
const FORBIDDEN_AUDIT = "Only the relationship's patient may read its audit log.";
const EVERY_SCOPE = 0xffff;
const TOO_MANY_DENIALS = "Too many refused requests; try again in a minute.";
const MAX_TRACKED_CALLERS = 100_000;

/**
 * Refused requests per caller in fixed one-minute windows. Bounded: past {@link MAX_TRACKED_CALLERS}
 * callers the expired windows are dropped, and if none has expired the table starts over.
 */
export function createDenialLimiter(perMinute: number, clock: () => Date) {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    /** Counts one denial for `caller`; false when it is over the limit. */
    allow(caller: string): boolean {
      const now = clock().getTime();
      let w = windows.get(caller);
      if (!w || now - w.start >= 60_000) {
        if (windows.size >= MAX_TRACKED_CALLERS) {
          for (const [key, value] of windows) if (now - value.start >= 60_000) windows.delete(key);
          if (windows.size >= MAX_TRACKED_CALLERS) windows.clear();
        }
        w = { start: now, count: 0 };
        windows.set(caller, w);
      }
      w.count += 1;
      return w.count <= perMinute;
    },
  };
}

type Decision = { allowed: true; patientId: number; granted: number } | { allowed: false; reason: string };

export type RecordsRequest = {
  relationship: Hex;
  caller: Address;
  category?: ScopeCode | undefined;
  sinceMs?: number | undefined;
  /** Paging; without it every match in one bundle. */
  page?: RecordsPageRequest | undefined;
  /** The base of the entries' `fullUrl`s (see `BundleFilter`); without it, none. */
  fullUrlBase?: string | undefined;
};

/** Which page: `root` (of the first page) and `offset` are given on next pages only. */
export type RecordsPageRequest = {
  count: number;
  offset: number;
  root?: Hex | undefined;
  /** The URL of the page of `root` starting at `offset`. */
  url: (root: Hex, offset: number) => string;
};

/** The answer to a records page of a superseded record set. */
export const STALE_PAGE_DETAIL =
  "The records changed since the first page was served (its record root is no longer current); start again from the first page (without _root and _offset).";

/**
 * Access decisions on relationships, from the chain view only (in memory): the patient
 * (controller) reads everything; a viewer reads what its active grant fully covers, and only a
 * category the grant covers. Every decision is appended to the audit log before it is answered.
 */
export function createAccessService({
  view,
  records,
  audit,
  metrics,
  clock = () => new Date(),
  denialsPerMinute = 120,
}: AccessServiceParameters) {
  const limiter = createDenialLimiter(denialsPerMinute, clock);
  const record = async (
    relationship: Hex,
    actor: Address,
    action: string,
    categories: string[],
    decision: Decision,
  ) => {
    if (!decision.allowed) {
      // Flooding: a caller's refusals are limited, and refusals on relationships this provider
      // does not hold concern no patient here — counted, not appended.
      if (!limiter.allow(actor.toLowerCase())) {
        metrics?.denialsRateLimited.inc({ action });
        throw new ProblemError("too-many-requests", TOO_MANY_DENIALS);
      }
      if (decision.reason === "unknown-relationship") {
        metrics?.unheldDenials.inc({ action });
        metrics?.accessDecisions.inc({ decision: "denied" });
        return;
      }
    }
    await audit.append({
      relationship,
      actor,
      action,
      categories,
      decision: decision.allowed ? "allowed" : "denied",
      ...(decision.allowed ? {} : { reason: decision.reason }),
    });
    metrics?.accessDecisions.inc({ decision: decision.allowed ? "allowed" : "denied" });
  };

  const decideRecords = (id: Hex, caller: Address, category: ScopeCode | undefined): Decision => {
    if (!view.relationship(id)) return { allowed: false, reason: "unknown-relationship" };
    const patientId = view.patientIdOf(id);
    if (patientId === undefined) return { allowed: false, reason: "no-local-patient" };
    if (view.isPatientController(id, caller)) return { allowed: true, patientId, granted: EVERY_SCOPE };
    const granted = view.viewerScopes(id, caller, Math.floor(clock().getTime() / 1000));
    if (granted === 0) return { allowed: false, reason: "no-active-grant" };
    if (category !== undefined && (granted & (1 << SCOPE_BITS[category])) === 0)
      return { allowed: false, reason: "category-not-granted" };
    return { allowed: true, patientId, granted };
  };

  return {
    /** `GET /v1/relationships`: where the caller is patient or a current viewer. */
    async relationshipsOf(caller: Address): Promise<RelationshipSummary[]> {
      view.assertCurrent();
      const found = view.relationshipsOf(caller, Math.floor(clock().getTime() / 1000));
      const summaries: RelationshipSummary[] = [];
      for (const { id, role } of found) {
        const relationship = view.relationship(id);
        if (!relationship) continue;
        const patientId = view.patientIdOf(id);
        let updatedAt = 0;
        if (patientId !== undefined)
          for (const r of (await records.recordSet(patientId)).resources)
            updatedAt = Math.max(updatedAt, r.lastUpdated.getTime());
        summaries.push({
          relationship: id.toLowerCase() as Hex,
          role,
          recordRoot: relationship.recordRoot.toLowerCase() as Hex,
          // The newest record's time; the epoch for a relationship without records.
          updatedAt: new Date(updatedAt).toISOString(),
        });
      }
      return summaries;
    },

    /**
     * `GET /v1/relationships/{id}/records`: the Bundle text the caller may see.
     *
     * @throws {ProblemError} 503 when the chain view is stale; 403 ({@link FORBIDDEN_DETAIL}) when refused.
     */
    async records({
      relationship,
      caller,
      category,
      sinceMs,
      page,
      fullUrlBase,
    }: RecordsRequest): Promise<{ body: string; next: string | undefined }> {
      view.assertCurrent();
      const decision = decideRecords(relationship, caller, category);
      const categoryBit = category === undefined ? undefined : 1 << SCOPE_BITS[category];
      if (!decision.allowed) {
        await record(relationship, caller, "records.read", category ? [category] : [], decision);
        throw new ProblemError("forbidden", FORBIDDEN_DETAIL);
      }
      const current = await records.recordSet(decision.patientId);
      // A sequence of pages never mixes two record sets: next pages name the first page's root.
      if (page?.root !== undefined && page.root !== current.root.toLowerCase())
        throw new ProblemError("conflict", STALE_PAGE_DETAIL);
      const set = prepareRecordSet(current);
      const root = current.root.toLowerCase() as Hex;
      let served: ReturnType<typeof serializeBundle>;
      try {
        served = serializeBundle(
          set,
          { granted: decision.granted, categoryBit, sinceMs, fullUrlBase },
          page && { count: page.count, offset: page.offset, url: (offset) => page.url(root, offset) },
        );
      } catch (error) {
        if (!(error instanceof PageOffsetError)) throw error;
        throw new ProblemError(
          "bad-request",
          "_offset: past the last entry of this search; start again from the first page.",
        );
      }
      const categories = maskToScopes((served.servedMask | (categoryBit ?? 0)) & KNOWN_SCOPES_MASK);
      await record(relationship, caller, "records.read", categories, decision);
      return {
        body: served.body,
        next: page && served.next !== undefined ? page.url(root, served.next) : undefined,
      };
    },

    /**
     * `GET /v1/relationships/{id}/audit`: patient only; the read itself is recorded first.
     *
     * @throws {ProblemError} 503 when the chain view is stale; 403 otherwise.
     */
    async auditOf(
      relationship: Hex,
      caller: Address,
      { after, limit }: { after?: string | undefined; limit: number },
    ): Promise<{ entries: AuditEntry[]; next: string | undefined }> {
      view.assertCurrent();
      const decision: Decision = !view.relationship(relationship)
        ? { allowed: false, reason: "unknown-relationship" }
        : view.isPatientController(relationship, caller)
          ? { allowed: true, patientId: view.patientIdOf(relationship) ?? -1, granted: 0 }
          : { allowed: false, reason: "not-patient" };
      await record(relationship, caller, "audit.read", [], decision);
      if (!decision.allowed) throw new ProblemError("forbidden", FORBIDDEN_AUDIT);
      const page = await audit.page(relationship, { after, limit });
      if (!page) throw new ProblemError("bad-request", "after: no entry of this relationship has that hash.");
      return page;
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
