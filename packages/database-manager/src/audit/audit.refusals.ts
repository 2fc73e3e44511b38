import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import type { RefusalAggregate } from "./audit.log.ts";

const HOUR_MS = 3_600_000;
/** Takes the closing of past hours: one process appends an hour's aggregate. */
const CLOSE_LOCK = 0x6d65_6472_6563_0011n;

/** The start of the hour `at` falls in. */
export const hourOf = (at: Date): Date => new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);

/** The open hour's refusals on one relationship, not yet in the log (adr/0014). */
export type OpenRefusals = { since: string; count: number; actors: number };

/**
 * Refusals by parties that never held a grant on the relationship (adr/0014): counted per
 * relationship, hour and actor in `audit_refusals_open`, and, once the hour has closed, replaced by
 * ONE `refusals.aggregate` entry of the relationship's log (its `count` and distinct `actors`). So
 * strangers add at most one entry per relationship per hour — 24 a day — however many they are.
 * Hours close on a timer, and whenever a refusal is counted in a later hour than the last close.
 */
export function createRefusalAggregator({
  db,
  append,
  clock,
  logger,
  sweepMs = 60_000,
}: {
  db: Knex;
  append: (aggregate: RefusalAggregate) => Promise<void>;
  clock: () => Date;
  logger?: Logger | undefined;
  sweepMs?: number;
}) {
  /** relationship → actor → refusals, not yet written. */
  let buffered = new Map<string, Map<string, number>>();
  let writing: Promise<void> | undefined;
  let closedBefore = 0;

  /** Writes the buffered counts into the current hour, then closes the past hours. */
  const write = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    while (buffered.size > 0) {
      const batch = buffered;
      buffered = new Map();
      const hour = hourOf(clock());
      const rows = [...batch].flatMap(([relationship, actors]) =>
        [...actors].map(([actor, refusals]) => ({ relationship, hour, actor, refusals })),
      );
      try {
        await db("audit_refusals_open")
          .insert(rows)
          .onConflict(["relationship", "hour", "actor"])
          .merge({ refusals: db.raw("audit_refusals_open.refusals + excluded.refusals") });
      } catch (error) {
        logger?.error({ err: { name: (error as Error)?.name } }, "refusal counts not recorded");
      }
    }
    if (hourOf(clock()).getTime() > closedBefore) await closeDue();
  };

  /**
   * Appends one aggregate entry per relationship and closed hour, and forgets those hours' counts
   * (in one transaction holding {@link CLOSE_LOCK}; another process closing at the same time skips).
   */
  const closeDue = async (): Promise<number> => {
    const current = hourOf(clock());
    try {
      const closed = await db.transaction(async (trx) => {
        const { rows: locked } = await trx.raw<{ rows: { ok: boolean }[] }>(
          "select pg_try_advisory_xact_lock(?::bigint) as ok",
          [CLOSE_LOCK.toString()],
        );
        if (!locked[0]?.ok) return 0;
        const due = (await trx("audit_refusals_open")
          .select("relationship")
          .min({ hour: "hour" })
          .sum({ count: "refusals" })
          .count({ actors: "*" })
          .where("hour", "<", current)
          .groupBy("relationship", "hour")
          .orderBy([{ column: "hour" }, { column: "relationship" }])) as {
          relationship: string;
          count: string | number;
          actors: string | number;
        }[];
        for (const d of due)
          await append({
            relationship: d.relationship as Hex,
            count: Number(d.count),
            actors: Number(d.actors),
          });
        await trx("audit_refusals_open").where("hour", "<", current).delete();
        return due.length;
      });
      closedBefore = current.getTime();
      return closed;
    } catch (error) {
      logger?.error({ err: { name: (error as Error)?.name } }, "closing the refusal hours failed; retrying");
      return 0;
    }
  };

  const timer = setInterval(() => {
    writing ??= write().finally(() => {
      writing = undefined;
    });
  }, sweepMs);
  timer.unref();

  const kick = () => {
    writing ??= write().finally(() => {
      writing = undefined;
      if (buffered.size > 0) kick();
    });
  };

  return {
    /** Counts one refusal of `actor` on `relationship` (written off the caller's path). */
    count(relationship: Hex, actor: string): void {
      const key = relationship.toLowerCase();
      let actors = buffered.get(key);
      if (!actors) {
        actors = new Map();
        buffered.set(key, actors);
      }
      const who = actor.toLowerCase();
      actors.set(who, (actors.get(who) ?? 0) + 1);
      kick();
    },
    /** The open hours' refusals on `relationship` (counted, not yet in the log). */
    async open(relationship: Hex): Promise<OpenRefusals | undefined> {
      const row = (await db("audit_refusals_open")
        .min({ since: "hour" })
        .sum({ count: "refusals" })
        .countDistinct({ actors: "actor" })
        .where({ relationship: relationship.toLowerCase() })
        .first()) as { since: Date | null; count: string | null; actors: string | number } | undefined;
      if (!row?.since) return undefined;
      return { since: row.since.toISOString(), count: Number(row.count), actors: Number(row.actors) };
    },
    /** Resolves once every refusal counted so far is written and the past hours are closed. */
    async flush(): Promise<void> {
      while (writing) await writing;
      await closeDue();
    },
    stop(): void {
      clearInterval(timer);
    },
  };
}

export type RefusalAggregator = ReturnType<typeof createRefusalAggregator>;
