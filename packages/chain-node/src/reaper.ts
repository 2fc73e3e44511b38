/**
 * What this process must not leave behind when it ends before stopping them: the process groups it
 * started (geth; a supervisor's children) and the directories it created for itself. Their owners
 * stop and remove them as usual; this is the last resort.
 *
 * - On `exit` (including a `process.exit()` in the middle of an asynchronous stop, and the end
 *   that follows an uncaught exception).
 * - On SIGINT, SIGTERM and SIGHUP when nothing else in the process listens for that signal. Node's
 *   default for those ends the process without an `exit` event, and geth runs in its own process
 *   group (detached), so an interrupted test run used to leave geth sealing and its directory under
 *   the temp dir. After cleaning up, the signal is raised again with Node's default action, so the
 *   process still ends the way it would have. When something else listens (`./medrec start`, the
 *   `medrec-chain` CLI), that listener owns the shutdown and `exit` stays the backstop.
 * - After SIGKILL, when {@link reapAfterDeath} was called: a process killed with SIGKILL can do
 *   nothing itself, so a small guardian process (this file run as a script, detached) holds the
 *   list and does it for it. It reads what to reap from a pipe on its stdin; the kernel closes that
 *   pipe however its parent ends, and the end of the pipe is its signal to reap (adr/0010).
 *
 * Reaping a directory also ends every PostgreSQL process still working in it (its
 * `/proc/<pid>/cwd`): an embedded PostgreSQL's backends put themselves in sessions of their own,
 * but live in its data dir.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** Tracked process group leaders, with their start time (/proc) so that a reused pid is left alone. */
const processes = new Map<number, string | undefined>();
const directories = new Set<string>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let exitHookInstalled = false;
let signalHooksInstalled = false;
/** Set by {@link reapAfterDeath}: every change of the lists is told to a guardian. */
let outlive = false;
let guardian: ChildProcess | undefined;

/** Kills `pid`'s process group if this process ends first. Returns the function that forgets it. */
export function reapProcessAtExit(pid: number): () => void {
  const start = startTime(pid);
  processes.set(pid, start);
  install();
  tell({ op: "add", pid, start });
  return () =>
    forget(() => {
      if (processes.delete(pid)) tell({ op: "forget", pid });
    });
}

/** Removes `dir` (recursively) if this process ends first. Returns the function that forgets it. */
export function removeDirAtExit(dir: string): () => void {
  directories.add(dir);
  install();
  tell({ op: "add", dir });
  return () =>
    forget(() => {
      if (directories.delete(dir)) tell({ op: "forget", dir });
    });
}

/**
 * From now on, what this process tracks is reaped even if it is killed with SIGKILL: a detached
 * guardian process, started while anything is tracked and told of every change, reaps what is
 * left when its stdin pipe from this process closes. Idempotent.
 */
export function reapAfterDeath(): void {
  outlive = true;
  if (processes.size > 0 || directories.size > 0) ensureGuardian();
}

/** What is tracked now (for tests). */
export function tracked(): { processes: number[]; directories: string[] } {
  return { processes: [...processes.keys()], directories: [...directories] };
}

/** The guardian's pid while one runs (see {@link reapAfterDeath}). */
export function guardianPid(): number | undefined {
  return guardian?.pid;
}

type Message = { op: "add" | "forget"; pid?: number; start?: string | undefined; dir?: string };

function tell(message: Message): void {
  if (!outlive) return;
  ensureGuardian();
  guardian?.stdin?.write(`${JSON.stringify(message)}\n`);
}

function ensureGuardian(): void {
  if (guardian) return;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--guard", String(process.pid)], {
    // Its own session: a Ctrl-C to the terminal's process group does not end it before its parent.
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  // A guardian that was killed cannot be told more; the in-process hooks still stand.
  child.stdin?.on("error", () => undefined);
  child.on("exit", () => {
    if (guardian === child) guardian = undefined;
  });
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  guardian = child;
  for (const [pid, start] of processes) child.stdin?.write(`${JSON.stringify({ op: "add", pid, start })}\n`);
  for (const dir of directories) child.stdin?.write(`${JSON.stringify({ op: "add", dir })}\n`);
}

