/**
 * What limits throughput: per-block build and import times from the sealers' own logs, and other
 * geth processes competing for the same cores.
 */
import { readdir, readFile } from "node:fs/promises";
import { basename } from "node:path";
import { type Summary, summarize } from "@medrec/testkit";

/** geth's duration format (`common.PrettyDuration`): 731.292µs, 877.231ms, 1.234s, 1m2.5s. */
export function parseGoDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|µs|us|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1e-6, µs: 1e-3, us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let total = 0;
  let any = false;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * (unit[m[2] as string] as number);
    any = true;
  }
  return any ? total : undefined;
}

export type BlockTimings = {
  /** "Commit new sealing work": executing a block's transactions to seal it (ms), non-empty blocks. */
  buildMs: Summary;
  /** "Imported new chain segment": executing and writing a block received from a peer (ms). */
  importMs: Summary;
  /** Blocks imported without becoming the head ("potential chain segment"): forks, when an out-of-turn sealer raced a late in-turn block. */
  sidechainImports: number;
};

/**
 * Reads the sealers' geth.log files and collects build/import times of blocks `from`…`to`
 * (geth at verbosity ≥ 3 logs both with `number=` and `elapsed=`).
 */
export async function blockTimings(
  logPaths: readonly string[],
  from: bigint,
  to: bigint,
): Promise<BlockTimings> {
  const build: number[] = [];
  const imports: number[] = [];
  let sidechainImports = 0;
  for (const path of logPaths) {
    const text = await readFile(path, "utf8").catch(() => "");
    for (const line of text.split("\n")) {
      const isBuild = line.includes("Commit new sealing work");
      const isImport = line.includes("Imported new chain segment");
      const isSide = line.includes("Imported new potential chain segment");
      if (!isBuild && !isImport && !isSide) continue;
      const n = /\bnumber=([\d,]+)/.exec(line)?.[1];
      if (!n) continue;
      const number = BigInt(n.replaceAll(",", ""));
      if (number < from || number > to) continue;
      if (isSide) {
        sidechainImports++;
        continue;
      }
      const txs = Number(/\btxs=([\d,]+)/.exec(line)?.[1]?.replaceAll(",", "") ?? "0");
      const elapsed = parseGoDuration(/\belapsed=(\S+)/.exec(line)?.[1] ?? "");
      if (elapsed === undefined || txs === 0) continue;
      (isBuild ? build : imports).push(elapsed);
    }
  }
  return { buildMs: summarize(build), importMs: summarize(imports), sidechainImports };
}

/**
 * Reorgs each node went through while blocks `from`…`to` were sealed, from its geth.log ("Chain
 * reorg detected": the canonical chain switched to a heavier branch, dropping `drop` blocks — in
 * Clique, when an in-turn block (difficulty 2) arrives after an out-of-turn one for the same
 * height was already imported). Keyed by the names given.
 */
export async function reorgsInLogs(
  logs: Readonly<Record<string, string>>,
  from: bigint,
  to: bigint,
): Promise<Record<string, { reorgs: number; droppedBlocks: number }>> {
  const out: Record<string, { reorgs: number; droppedBlocks: number }> = {};
  for (const [name, path] of Object.entries(logs)) {
    const text = await readFile(path, "utf8").catch(() => "");
    let reorgs = 0;
    let droppedBlocks = 0;
    for (const line of text.split("\n")) {
      if (!line.includes("Chain reorg detected")) continue;
      const n = /\bnumber=([\d,]+)/.exec(line)?.[1];
      if (!n) continue;
      const number = BigInt(n.replaceAll(",", ""));
      if (number < from - 1n || number > to) continue;
      reorgs++;
      droppedBlocks += Number(/\bdrop=([\d,]+)/.exec(line)?.[1]?.replaceAll(",", "") ?? "0");
    }
    out[name] = { reorgs, droppedBlocks };
  }
  return out;
}

/** Pids of geth processes on this machine other than `ours` (Linux /proc; empty elsewhere). */
export async function otherGethProcesses(ours: readonly (number | undefined)[]): Promise<number[]> {
  const mine = new Set(ours.filter((p): p is number => p !== undefined));
  const out: number[] = [];
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (mine.has(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const argv0 = cmdline.split("\0")[0] ?? "";
    if (basename(argv0) === "geth") out.push(pid);
  }
  return out;
}
