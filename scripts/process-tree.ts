/**
 * The resident memory of a process and all its descendants, read from /proc (Linux): what
 * `./medrec start` prints so that a reader sees what the whole system costs (node, every geth,
 * every PostgreSQL backend).
 */
import { readdir, readFile } from "node:fs/promises";

/** Parent pid of every process now visible in /proc. */
async function parents(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      // Field 4 follows "pid (comm) state"; comm may hold spaces and parentheses.
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(Number(name), Number(rest[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** `root` and every process below it. */
export async function descendants(root: number): Promise<number[]> {
  const parentOf = await parents();
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parentOf)
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
  }
  return [...tree];
}

/** Sum of VmRSS (bytes) over `root` and its descendants, and how many processes that is. */
export async function treeRss(root: number = process.pid): Promise<{ bytes: number; processes: number }> {
  let bytes = 0;
  let processes = 0;
  for (const pid of await descendants(root)) {
    try {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
      if (kb === undefined) continue;
      bytes += Number(kb) * 1024;
      processes++;
    } catch {
      // Ended meanwhile.
    }
  }
  return { bytes, processes };
}
