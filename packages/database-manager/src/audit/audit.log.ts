import { type AuditEntry, type AuditHeadResponse, proofToHex } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import { ProblemError } from "../errors.ts";
import type { AuditEvent, AuditLog } from "../seams.ts";
import { type PendingEntry, toAuditEntry, toPendingEntry } from "./audit.entry.ts";
import { createRefusalAggregator, type RefusalAggregator } from "./audit.refusals.ts";
import { type AuditRepository, auditRepository } from "./audit.repository.knex.ts";
import {
  type AnchorSettings,
  type AuditAnchorer,
  createAuditAnchorer,
  createAuditTree,
  inclusionOf,
} from "./audit.transparency.ts";

/** The gatekeeper's audit log: {@link AuditLog} plus what the audit API and shutdown need. */
export type GatekeeperAuditLog = AuditLog & {
  /** A relationship's entries in chain order, as `GET /v1/relationships/{id}/audit` serves them. */
  entries(relationship: string): Promise<AuditEntry[]>;
  /**
   * One page of a relationship's entries — in chain order after the entry whose hash is `after`,
   * or newest first (`order: "desc"`) before the one whose hash is `before` — each with its log
   * position and, when inside the latest anchored head, its inclusion proof (for this page's
   * entries only). `next` is the hash to continue from, when there may be more. `undefined`: no
   * such `after` / `before`.
   */
  page(relationship: string, options: AuditPageOptions): Promise<AuditPage | undefined>;
  /** Appends an aggregate of refusals (adr/0014), resolving once committed. */
  appendAggregate(aggregate: RefusalAggregate): Promise<void>;
  /** Refusals by parties that never held a grant: counted, then one entry per relationship and hour. */
  refusals: RefusalAggregator;
  /** The anchor contract and log account, the latest anchored head and the log's size. */
  head(): Promise<AuditHeadResponse>;
  /** RFC 9162 PROOF(from, to); `undefined` when the sizes are not 1 ≤ from ≤ to ≤ size. */
  consistency(from: number, to: number): Promise<string[] | undefined>;
  /** Anchoring, and its health check. */
  anchorer: AuditAnchorer;
  /** Resolves once every append accepted so far is committed (or failed). */
  flush(): Promise<void>;
  /** Stops anchoring (after the attempt in flight). */
  stop(): Promise<void>;
};

export type CreateAuditLogParameters = {
  /** Most entries written by one transaction. */
  maxBatch?: number;
  /** Time source of `at` (tests). */
  clock?: () => Date;
  logger?: Logger;
  /** Where to anchor the tree heads; none: no anchoring. */
  anchoring?: AnchorSettings | undefined;
  /** How often new entries are anchored. */
  anchorIntervalMs?: number;
  /** How often closed hours of refusals are looked for (adr/0014). */
  refusalSweepMs?: number;
};

export type AuditPageOptions = {
  after?: string | undefined;
  before?: string | undefined;
  order?: "asc" | "desc" | undefined;
  limit: number;
};
export type AuditPage = { entries: AuditEntry[]; next: string | undefined };

/** One closed hour of refusals by parties that never held a grant on `relationship`. */
export type RefusalAggregate = { relationship: Hex; count: number; actors: number };

/** The action, reason and actor of an aggregate entry: the gatekeeper records it, no account acts. */
export const AGGREGATE_ACTION = "refusals.aggregate";
export const AGGREGATE_REASON = "never-granted";

type Pending = { entry: PendingEntry; resolve: () => void; reject: (error: unknown) => void };

/**
 * The append-only, hash-chained audit log on `audit_log`, with group commit: appends that arrive
 * while a write is in flight are queued and written together by the next transaction (one lock,
 * one multi-row INSERT). `append` resolves only after the transaction holding its entry has
 * committed, so "every decision is recorded before the response" holds; it rejects with a 503
 * problem when the entry could not be recorded, and the caller then serves nothing.
 *
 * @example
 * const audit = createAuditLog(db)
 * await audit.append({ relationship, actor, action: "records.read", categories: ["labs"], decision: "allowed" })
 */
