import type { RequestHandler } from "express";

/** A named readiness check: resolves when healthy (to a string: a detail to show), throws (with a short reason) otherwise. */
export type HealthCheck = { name: string; check: () => Promise<unknown> };

export type HealthReport = {
  status: "ok" | "unavailable";
  checks: Record<string, { status: "ok" | "failing"; detail?: string }>;
};

/** Runs every check with a timeout; healthy only when all pass (a gatekeeper with no chain check is not healthy). */
export async function runHealthChecks(
  checks: readonly HealthCheck[],
  timeoutMs = 2000,
): Promise<HealthReport> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        const detail = await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { status: "ok" as const, ...(typeof detail === "string" ? { detail } : {}) }] as const;
      } catch (error) {
        const detail = error instanceof Error ? error.message.split("\n")[0] : "failed";
        return [name, { status: "failing" as const, ...(detail ? { detail } : {}) }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const ok = checks.length > 0 && results.every(([, r]) => r.status === "ok");
  return { status: ok ? "ok" : "unavailable", checks: Object.fromEntries(results) };
}

export function healthHandler(checks: readonly HealthCheck[]): RequestHandler {
  return async (_req, res) => {
    const report = await runHealthChecks(checks);
    res.status(report.status === "ok" ? 200 : 503).json(report);
  };
}