function forget(remove: () => void): void {
  remove();
  if (processes.size === 0 && directories.size === 0) {
    uninstallSignalHooks();
    // Nothing left to guard: the guardian ends (its pipe closes with nothing listed).
    guardian?.stdin?.end();
    guardian = undefined;
  }
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
 * Synchronously: SIGTERM to every tracked process group and to every PostgreSQL process working
 * in a tracked directory, up to 3 s for them to end (geth flushes its database in milliseconds, PostgreSQL
 * shuts down as fast), SIGKILL to any left, then removes every tracked directory.
 */
export function reapNow(): void {
  // A pid that now names another process (its start time differs) is not ours any more.
  const pids = [...processes]
    .filter(([pid, start]) => {
      const now = startTime(pid);
      return start === undefined || now === undefined || now === start;
    })
    .map(([pid]) => pid);
  const dirs = [...directories];
  processes.clear();
  const left = () => leftovers(pids, dirs);
  for (const pid of pids) killGroup(pid, "SIGTERM");
  for (const pid of left()) killGroup(pid, "SIGTERM");
  if (!waitUntil(() => left().length === 0, 3_000)) {
    for (const pid of pids) killGroup(pid, "SIGKILL");
    for (const pid of left()) killGroup(pid, "SIGKILL");
    waitUntil(() => left().length === 0, 2_000);
  }
  for (const dir of dirs) {
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

/** One process as /proc shows it (Linux). */
type ProcEntry = { pid: number; pgrp: number; state: string; start: string };

function procStat(pid: number): ProcEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "pid (comm) ": comm may hold spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: rest[0] ?? "", pgrp: Number(rest[2]), start: rest[19] ?? "" };
  } catch {
    return undefined;
  }
}

/** When `pid` started (clock ticks after boot), or undefined when it does not run (or not on Linux). */
function startTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/**
 * The processes (not zombies: they hold nothing) that are members of one of `groups`, or
 * PostgreSQL processes working in one of `dirs`. Empty where /proc is missing.
 */
export function leftovers(groups: readonly number[], dirs: readonly string[]): number[] {
  let names: string[];
  try {
    names = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
  const real = dirs.map((d) => {
    try {
      return realpathSync(d);
    } catch {
      return d;
    }
  });
  const out: number[] = [];
  for (const name of names) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    const entry = procStat(pid);
    if (!entry || entry.state === "Z") continue;
    if (groups.includes(entry.pgrp)) {
      out.push(pid);
      continue;
    }
    if (real.length === 0) continue;
    let cwd: string;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if (!real.some((d) => cwd === d || cwd.startsWith(`${d}/`))) continue;
    // Only a PostgreSQL (not, say, a shell someone opened there).
    try {
      if (readlinkSync(`/proc/${pid}/exe`).endsWith("/postgres")) out.push(pid);
    } catch {
      // ended, or not ours to read
    }
  }
  return out;
}

/** Waits (blocking) until `done()` or `timeoutMs`; returns whether it is done. */
function waitUntil(done: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  return true;
}

/**
 * The guardian (`node reaper.ts --guard <parent pid>`): keeps the lists its parent sends on stdin,
 * one JSON message a line, and reaps what is listed when the pipe closes — which the kernel does
 * however the parent ends.
 */
function guard(): void {
  for (const signal of ["SIGINT", "SIGHUP"] as const) process.on(signal, () => undefined);
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      return;
    }
    if (message.pid !== undefined) {
      if (message.op === "add") processes.set(message.pid, message.start);
      else processes.delete(message.pid);
    }
    if (message.dir !== undefined) {
      if (message.op === "add") directories.add(message.dir);
      else directories.delete(message.dir);
    }
  });
  lines.on("close", () => {
    reapNow();
    process.exit(0);
  });
}

if (import.meta.main && process.argv[2] === "--guard") guard();
