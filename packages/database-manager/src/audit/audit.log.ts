import type { AuditEntry } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import { ProblemError } from "../errors.ts";
import type { AuditEvent, AuditLog } from "../seams.ts";
import { type PendingEntry, toAuditEntry, toPendingEntry } from "./audit.entry.ts";
import { type AuditRepository, auditRepository } from "./audit.repository.knex.ts";

/** The gatekeeper's audit log: {@link AuditLog} plus what the audit API and shutdown need. */
export type GatekeeperAuditLog = AuditLog & {
  /** A relationship's entries in chain order, as `GET /v1/relationships/{id}/audit` serves them. */
  entries(relationship: string): Promise<AuditEntry[]>;
  /** Resolves once every append accepted so far is committed (or failed). */
  flush(): Promise<void>;
};

export type CreateAuditLogParameters = {
  /** Most entries written by one transaction. */
  maxBatch?: number;
  /** Time source of `at` (tests). */
  clock?: () => Date;
  logger?: Logger;
};

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
  { maxBatch = 500, clock = () => new Date(), logger }: CreateAuditLogParameters = {},
): GatekeeperAuditLog {
  const repository: AuditRepository = auditRepository(db);
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

  return {
    append(event: AuditEvent) {
      let entry: PendingEntry;
      try {
        entry = toPendingEntry(event, clock());
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ entry, resolve, reject });
        kick();
      });
    },
    async entries(relationship) {
      return (await repository.relationshipRows(relationship)).map(toAuditEntry);
    },
    async flush() {
      while (draining) await draining;
    },
  };
}
