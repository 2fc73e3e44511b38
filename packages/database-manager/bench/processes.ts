/**
 * Linux /proc helpers for the bench: which geth/PostgreSQL processes are ours (descendants of this
 * process) and which belong to someone else, CPU time by component, the machine's busy share, and
 * the last-resort cleanup of our own child processes. Elsewhere they return empty results.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

type Proc = { pid: number; ppid: number; comm: string; ticks: number };

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function readProcs(): Proc[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: Proc[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const open = stat.indexOf("(");
      const close = stat.lastIndexOf(")");
      // Fields after the command: state ppid … utime (14th field) stime (15th).
      const rest = stat.slice(close + 2).split(" ");
      out.push({
        pid: Number(entry),
        comm: stat.slice(open + 1, close),
        ppid: Number(rest[1]),
        ticks: Number(rest[11]) + Number(rest[12]),
      });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** Our descendants (children, their children, …), by pid. */
function descendantsOf(procs: readonly Proc[], root = process.pid): Proc[] {
  const children = new Map<number, Proc[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const stack = [root];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop() as number) ?? []) {
      out.push(child);
      stack.push(child.pid);
    }
  }
  return out;
}

const isGeth = (p: Proc) => p.comm === "geth";
const isPostgres = (p: Proc) => p.comm === "postgres" || p.comm.startsWith("postgres:");

/** geth and PostgreSQL processes on this machine that this bench did not start. */
export function otherServers(): { geth: number[]; postgres: number[] } {
  const procs = readProcs();
  const ours = new Set(descendantsOf(procs).map((p) => p.pid));
  const others = procs.filter((p) => !ours.has(p.pid));
  return {
    geth: others.filter(isGeth).map((p) => p.pid),
    // Count servers (postmasters), not their many backends.
    postgres: others
      .filter(isPostgres)
      .filter((p) => !others.some((q) => q.pid === p.ppid && isPostgres(q)))
      .map((p) => p.pid),
  };
}

/** CPU seconds used so far by our geth, PostgreSQL (all backends) and Java processes. */
export function childCpuSeconds(): { geth: number; postgres: number; java: number } {
  const mine = descendantsOf(readProcs());
  const sum = (ps: Proc[]) => ps.reduce((s, p) => s + p.ticks, 0) / CLOCK_TICKS;
  return {
    geth: sum(mine.filter(isGeth)),
    postgres: sum(mine.filter(isPostgres)),
    java: sum(mine.filter((p) => p.comm === "java")),
  };
}

/** The machine's CPU counters (all cores), for the busy share over an interval. */
export function machineCpu(): { busy: number; total: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/**
 * Last resort (Ctrl-C during start-up, a failed stop): ends our own child processes by pid —
 * SIGINT for PostgreSQL (fast shutdown), SIGTERM for the rest — then SIGKILL after `graceMs`.
 */
export async function killOurChildren(graceMs = 5_000): Promise<number> {
  const targets = descendantsOf(readProcs()).filter(
    (p) => isGeth(p) || (isPostgres(p) && p.ppid === process.pid),
  );
  for (const p of targets) {
    try {
      process.kill(p.pid, isPostgres(p) ? "SIGINT" : "SIGTERM");
    } catch {
      // already gone
    }
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + graceMs;
  while (targets.some((p) => alive(p.pid)) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  for (const p of targets) if (alive(p.pid)) process.kill(p.pid, "SIGKILL");
  return targets.length;
}
