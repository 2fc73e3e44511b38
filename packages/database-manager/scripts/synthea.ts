/**
 * Synthea (MITRE's synthetic patient generator, `org.mitre.synthea:synthea` from Maven Central)
 * for the tests and the records bench: real-shaped FHIR R4 that nobody here wrote. A population
 * is generated once per version and seed into `~/.cache/medrec/synthea-<version>-<seed>[-<name>]/`
 * (outside the repository) and reused; Maven resolves Synthea and its dependencies into `~/.m2`.
 * Needs Java ≥ 17 and Maven (installed with apt-get when missing).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { medrecCacheDir } from "@medrec/protocol/node";

export const SYNTHEA_VERSION = "3.3.0";
/** The tests' population seed (and clinician seed). */
export const SYNTHEA_SEED = 20250101;
/** Synthea's reference date: with the seeds, it fixes every generated record. */
const REFERENCE_DATE = "20250101";

export type Population = {
  /** A name for the cache directory (`synthea-<version>-<seed>-<name>`). */
  name: string;
  seed: number;
  /** Synthea arguments beyond seeds, reference date and output. */
  args: string[];
};

/**
 * The tests' population: three adults with Synthea's default 10 years of history (hundreds to
 * a thousand or more resources each, with the provider directory as `batch` bundles) and one
 * adult with a whole lifetime of history (a few thousand resources).
 */
export const TEST_POPULATIONS: readonly Population[] = [
  { name: "recent", seed: SYNTHEA_SEED, args: ["-p", "3", "-a", "25-75"] },
  {
    name: "lifetime",
    seed: SYNTHEA_SEED + 1,
    args: [
      "-p",
      "1",
      "-a",
      "40-45",
      "--exporter.years_of_history=0",
      "--exporter.hospital.fhir.export=false",
      "--exporter.practitioner.fhir.export=false",
    ],
  },
];

const cacheRoot = () => medrecCacheDir();

/** Where a population's FHIR bundles are (after {@link ensurePopulation}). */
export function populationDir(p: Population): string {
  return join(cacheRoot(), `synthea-${SYNTHEA_VERSION}-${p.seed}-${p.name}`, "fhir");
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; quiet?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(out)
        : reject(
            new Error(`${command} ${args.slice(0, 3).join(" ")} … exited ${code}:\n${out.slice(-2000)}`),
          ),
    );
  });
}

const has = (command: string) =>
  run("sh", ["-c", `command -v ${command}`]).then(
    () => true,
    () => false,
  );

/** Java and Maven present (Maven from Debian's packages when missing; idempotent). */
async function ensureTools(): Promise<void> {
  if (!(await has("java"))) throw new Error("Synthea needs Java 17 or later (java is not on PATH)");
  if (await has("mvn")) return;
  console.log("synthea: installing Maven (apt-get)");
  const env = "DEBIAN_FRONTEND=noninteractive";
  await run("sh", [
    "-c",
    `${env} apt-get install -y maven || { apt-get update && ${env} apt-get install -y maven; }`,
  ]);
}

/** Synthea's class path, resolved by Maven from a minimal POM into `~/.m2` (once). */
async function classPath(): Promise<string> {
  const dir = join(cacheRoot(), `synthea-${SYNTHEA_VERSION}-maven`);
  const file = join(dir, "classpath.txt");
  if (existsSync(file)) {
    const cp = (await readFile(file, "utf8")).trim();
    if (cp.split(":").every((jar) => existsSync(jar))) return cp;
  }
  await ensureTools();
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "pom.xml"),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.medrec</groupId><artifactId>synthea-runner</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.mitre.synthea</groupId><artifactId>synthea</artifactId><version>${SYNTHEA_VERSION}</version></dependency>
  </dependencies>
</project>
`,
  );
  console.log(`synthea: resolving org.mitre.synthea:synthea:${SYNTHEA_VERSION} with Maven`);
  await run("mvn", ["-q", "-B", "dependency:build-classpath", `-Dmdep.outputFile=${file}`], { cwd: dir });
  return (await readFile(file, "utf8")).trim();
}

/**
 * Generates a population unless its directory is already complete; returns the bundle files.
 * Written to a temporary directory and renamed, so a half-generated population is never used.
 */
export async function ensurePopulation(p: Population): Promise<string[]> {
  const dir = populationDir(p);
  const list = async () => (await readdir(dir)).filter((f) => f.endsWith(".json")).map((f) => join(dir, f));
  if (existsSync(join(dir, "..", "complete"))) return list();
  const cp = await classPath();
  const base = join(dir, "..");
  const tmp = `${base}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const started = Date.now();
  await run("java", [
    "-cp",
    cp,
    "App",
    "-s",
    String(p.seed),
    "-cs",
    String(p.seed),
    "-r",
    REFERENCE_DATE,
    ...p.args,
    `--exporter.baseDirectory=${tmp}`,
    "--exporter.fhir.export=true",
    "--exporter.csv.export=false",
    "--exporter.ccda.export=false",
    "--generate.thread_pool_size=1",
    "Massachusetts",
  ]);
  await writeFile(join(tmp, "complete"), `${new Date().toISOString()}\n`);
  await rm(base, { recursive: true, force: true });
  await rename(tmp, base);
  console.log(
    `synthea: ${p.name} (seed ${p.seed}) generated in ${((Date.now() - started) / 1000).toFixed(1)} s → ${dir}`,
  );
  return list();
}

/** Every test population, generated when missing. */
export async function ensureTestPopulations(): Promise<string[]> {
  const files: string[] = [];
  for (const p of TEST_POPULATIONS) files.push(...(await ensurePopulation(p)));
  return files;
}
