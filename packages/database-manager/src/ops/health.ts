import { BaseError } from "@medrec/protocol";
import type { RequestHandler } from "express";

/**
 * A named readiness check: resolves when healthy (to a string: a detail to show), throws (with a
 * short reason) otherwise. A check that `degradesOnly` (the relayer's balance, other providers'
 * relays) makes the report `degraded` when it fails — still 200: reads do not depend on it.
 */
export type HealthCheck = { name: string; check: () => Promise<unknown>; degradesOnly?: boolean };

/** Thrown by a failing health check; its first line is the reason /healthz shows. */
export class HealthCheckError extends BaseError {
  override name = "HealthCheckError";
}

export type HealthReport = {
  /** `ok` and `degraded` answer 200; `unavailable` answers 503. */
  status: "ok" | "degraded" | "unavailable";
  checks: Record<string, { status: "ok" | "failing"; detail?: string; degradesOnly?: true }>;
};

/**
 * Runs every check with a timeout; healthy only when all pass (a gatekeeper with no chain check is
 * not healthy), degraded when only `degradesOnly` checks fail.
 */
export async function runHealthChecks(
  checks: readonly HealthCheck[],
  timeoutMs = 2000,
): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check, degradesOnly }) => {
      let timer: NodeJS.Timeout | undefined;
      const marker = degradesOnly ? { degradesOnly: true as const } : {};
      try {
        const detail = await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new HealthCheckError(`no answer within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ]);
        return [
          name,
          { status: "ok" as const, ...(typeof detail === "string" ? { detail } : {}), ...marker },
        ] as const;
      } catch (error) {
        const detail = error instanceof Error ? error.message.split("\n")[0] : "failed";
        return [name, { status: "failing" as const, ...(detail ? { detail } : {}), ...marker }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const failing = results.filter(([, r]) => r.status !== "ok");
  const status =
    checks.length === 0 || failing.some(([, r]) => !r.degradesOnly)
      ? "unavailable"
      : failing.length > 0
        ? "degraded"
        : "ok";
  return { status, checks: Object.fromEntries(results) };
}

export function healthHandler(checks: readonly HealthCheck[]): RequestHandler {
  return async (_req, res) => {
    const report = await runHealthChecks(checks);
    res.status(report.status === "unavailable" ? 503 : 200).json(report);
  };
}
