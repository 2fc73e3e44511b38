import {
  type AuditEntry,
  KNOWN_SCOPES_MASK,
  maskToScopes,
  type RelationshipSummary,
  SCOPE_BITS,
  type ScopeCode,
} from "@medrec/protocol";
import type { Logger } from "pino";
import type { Address, Hex } from "viem";
import type { AuditPageOptions, GatekeeperAuditLog } from "../audit/audit.log.ts";
import { ProblemError } from "../errors.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { AuditLog, ChainView, RecordsService } from "../seams.ts";
import { PageOffsetError, prepareRecordSet, serializeBundle } from "./bundle.ts";

export type AccessServiceParameters = {
  /** `everGranted` (the live view's grant history): without it, no refusal counts as a former viewer's. */
  view: ChainView & { everGranted?(id: Hex, account: Address): boolean };
  records: RecordsService;
  /** `refusals`: strangers' refusals aggregated (adr/0014); without it, every refusal is its own entry. */
  audit: AuditLog & Pick<GatekeeperAuditLog, "page"> & Partial<Pick<GatekeeperAuditLog, "refusals">>;
  metrics?: Pick<Metrics, "accessDecisions" | "unheldDenials" | "denialsRateLimited"> | undefined;
  clock?: () => Date;
  /** Where a refusal that could not be recorded is told (never with PHI). */
  logger?: Pick<Logger, "error"> | undefined;
  /** Refused reads per caller per minute before 429 (AUDIT_DENIALS_PER_MINUTE). */
  denialsPerMinute?: number;
};

/** The one answer to every refused read, whether or not the relationship exists here. */
export const FORBIDDEN_DETAIL = "You may not read this relationship's records.";
const FORBIDDEN_AUDIT = "Only the relationship's patient may read its audit log.";
const EVERY_SCOPE = 0xffff;
const TOO_MANY_DENIALS = "Too many refused requests; try again in a minute.";
const MAX_TRACKED_CALLERS = 100_000;
/** How often the refusals answered are recorded (adr/0014). */
const REFUSALS_EVERY_MS = 250;

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
type Refusal = { relationship: Hex; actor: Address; action: string; categories: string[]; reason: string };

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
 * category the grant covers. Every allowed decision is appended to the audit log before anything
 * is served. A refusal serves nothing: it is answered at once, the same way whether or not this
 * provider holds the relationship, and recorded off the response path (adr/0014) — its own entry
 * when the caller ever held a grant on the relationship, counted into the hour's aggregate entry
 * otherwise, and only counted in metrics when the relationship is not this provider's.
 */