export function createAuditLog(
  db: Knex,
  {
    maxBatch = 500,
    clock = () => new Date(),
    logger,
    anchoring,
    anchorIntervalMs,
    refusalSweepMs,
  }: CreateAuditLogParameters = {},
): GatekeeperAuditLog {
  const repository: AuditRepository = auditRepository(db);
  const tree = createAuditTree(repository);
  // Built now, not at the first audit read: on a large log that takes seconds (bench:audit-log).
  tree.sync().catch((error: unknown) => {
    logger?.warn({ err: { name: (error as Error)?.name } }, "audit tree not built yet; built at first use");
  });
  const anchorer = createAuditAnchorer({
    db,
    tree,
    settings: anchoring,
    logger,
    ...(anchorIntervalMs === undefined ? {} : { intervalMs: anchorIntervalMs }),
  });
  const queue: Pending[] = [];
  let draining: Promise<void> | undefined;

  const drain = async () => {
    // Let the requests of this event-loop turn join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      try {
        await repository.appendBatch(batch.map((p) => p.entry));
        for (const p of batch) p.resolve();
      } catch (cause) {
        logger?.error(
          { err: { name: (cause as Error)?.name, code: (cause as { code?: string })?.code } },
          "audit append failed",
        );
        const error = new ProblemError(
          "unavailable",
          "The access decision could not be recorded, so nothing was served. Try again later.",
          { cause },
        );
        for (const p of batch) p.reject(error);
      }
    }
  };
  const kick = () => {
    draining ??= drain().finally(() => {
      draining = undefined;
      // An append that slipped in after the loop's last check starts the next drain.
      if (queue.length > 0) kick();
    });
  };

  const enqueue = (entry: PendingEntry) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ entry, resolve, reject });
      kick();
    });

  const appendAggregate = ({ relationship, count, actors }: RefusalAggregate) => {
    let entry: PendingEntry;
    try {
      entry = {
        ...toPendingEntry(
          {
            relationship,
            actor: "operator",
            action: AGGREGATE_ACTION,
            categories: [],
            decision: "denied",
            reason: AGGREGATE_REASON,
            count,
          },
          clock(),
        ),
        actors,
      };
    } catch (error) {
      return Promise.reject(error);
    }
    return enqueue(entry);
  };
  const refusals = createRefusalAggregator({
    db,
    append: appendAggregate,
    clock,
    logger,
    ...(refusalSweepMs === undefined ? {} : { sweepMs: refusalSweepMs }),
  });

  return {
    append(event: AuditEvent) {
      let entry: PendingEntry;
      try {
        entry = toPendingEntry(event, clock());
      } catch (error) {
        return Promise.reject(error);
      }
      return enqueue(entry);
    },
    appendAggregate,
    refusals,
    async entries(relationship) {
      return (await repository.relationshipRows(relationship)).map(toAuditEntry);
    },
    async page(relationship, { after, before, order = "asc", limit }) {
      // One more than asked for tells whether there is a next page.
      const rows =
        order === "desc"
          ? await repository.relationshipPageNewestFirst(relationship, before, limit + 1)
          : await repository.relationshipPage(relationship, after, limit + 1);
      if (!rows) return undefined;
      const [current, anchored] = await Promise.all([tree.sync(), anchorer.latest()]);
      const entries = rows.slice(0, limit).map((row) => {
        const entry = toAuditEntry(row);
        const inclusion = inclusionOf(current, anchored.size, entry.leafIndex as number);
        return inclusion ? { ...entry, inclusion } : entry;
      });
      return { entries, next: rows.length > limit ? entries.at(-1)?.hash : undefined };
    },
    async head() {
      const [current, anchored] = await Promise.all([tree.sync(), anchorer.latest()]);
      return {
        ...anchorer.info,
        anchored: { size: anchored.size, root: anchored.root },
        size: current.size,
      };
    },
    async consistency(from, to) {
      const current = await tree.sync();
      if (
        !(
          Number.isSafeInteger(from) &&
          Number.isSafeInteger(to) &&
          from >= 1 &&
          from <= to &&
          to <= current.size
        )
      )
        return undefined;
      return proofToHex(current.consistencyProof(from, to));
    },
    anchorer,
    async flush() {
      while (draining) await draining;
    },
    async stop() {
      refusals.stop();
      await anchorer.stop();
    },
  };
}
