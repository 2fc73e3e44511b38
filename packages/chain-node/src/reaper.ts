/**
 * What this process must not leave behind when it ends before stopping them: the geth processes it
 * started (not `background`) and the network directories it created for itself. Their owners stop
 * and remove them as usual; this is the last resort.
 *
 * - On `exit` (including a `process.exit()` in the middle of an asynchronous stop).
 * - On SIGINT, SIGTERM and SIGHUP when nothing else in the process listens for that signal. Node's
 *   default for those ends the process without an `exit` event, and geth runs in its own process
 *   group (detached), so an interrupted test run used to leave geth sealing and its directory under
 *   the temp dir. After cleaning up, the signal is raised again with Node's default action, so the
 *   process still ends the way it would have. When something else listens (`./medrec start`, the
 *   `medrec-chain` CLI), that listener owns the shutdown and `exit` stays the backstop.
 *
 * A process killed with SIGKILL can do nothing: its geth and directories stay.
 */
import { readFileSync, rmSync } from "node:fs";

const processes = new Set<number>();
const directories = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let exitHookInstalled = false;
let signalHooksInstalled = false;

/** Kills `pid`'s process group if this process ends first. Returns the function that forgets it. */
export function reapProcessAtExit(pid: number): () => void {
  processes.add(pid);
  install();
  return () => forget(() => processes.delete(pid));
}

/** Removes `dir` (recursively) if this process ends first. Returns the function that forgets it. */
export function removeDirAtExit(dir: string): () => void {
  directories.add(dir);
  install();
  return () => forget(() => directories.delete(dir));
}

/** What is tracked now (for tests). */
export function tracked(): { processes: number[]; directories: string[] } {
  return { processes: [...processes], directories: [...directories] };
}

function forget(remove: () => void): void {
  remove();
  if (processes.size === 0 && directories.size === 0) uninstallSignalHooks();
}

function install(): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", reapNow);
  }
  if (!signalHooksInstalled) {
    signalHooksInstalled = true;
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
}

function uninstallSignalHooks(): void {
  if (!signalHooksInstalled) return;
  signalHooksInstalled = false;
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

function onSignal(signal: NodeJS.Signals): void {
  // Another listener handles this signal and stops what it started; `exit` is the backstop.
  if (process.listenerCount(signal) > 1) return;
  reapNow();
  // With no listener left Node restores the default action: end the process as the signal would have.
  uninstallSignalHooks();
  process.kill(process.pid, signal);
}

/**
 * Synchronously: SIGTERM to every tracked geth's group, up to 5 s for them to end (geth flushes its
 * database in milliseconds), SIGKILL to any left, then removes every tracked directory.
 */
export function reapNow(): void {
  const pids = [...processes];
  processes.clear();
  for (const pid of pids) killGroup(pid, "SIGTERM");
  let left = waitGone(pids, 5_000);
  for (const pid of left) killGroup(pid, "SIGKILL");
  left = waitGone(left, 2_000);
  for (const dir of directories) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Nothing more can be done at exit.
    }
  }
  directories.clear();
}

/** Sends a signal to a process group (falls back to the process); ignores "no such process". */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
      return;
    } catch {
      // group gone or not a group leader: try the pid itself
    }
  }
}

/** Waits (blocking) until none of `pids` runs, or `timeoutMs`; returns those still running. */
function waitGone(pids: number[], timeoutMs: number): number[] {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter(running);
  while (left.length > 0 && Date.now() < deadline) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    left = left.filter(running);
  }
  return left;
}

/**
 * Whether `pid` still runs. A geth this process spawned stays a zombie until Node reaps it, which
 * cannot happen while this code blocks; a zombie holds no files, so it counts as ended (Linux
 * /proc). Elsewhere: signal 0.
 */
function running(pid: number): boolean {
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat[stat.lastIndexOf(")") + 2] !== "Z";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