export function createAccessService({
  view,
  records,
  audit,
  metrics,
  clock = () => new Date(),
  denialsPerMinute = 120,
  logger,
}: AccessServiceParameters) {
  const limiter = createDenialLimiter(denialsPerMinute, clock);
  const refusals: Refusal[] = [];
  let recording: Promise<void> | undefined;

  /**
   * What a refusal costs is decided here: nothing but a metric when the relationship is not this
   * provider's; a count towards the hour's aggregate when the caller never held a grant on it; its
   * own entry otherwise.
   */
  const recordRefusal = (r: Refusal): Promise<void> | undefined => {
    if (!view.relationship(r.relationship)) {
      metrics?.unheldDenials.inc({ action: r.action });
      return undefined;
    }
    if (audit.refusals && view.everGranted && !view.everGranted(r.relationship, r.actor)) {
      audit.refusals.count(r.relationship, r.actor);
      return undefined;
    }
    return audit.append({
      relationship: r.relationship,
      actor: r.actor,
      action: r.action,
      categories: r.categories,
      decision: "denied",
      reason: r.reason,
    });
  };
  /** Records the queued refusals, off the response path. */
  const recordRefusals = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    const appends: Promise<void>[] = [];
    for (const r of refusals.splice(0)) {
      const appended = recordRefusal(r)?.catch((error: unknown) => {
        logger?.error({ err: { name: (error as Error)?.name } }, "a refusal was not recorded");
      });
      if (appended) appends.push(appended);
    }
    await Promise.all(appends);
  };
  let due: NodeJS.Timeout | undefined;
  const drainRefusals = () => {
    clearTimeout(due);
    due = undefined;
    recording ??= recordRefusals().finally(() => {
      recording = undefined;
      if (refusals.length > 0) kickRefusals();
    });
    return recording;
  };
  // On a clock, not on the request: the database work a refusal causes then falls on whatever
  // requests are in flight {@link REFUSALS_EVERY_MS} later, of either kind alike (adr/0014).
  const kickRefusals = () => {
    if (due || recording) return;
    due = setTimeout(drainRefusals, REFUSALS_EVERY_MS);
    due.unref();
  };

  /**
   * A refusal: the same work whatever the reason — the caller's limit, then one push onto the
   * queue that {@link recordRefusals} works off after the answer. A view without grant history
   * (`everGranted`: in-memory stand-ins) cannot tell strangers apart: then every refusal is
   * recorded as before, its own entry, before the answer.
   *
   * @throws {ProblemError} 429 past the caller's limit.
   */
  const refuse = async (
    relationship: Hex,
    actor: Address,
    action: string,
    categories: string[],
    reason: string,
  ): Promise<void> => {
    if (!limiter.allow(actor.toLowerCase())) {
      metrics?.denialsRateLimited.inc({ action });
      throw new ProblemError("too-many-requests", TOO_MANY_DENIALS);
    }
    metrics?.accessDecisions.inc({ decision: "denied" });
    const refusal = { relationship, actor, action, categories, reason };
    if (!view.everGranted) return recordRefusal(refusal);
    refusals.push(refusal);
    kickRefusals();
  };
  const allow = async (relationship: Hex, actor: Address, action: string, categories: string[]) => {
    await audit.append({ relationship, actor, action, categories, decision: "allowed" });
    metrics?.accessDecisions.inc({ decision: "allowed" });
  };

  const decideRecords = (id: Hex, caller: Address, category: ScopeCode | undefined): Decision => {
    // Every lookup is made whether or not the relationship is this provider's: a refusal takes
    // the same path and time either way (adr/0014).
    const held = view.relationship(id) !== undefined;
    const patientId = view.patientIdOf(id);
    const controller = view.isPatientController(id, caller);
    const granted = view.viewerScopes(id, caller, Math.floor(clock().getTime() / 1000));
    if (!held) return { allowed: false, reason: "unknown-relationship" };
    if (patientId === undefined) return { allowed: false, reason: "no-local-patient" };
    if (controller) return { allowed: true, patientId, granted: EVERY_SCOPE };
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
        await refuse(relationship, caller, "records.read", category ? [category] : [], decision.reason);
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
      await allow(relationship, caller, "records.read", categories);
      return {
        body: served.body,
        next: page && served.next !== undefined ? page.url(root, served.next) : undefined,
      };
    },

    /**
     * `GET /v1/relationships/{id}/audit`: patient only; the refusals answered so far, then the read
     * itself, are recorded first.
     *
     * @throws {ProblemError} 503 when the chain view is stale; 403 otherwise.
     */
    async auditOf(
      relationship: Hex,
      caller: Address,
      options: AuditPageOptions,
    ): Promise<{ entries: AuditEntry[]; next: string | undefined }> {
      view.assertCurrent();
      const held = view.relationship(relationship) !== undefined;
      const controller = view.isPatientController(relationship, caller);
      if (!(held && controller)) {
        await refuse(relationship, caller, "audit.read", [], "not-patient");
        throw new ProblemError("forbidden", FORBIDDEN_AUDIT);
      }
      // The refusals answered before this read are in the log it reads (their own entries).
      while (due || recording) await drainRefusals();
      await allow(relationship, caller, "audit.read", []);
      const page = await audit.page(relationship, options);
      if (!page)
        throw new ProblemError(
          "bad-request",
          `${options.order === "desc" ? "before" : "after"}: no entry of this relationship has that hash.`,
        );
      return page;
    },

    /** Resolves once the refusals answered so far are recorded (counted or appended): tests, shutdown. */
    async flushRefusals(): Promise<void> {
      while (due || recording) await drainRefusals();
      await audit.refusals?.flush();
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
