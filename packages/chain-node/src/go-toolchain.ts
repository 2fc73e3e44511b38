/**
 * A Go toolchain to build geth with. The machine's `go` when it is new enough (≥ 1.23: geth
 * 1.13.15's module needs 1.21, and the build's `-checklinkname=0` linker flag 1.23); otherwise Go's own release, fetched once from the Go module proxy
 * (the module `golang.org/toolchain`, the same archive `GOTOOLCHAIN=go1.24.13` downloads) into the
 * cache. Debian bookworm's `golang-go` is 1.19, too old, so it is not an answer.
 */
import { execFile } from "node:child_process";
import { chmod, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BaseError } from "./errors.ts";

const execFileAsync = promisify(execFile);

/** The Go release fetched when the machine has none (or an older one than geth needs). */
export const GO_TOOLCHAIN_VERSION = "1.24.13";
// geth's module needs 1.21; the build passes -ldflags=-checklinkname=0, a linker flag of Go ≥ 1.23.
const MINIMUM: readonly [number, number] = [1, 23];

export class GoToolchainError extends BaseError {
  override name = "GoToolchainError" as const;
}

/** `[major, minor]` of `go version` output (`go version go1.26.8 linux/amd64`), or undefined. */
export function parseGoVersion(output: string): [number, number] | undefined {
  const m = /\bgo(\d+)\.(\d+)/.exec(output);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** True when `version` is at least what the geth build needs (1.23). */
export function goIsNewEnough(version: readonly [number, number] | undefined): boolean {
  if (!version) return false;
  return version[0] > MINIMUM[0] || (version[0] === MINIMUM[0] && version[1] >= MINIMUM[1]);
}

/** The proxy URL of the toolchain zip for this machine (linux/amd64 or linux/arm64). */
export function toolchainUrl(
  version = GO_TOOLCHAIN_VERSION,
  arch = process.arch,
  proxy = process.env.GOPROXY,
): string {
  const goarch = arch === "x64" ? "amd64" : arch === "arm64" ? "arm64" : undefined;
  if (process.platform !== "linux" || !goarch)
    throw new GoToolchainError(
      `No Go toolchain is fetched for ${process.platform}/${arch}: install Go ≥ 1.23.`,
    );
  const first = proxy?.split(/[,|]/)[0];
  const base = first?.startsWith("http") ? first.replace(/\/$/, "") : "https://proxy.golang.org";
  return `${base}/golang.org/toolchain/@v/v0.0.1-go${version}.linux-${goarch}.zip`;
}

async function versionOf(go: string): Promise<[number, number] | undefined> {
  try {
    const { stdout } = await execFileAsync(go, ["version"], { timeout: 30_000 });
    return parseGoVersion(stdout);
  } catch {
    return undefined;
  }
}

/**
 * A `go` binary ≥ 1.23: `pathGo` (the one on PATH) when new enough, else the cached toolchain,
 * fetched and unpacked into `<cacheDir>/go-<version>` first when missing.
 */
export async function ensureGo({
  cacheDir,
  pathGo,
  onLog = () => undefined,
}: {
  cacheDir: string;
  pathGo: string | undefined;
  onLog?: (line: string) => void;
}): Promise<string> {
  if (pathGo && goIsNewEnough(await versionOf(pathGo))) return pathGo;
  const root = join(cacheDir, `go-${GO_TOOLCHAIN_VERSION}`);
  const go = join(root, "bin", "go");
  if (goIsNewEnough(await versionOf(go))) return go;
  const url = toolchainUrl();
  onLog(
    `[chain-node] ${pathGo ? `${pathGo} is older than Go 1.23` : "no go on PATH"}: fetching Go ${GO_TOOLCHAIN_VERSION} from ${url}…`,
  );
  const response = await fetch(url);
  if (!response.ok)
    throw new GoToolchainError(
      `Fetching Go ${GO_TOOLCHAIN_VERSION} failed: ${url} answered ${response.status}.`,
      {
        metaMessages: ["Install Go ≥ 1.23, or set MEDREC_GETH to a geth 1.13.15 binary."],
      },
    );
  const tmp = `${root}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    const zip = join(tmp, "go.zip");
    await writeFile(zip, Buffer.from(await response.arrayBuffer()));
    await unzip(zip, tmp);
    // The archive holds golang.org/toolchain@v0.0.1-go<version>.linux-<arch>/{bin,pkg,src,…}.
    const [top] = (await readdir(tmp)).filter((name) => name.startsWith("golang.org"));
    const inner = top ? join(tmp, top) : undefined;
    const unpacked = inner ? (await readdir(inner)).find((n) => n.startsWith("toolchain@")) : undefined;
    if (!inner || !unpacked)
      throw new GoToolchainError(`The Go archive from ${url} has no toolchain folder.`);
    await makeExecutable(join(inner, unpacked));
    await rm(root, { recursive: true, force: true });
    await rename(join(inner, unpacked), root);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  if (!goIsNewEnough(await versionOf(go)))
    throw new GoToolchainError(`The Go ${GO_TOOLCHAIN_VERSION} unpacked into ${root} does not run.`);
  onLog(`[chain-node] Go ${GO_TOOLCHAIN_VERSION} is in ${root}`);
  return go;
}

/** Unpacks with `unzip` when the machine has it, else Python's zipfile (one of them is on this kind). */
async function unzip(zip: string, into: string): Promise<void> {
  try {
    await execFileAsync("unzip", ["-q", zip, "-d", into], { maxBuffer: 1 << 26 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await execFileAsync("python3", ["-m", "zipfile", "-e", zip, into], { maxBuffer: 1 << 26 });
  }
}

/** Zip extraction by Python drops the mode bits: the toolchain's binaries get theirs back. */
async function makeExecutable(root: string): Promise<void> {
  const dirs = [join(root, "bin")];
  const toolRoot = join(root, "pkg", "tool");
  for (const d of await readdir(toolRoot).catch(() => [])) dirs.push(join(toolRoot, d));
  for (const dir of dirs)
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const file = join(dir, name);
      if ((await stat(file)).isFile()) await chmod(file, 0o755);
    }
}
