import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join, parse, resolve } from "node:path";
import { BaseError } from "./errors.ts";
import {
  InvalidManifestError,
  MANIFEST_ENV,
  MANIFEST_RELATIVE_PATH,
  type NetworkManifest,
  type NetworkManifestInput,
  parseManifest,
} from "./manifest.ts";

/** Thrown when there is no manifest at the expected path. */
export class ManifestNotFoundError extends BaseError {
  override name = "ManifestNotFoundError";
  readonly path: string;
  constructor({ path, cause }: { path: string; cause?: unknown }) {
    super(`No network manifest at ${path}.`, {
      cause,
      metaMessages: [
        `Start a network first (./medrec start), or set ${MANIFEST_ENV} to the manifest's path.`,
      ],
    });
    this.path = path;
  }
}

/** Thrown when no repository root (a folder with `pnpm-workspace.yaml`) is found above `cwd`. */
export class RepositoryRootNotFoundError extends BaseError {
  override name = "RepositoryRootNotFoundError";
  constructor({ cwd }: { cwd: string }) {
    super(`No MedRec repository root (pnpm-workspace.yaml) above ${cwd}.`, {
      metaMessages: [`Pass \`root\`, or set ${MANIFEST_ENV} to the manifest's path.`],
    });
  }
}

/** The nearest folder at or above `cwd` holding `pnpm-workspace.yaml`. */
export function findRepositoryRoot(cwd: string = process.cwd()): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dir === parse(dir).root) throw new RepositoryRootNotFoundError({ cwd });
    dir = dirname(dir);
  }
}

/** Parameters of {@link manifestPath}. */
export type ManifestPathParameters = {
  /** Repository root; found from `cwd` when absent. */
  root?: string | undefined;
  /** Where relative paths start; defaults to `process.cwd()`. */
  cwd?: string | undefined;
  /** Environment; defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>> | undefined;
};

/**
 * Where the network manifest lives: `$MEDREC_MANIFEST` (relative to `cwd`) if set, else
 * `.medrec/network.json` at the repository root.
 *
 * @throws {RepositoryRootNotFoundError} if neither is given nor found.
 */
export function manifestPath({
  root,
  cwd = process.cwd(),
  env = process.env,
}: ManifestPathParameters = {}): string {
  const override = env[MANIFEST_ENV];
  if (override) return resolve(cwd, override);
  return join(root ?? findRepositoryRoot(cwd), MANIFEST_RELATIVE_PATH);
}

/**
 * Reads and validates the network manifest.
 *
 * @throws {ManifestNotFoundError} if the file does not exist.
 * @throws {InvalidManifestError} if it is not JSON or does not match the schema.
 */
export async function readManifest(path: string = manifestPath()): Promise<NetworkManifest> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") throw new ManifestNotFoundError({ path, cause });
    throw new InvalidManifestError({ path, cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidManifestError({ path, issues: ["not valid JSON"], cause });
  }
  return parseManifest(value, { path });
}

/**
 * Validates and writes the manifest atomically (temporary file in the same folder, then rename),
 * creating the folder, with mode 0600: it can hold demo secrets.
 *
 * @throws {InvalidManifestError} if `manifest` does not match the schema (nothing is written).
 */
export async function writeManifest(path: string, manifest: NetworkManifestInput): Promise<NetworkManifest> {
  const parsed = parseManifest(manifest, { path });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    const file = await open(temporary, "wx", 0o600);
    try {
      await file.writeFile(`${JSON.stringify(parsed, null, 2)}\n`, "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return parsed;
}
