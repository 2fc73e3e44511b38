/**
 * What the supervision and leftover tests share: finding a run's processes from outside, by what
 * ties them to the run rather than by name (other runs share the machine), and timing how long
 * something takes to be true.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdir, readdir, readFile, readlink } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { EventuallyTimeoutError } from "@medrec/testkit";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Runs `scripts/start.ts` with its temporary data under `tmp`, so that leftovers can be seen. */
export function start(
  env: Record<string, string>,
  tmp: string,
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["scripts/start.ts"], {
    cwd: root,
    env: { ...process.env, TMPDIR: tmp, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (c: Buffer) => {
    output += c.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  return { child, output: () => output };
}

/** A private temp dir that PostgreSQL (run as `postgres` when we are root) can still enter. */
export async function runDir(parent: string, name: string): Promise<string> {
  const dir = path.join(parent, name);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  return dir;
}

export type RunProcess = { pid: number; command: string };

/**
 * The live processes (zombies aside) of a run whose temp dir is `tmp`: their command line names
 * it (geth, a postmaster), their environment holds TMPDIR=`tmp` (every Node process of the run,
 * the guardian), or they work below it (PostgreSQL's backends, which retitle themselves).
 */
export async function processesOf(tmp: string, also: (environ: string) => boolean = () => true) {
  const found: RunProcess[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const read = (file: string) => readFile(`/proc/${name}/${file}`, "utf8").catch(() => "");
    const stat = await read("stat");
    if (!stat || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
    const [cmdline, environ, cwd] = await Promise.all([
      read("cmdline"),
      read("environ"),
      readlink(`/proc/${name}/cwd`).catch(() => ""),
    ]);
    const ours =
      cmdline.includes(`${tmp}/`) ||
      environ.split("\0").includes(`TMPDIR=${tmp}`) ||
      cwd === tmp ||
      cwd.startsWith(`${tmp}/`);
    if (ours && also(environ))
      found.push({ pid: Number(name), command: cmdline.replaceAll("\0", " ").trim() });
  }
  return found;
}

/** The pid of the run's process whose environment holds `entry` (e.g. `PROVIDER_NAME=Lakeside Clinic`). */
export async function pidWithEnv(tmp: string, entry: string, script: string): Promise<number> {
  const found = (await processesOf(tmp, (environ) => environ.split("\0").includes(entry))).filter((p) =>
    p.command.includes(script),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${script} with ${entry}, found ${JSON.stringify(found)}`);
  return (found[0] as RunProcess).pid;
}

/** Milliseconds until `condition()` holds (polled every 50 ms); throws after `timeoutMs`. */
export async function msUntil(what: string, condition: () => Promise<boolean>, timeoutMs: number) {
  const began = performance.now();
  for (;;) {
    if (await condition().catch(() => false)) return Math.round(performance.now() - began);
    if (performance.now() - began > timeoutMs)
      throw new EventuallyTimeoutError(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Milliseconds until no process of the run is left and its temp dir is empty (10 s at most). */
export async function msUntilNothingLeft(tmp: string, timeoutMs = 10_000): Promise<number> {
  try {
    return await msUntil(
      `nothing of the run in ${tmp} is left`,
      async () => (await processesOf(tmp)).length === 0 && (await readdir(tmp)).length === 0,
      timeoutMs,
    );
  } catch (error) {
    const left = { processes: await processesOf(tmp), files: await readdir(tmp) };
    throw new Error(`${(error as Error).message}: ${JSON.stringify(left)}`);
  }
}

/** Whether `url`'s /healthz answers 200 (within 2 s). */
export async function healthy(url: string): Promise<boolean> {
  const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).catch(
    () => undefined,
  );
  await response?.body?.cancel();
  return response?.status === 200;
}
