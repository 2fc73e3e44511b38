/**
 * What every part of bench:gatekeeper shares: one temp dir for everything it starts (TMPDIR points
 * at it), the clean-up run on success, errors and signals, a watchdog, and small waiting helpers.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "@medrec/testkit";
import { stopLoadWorkers } from "../load.ts";
import { killOurChildren } from "../processes.ts";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const log = (line: string) => console.log(`· ${line}`);

export type Lifecycle = {
  work: string;
  /** Registers a clean-up step; they run in reverse order. */
  onCleanup(fn: () => Promise<unknown>): void;
  cleanup(): Promise<void>;
  interrupted(): boolean;
  eventually<T>(what: string, fn: () => T | Promise<T>, timeoutMs?: number): Promise<T>;
};

export async function startLifecycle(name: string, timeLimitMin: number): Promise<Lifecycle> {
  const work = await mkdtemp(join(tmpdir(), `medrec-${name}-`));
  await chmod(work, 0o755); // PostgreSQL runs as `postgres` when the bench runs as root
  process.env.TMPDIR = work;
  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<void> | undefined;
  let interrupted = false;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await stopLoadWorkers().catch(() => undefined);
      for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error("cleanup:", e));
      const stray = await killOurChildren().catch(() => 0);
      if (stray > 0) console.error(`cleanup: ended ${stray} leftover child process(es)`);
      await rm(work, { recursive: true, force: true }).catch((e: unknown) => console.error("cleanup:", e));
    })();
    return cleaning;
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      if (interrupted) return void console.error(`${signal}: still cleaning up…`);
      interrupted = true;
      console.error(`\n${signal}: stopping everything the bench started, removing temp dirs…`);
      void cleanup().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
  process.on("unhandledRejection", (error) => {
    if (interrupted || cleaning) return;
    console.error(`bench:${name} failed:`, error);
    void cleanup().finally(() => process.exit(1));
  });
  setTimeout(() => {
    console.error(`bench:${name}: over its ${timeLimitMin} min limit; stopping.`);
    void cleanup().finally(() => process.exit(1));
  }, timeLimitMin * 60_000).unref();

  return {
    work,
    onCleanup: (fn) => void cleanups.push(fn),
    cleanup,
    interrupted: () => interrupted,
    // Polls every 20 ms (not testkit's 50): growth.ts times the publish through this wait.
    eventually: (what, fn, timeoutMs = 30_000) => eventually(what, fn, { timeoutMs, intervalMs: 20 }),
  };
}
