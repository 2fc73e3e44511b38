import { BaseError } from "@medrec/protocol";

/** Thrown by {@link eventually} and {@link retryWhile} when the time is up; `cause` is the last error. */
export class EventuallyTimeoutError extends BaseError {
  override name = "EventuallyTimeoutError";
}

export type RetryOptions = {
  /**
   * How long to keep trying (default 45 s for `eventually`, 30 s for `retryWhile`): a safety net
   * for a hung component, never a measurement.
   */
  timeoutMs?: number;
  /** The pause between two tries (default 50 ms for `eventually`, 250 ms for `retryWhile`). */
  intervalMs?: number;
};

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls `fn` until it returns something other than `undefined` or `false` and resolves with it;
 * errors `fn` throws are retried too. After `timeoutMs` it throws {@link EventuallyTimeoutError}
 * naming `what` (and the last error, as `cause`).
 *
 * @example
 * const block = await eventually("block 3", async () => ((await blockNumber(ipc)) >= 3n ? true : undefined))
 */
export async function eventually<T>(
  what: string,
  fn: () => T | Promise<T>,
  { timeoutMs = 45_000, intervalMs = 50 }: RetryOptions = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new EventuallyTimeoutError(`Timed out after ${timeoutMs} ms waiting for ${what}.`, {
        ...(last === undefined ? {} : { cause: last }),
      });
    await pause(intervalMs);
  }
}

/**
 * Runs `run` again while the error it throws is `retryable` (a component a block behind), and
 * resolves with its first result. Any other error, or a retryable one after `timeoutMs`, is thrown
 * as it is.
 *
 * @example
 * await retryWhile(() => grant(), (e) => e instanceof GatekeeperRequestError && e.status === 422)
 */
export async function retryWhile<T>(
  run: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  { timeoutMs = 30_000, intervalMs = 250 }: RetryOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!retryable(error) || Date.now() > deadline) throw error;
      await pause(intervalMs);
    }
  }
}
