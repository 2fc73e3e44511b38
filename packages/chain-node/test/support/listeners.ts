/**
 * Which TCP ports a process is listening on, read from Linux's /proc (no tools needed): the
 * socket inodes in /proc/<pid>/fd matched against LISTEN rows of /proc/net/tcp and tcp6.
 */
import { readdir, readFile, readlink } from "node:fs/promises";

export type Listener = { address: string; port: number };

export async function tcpListeners(pid: number): Promise<Listener[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1]) inodes.add(m[1]);
  }
  const out: Listener[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const rows = (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1);
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (cols.length < 10 || cols[3] !== "0A" || !inodes.has(cols[9] as string)) continue;
      const [hexAddr, hexPort] = (cols[1] as string).split(":") as [string, string];
      out.push({ address: decodeAddress(hexAddr), port: Number.parseInt(hexPort, 16) });
    }
  }
  return out;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    // IPv4, little-endian bytes.
    return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(".");
  }
  // IPv6 as four little-endian 32-bit words; only report loopback/any precisely.
  if (hex === "00000000000000000000000001000000") return "::1";
  if (/^0+$/.test(hex)) return "::";
  if (hex.startsWith("0000000000000000FFFF0000")) return decodeAddress(hex.slice(24));
  return hex;
}
