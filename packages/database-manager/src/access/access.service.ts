import {
  type AuditEntry,
  KNOWN_SCOPES_MASK,
  maskToScopes,
  type RelationshipSummary,
  SCOPE_BITS,
  type ScopeCode,
} from "@medrec/protocol";
import type { Address, Hex } from "viem";
import { ProblemError } from "../errors.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { AuditLog, ChainView, RecordsService } from "../seams.ts";
import { prepareRecordSet, serializeBundle } from "./bundle.ts";

export type AccessServiceParameters = {
  view: ChainView;
  records: RecordsService;
  audit: AuditLog & { entries(relationship: string): Promise<AuditEntry[]> };
  metrics?: Pick<Metrics, "accessDecisions"> | undefined;
  clock?: () => Date;
};

/** The one answer to every refused read, whether or not the relationship exists here. */
export const FORBIDDEN_DETAIL = "You may not read this relationship's records.";
const FORBIDDEN_AUDIT = "Only the relationship's patient may read its audit log.";
const EVERY_SCOPE = 0xffff;

type Decision = { allowed: true; patientId: number; granted: number } | { allowed: false; reason: string };

export type RecordsRequest = {
  relationship: Hex;
  caller: Address;
  category?: ScopeCode | undefined;
  sinceMs?: number | undefined;
};

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
}: AccessServiceParameters) {
  const record = async (
    relationship: Hex,
    actor: Address,
    action: string,
    categories: string[],
    decision: Decision,
  ) => {
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
    async records({ relationship, caller, category, sinceMs }: RecordsRequest): Promise<string> {
      view.assertCurrent();
      const decision = decideRecords(relationship, caller, category);
      const categoryBit = category === undefined ? undefined : 1 << SCOPE_BITS[category];
      if (!decision.allowed) {
        await record(relationship, caller, "records.read", category ? [category] : [], decision);
        throw new ProblemError("forbidden", FORBIDDEN_DETAIL);
      }
      const set = prepareRecordSet(await records.recordSet(decision.patientId));
      const { body, servedMask } = serializeBundle(set, { granted: decision.granted, categoryBit, sinceMs });
      const categories = maskToScopes((servedMask | (categoryBit ?? 0)) & KNOWN_SCOPES_MASK);
      await record(relationship, caller, "records.read", categories, decision);
      return body;
    },

    /**
     * `GET /v1/relationships/{id}/audit`: patient only; the read itself is recorded first.
     *
     * @throws {ProblemError} 503 when the chain view is stale; 403 otherwise.
     */
    async auditOf(relationship: Hex, caller: Address): Promise<AuditEntry[]> {
      view.assertCurrent();
      const decision: Decision = !view.relationship(relationship)
        ? { allowed: false, reason: "unknown-relationship" }
        : view.isPatientController(relationship, caller)
          ? { allowed: true, patientId: view.patientIdOf(relationship) ?? -1, granted: 0 }
          : { allowed: false, reason: "not-patient" };
      await record(relationship, caller, "audit.read", [], decision);
      if (!decision.allowed) throw new ProblemError("forbidden", FORBIDDEN_AUDIT);
      return audit.entries(relationship);
    },
  };
}

export type AccessService = ReturnType<typeof createAccessService>;
