/**
 * bench:chain's process: cleanup of geth processes and temp dirs on success, error and signals;
 * progress lines. Importing this module installs the signal and unhandled-rejection handlers.
 */

export const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error("cleanup:", e));
  })();
  return cleaning;
}
export let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    interrupted = true;
    console.error(`\n${signal}: stopping geth and removing temporary directories…`);
    void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}
// A request that fails because the nodes are being stopped must not end the process before the
// cleanup has finished; any other stray rejection fails the run (after cleaning up).
process.on("unhandledRejection", (error) => {
  if (interrupted || cleaning) return;
  console.error("bench:chain failed:", error);
  void cleanup().finally(() => process.exit(1));
});

/** Swallows an error once the run is being stopped (the nodes are going away); rethrows otherwise. */
export function ignoreWhenStopping(error: unknown): void {
  if (interrupted || cleaning) return;
  throw error;
}

/** One progress line, prefixed with the seconds since the run started. */
export const log = (s: string) =>
  console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${s}`);
const t0 = performance.now();
