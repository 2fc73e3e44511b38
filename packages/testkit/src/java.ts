/**
 * Small Java tools for tests and benches (HAPI FHIR's validator, bench:gatekeeper's peer): a
 * folder with a `pom.xml` whose dependencies Maven resolves from Maven Central into `~/.m2`, and
 * one `.java` file javac compiles into `$MEDREC_CACHE` (else `~/.cache/medrec`)
 * `/<name>-<hash of both>/` — outside the repository, built once. Needs Java ≥ 17 and Maven.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { medrecCacheDir } from "@medrec/protocol/node";

/** Runs a command to completion; rejects with its exit code and the last of its output. */
export function runQuiet(command: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    child.stderr.on("data", (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} exited ${code}: ${out.trim()}`)),
    );
  });
}

export type BuildJavaToolParameters = {
  /** The cache directory's name before the hash, e.g. `fhir-validator`. */
  name: string;
  /** The folder holding `pom.xml` and `source`. */
  folder: string;
  /** The `.java` file in `folder`. */
  source: string;
};

/**
 * Resolves the class path and compiles `source` once; returns the java class path (classes
 * first). Built in a temporary directory and renamed, so a half-built tool is never used.
 */
export async function buildJavaTool({ name, folder, source }: BuildJavaToolParameters): Promise<string> {
  const pom = await readFile(join(folder, "pom.xml"));
  const java = await readFile(join(folder, source));
  const hash = createHash("sha256").update(pom).update(java).digest("hex").slice(0, 12);
  const dir = join(medrecCacheDir(), `${name}-${hash}`);
  const classPath = async () =>
    `${join(dir, "classes")}:${(await readFile(join(dir, "classpath.txt"), "utf8")).trim()}`;
  if (existsSync(join(dir, "classes"))) {
    const cp = await classPath().catch(() => undefined);
    if (cp?.split(":").every((entry) => existsSync(entry))) return cp;
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await copyFile(join(folder, "pom.xml"), join(tmp, "pom.xml"));
  const cpFile = join(tmp, "classpath.txt");
  await runQuiet("mvn", ["-q", "-B", "dependency:build-classpath", `-Dmdep.outputFile=${cpFile}`], tmp);
  const cp = (await readFile(cpFile, "utf8")).trim();
  await runQuiet("javac", ["-cp", cp, "-d", join(tmp, "classes"), join(folder, source)], tmp);
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return classPath();
}
