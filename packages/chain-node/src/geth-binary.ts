import { execFile, spawn } from "node:child_process";
import { access, constants, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { medrecCacheDir } from "@medrec/protocol/node";
import { BaseError } from "./errors.ts";
import { ensureGo } from "./go-toolchain.ts";

const execFileAsync = promisify(execFile);

/** The only geth MedRec runs: the last release whose Clique still seals (ADR 0001). */
export const GETH_VERSION = "1.13.15";
const MODULE = `github.com/ethereum/go-ethereum/cmd/geth@v${GETH_VERSION}`;

/** Thrown when geth cannot be found, has the wrong version, or cannot be built. */
export class GethBinaryError extends BaseError {
  override name = "GethBinaryError" as const;
}

/** Parameters of {@link findGeth}. All default from the environment. */
export type FindGethParameters = {
  /** Explicit binary (default `$MEDREC_GETH`). Must be v1.13.15; never built. */
  gethPath?: string | undefined;
  /** Cache root (default `$MEDREC_CACHE`, else `~/.cache/medrec`). */
  cacheDir?: string;
  /** Look at `geth` on PATH (default true). */
  usePath?: boolean;
  /** Build with `go install` when nothing else fits (default true). */
  build?: boolean;
  /** Give up waiting for the build (ours or a concurrent caller's) after this long. Default 15 min. */
  buildTimeoutMs?: number;
  /** Progress lines (default: stderr). */
  onLog?: (line: string) => void;
};

export { medrecCacheDir };

/** Where the built binary lives: `<cache>/geth-v1.13.15/bin/geth`. */
export function cachedGethPath(cacheDir = medrecCacheDir()): string {
  return join(cacheDir, `geth-v${GETH_VERSION}`, "bin", "geth");
}

/**
 * Returns the path of a geth v1.13.15 binary: `$MEDREC_GETH`, else `geth` on PATH if it is
 * 1.13.15, else the cached build, else builds it into the cache once (`go install`, ~2 min;
 * a lock directory makes concurrent callers wait for one build instead of racing).
 *
 * @throws {GethBinaryError} naming the version found, or why the build failed.
 */
export async function findGeth(parameters: FindGethParameters = {}): Promise<string> {
  const explicit = parameters.gethPath ?? process.env.MEDREC_GETH;
  if (explicit) {
    await assertGethVersion(explicit);
    return explicit;
  }
  if (parameters.usePath ?? true) {
    const onPath = await whichGeth();
    if (onPath && (await gethVersion(onPath).catch(() => undefined)) === GETH_VERSION) return onPath;
  }
  const cacheDir = parameters.cacheDir ?? medrecCacheDir();
  const cached = cachedGethPath(cacheDir);
  if (await isExecutable(cached)) {
    await assertGethVersion(cached);
    return cached;
  }
  if (!(parameters.build ?? true)) {
    throw new GethBinaryError(`geth v${GETH_VERSION} not found.`, {
      metaMessages: [`Set MEDREC_GETH, put geth ${GETH_VERSION} on PATH, or run \`pnpm run setup-geth\`.`],
    });
  }
  await buildGeth({
    cacheDir,
    timeoutMs: parameters.buildTimeoutMs ?? 15 * 60_000,
    onLog: parameters.onLog ?? ((l) => process.stderr.write(`${l}\n`)),
  });
  await assertGethVersion(cached);
  return cached;
}

/** Runs `geth version` and returns the semantic version (e.g. `1.13.15`). */
export async function gethVersion(path: string): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(path, ["version"], { timeout: 20_000 }));
  } catch (cause) {
    throw new GethBinaryError(`Could not run \`${path} version\`.`, { cause });
  }
  const match = /^Version:\s*v?(\d+\.\d+\.\d+)/m.exec(stdout);
  if (!match?.[1])
    throw new GethBinaryError(`\`${path} version\` printed no version line.`, {
      details: stdout.slice(0, 200),
    });
  return match[1];
}

/** @throws {GethBinaryError} unless `path` is geth v1.13.15. */
export async function assertGethVersion(path: string): Promise<void> {
  const found = await gethVersion(path);
  if (found !== GETH_VERSION) {
    throw new GethBinaryError(`${path} is geth ${found}; MedRec needs geth ${GETH_VERSION}.`, {
      metaMessages: [
        "geth 1.14 and later cannot seal Clique blocks (ADR 0001).",
        "Unset MEDREC_GETH to use the cached build, or point it at a 1.13.15 binary.",
      ],
    });
  }
}

async function buildGeth({
  cacheDir,
  timeoutMs,
  onLog,
}: {
  cacheDir: string;
  timeoutMs: number;
  onLog: (l: string) => void;
}) {
  const target = cachedGethPath(cacheDir);
  const root = dirname(dirname(target));
  const lock = `${root}.lock`;
  await mkdir(dirname(root), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  // mkdir is atomic: whoever creates the lock builds; the others wait for the binary.
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (await isExecutable(target)) return;
      const holder = Number(await readFile(join(lock, "pid"), "utf8").catch(() => "0"));
      if (holder > 0 && !isAlive(holder)) {
        await rm(lock, { recursive: true, force: true }); // stale lock of a crashed build
        continue;
      }
      if (Date.now() > deadline)
        throw new GethBinaryError(`Timed out waiting for another process to build geth (lock ${lock}).`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (await isExecutable(target)) return;
    const go = await ensureGo({ cacheDir, pathGo: await which("go"), onLog });
    const tmpBin = join(root, `bin.tmp-${process.pid}`);
    await mkdir(tmpBin, { recursive: true });
    onLog(`[chain-node] building geth v${GETH_VERSION} into ${root} (go install, about 2 minutes)…`);
    // Go ≥ 1.23 refuses an old dependency's //go:linkname use unless the check is switched off.
    const args = ["install", "-ldflags=-checklinkname=0", MODULE];
    const output = await run(
      go,
      args,
      { ...process.env, GOBIN: tmpBin },
      Math.max(1000, deadline - Date.now()),
    );
    if (output.code !== 0) {
      throw new GethBinaryError(`\`go ${args.join(" ")}\` failed (exit ${output.code}).`, {
        metaMessages: output.tail,
      });
    }
    await mkdir(dirname(target), { recursive: true });
    await rename(join(tmpBin, "geth"), target);
    await rm(tmpBin, { recursive: true, force: true });
    onLog(`[chain-node] built ${target}`);
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number; tail: string[] }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    const keep = (b: Buffer) => {
      lines.push(...b.toString().split("\n").filter(Boolean));
      lines.splice(0, Math.max(0, lines.length - 30));
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const timer = setTimeout(() => {
      lines.push(`(killed after ${Math.round(timeoutMs / 1000)} s)`);
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => lines.push(e.message));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, tail: lines });
    });
  });
}

async function whichGeth(): Promise<string | undefined> {
  return which("geth");
}

async function which(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && (await isExecutable(join(dir, name)))) return join(dir, name);
  }
  return undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
