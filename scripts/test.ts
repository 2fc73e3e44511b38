/**
 * `./medrec test`: every check and test suite of the monorepo, with one summary at the end.
 *
 * Steps run on at most two lanes (one on a one-core machine; MEDREC_TEST_LANES=1 runs them one at a
 * time): a step starts when the steps it `needs` have passed, steps with the same `exclusive` key
 * never overlap, and among the steps that may start the one listed first goes first. The real-geth
 * suites are the long chain (on this machine 39 of the 44 minutes the steps take one after another),
 * so they and what they need are listed first — a lane that frees goes to the next geth suite — and
 * the quick checks fill the other lane beside them. One step at a time streams its output; a step running
 * beside it is printed whole when it ends (scripts/test-runner.ts).
 *
 * At the end a table gives each step's time and counts (passed, failed, cancelled, skipped, todo,
 * read from the runner's closing lines by scripts/test-summary.ts) or what went wrong, then the
 * verdict line "N passed, N failed". "failed" counts every test that did not pass (failed and
 * cancelled) and one for each other problem: a suite without its summary, a runner that crashed or
 * exited non-zero with no failing test, a test file that did not load, a check or set-up step that
 * failed, a step not run because a step it needs failed. Any of them fails the run (exit code 1).
 *
 * To add a step: give it a name, its command, its `runner` if it is a test suite, what it `needs`,
 * and `exclusive: "real geth"` if it runs geth networks (or "apt" if it installs Debian packages).
 */
import os from "node:os";
import { runSteps, type Step } from "./test-runner.ts";
import { table, verdict } from "./test-summary.ts";

/** Installs Debian `packages` unless every one of `binaries` is on PATH already. */
const apt = (packages: string, binaries: readonly string[] = [packages]) => [
  "sh",
  "-c",
  `${binaries.map((b) => `command -v ${b} >/dev/null`).join(" && ")} || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y ${packages} || { apt-get update && apt-get install -y ${packages}; }; }`,
];

const filter = (pkg: string, script: string) => ["pnpm", "--filter", `@medrec/${pkg}`, "run", script];
const compile = "contracts: compile";
const compose = "chain-node: docker-compose";
const geth = "chain-node: geth";
const synthea = "database-manager: Synthea population";
const chromium = "user-client: Chromium";
const java = "Java 17 and Maven";
const fhirValidator = "testkit: FHIR validator";
const realGeth = "real geth";

export const steps: Step[] = [
  { name: compile, command: filter("contracts", "build") },
  // chain-node's compose test validates docker-compose.yml with `docker-compose config` (no engine needed).
  { name: compose, command: apt("docker-compose"), exclusive: "apt" },
  // Real geth v1.13.15 processes; builds geth into the cache first when it is missing (Go).
  { name: geth, command: filter("chain-node", "setup-geth") },
  // Synthea and HAPI FHIR's validator run on Java 17 and resolve their jars with Maven (from Maven
  // Central): Debian's packages when the machine lacks them.
  { name: java, command: apt("openjdk-17-jdk-headless maven", ["java", "javac", "mvn"]), exclusive: "apt" },
  // Synthea's FHIR for the records and timeline tests: generated once into ~/.cache/medrec (minutes
  // on a fresh machine, so it starts beside the geth build, before the quick checks).
  { name: synthea, command: filter("database-manager", "setup-synthea"), needs: [java], exclusive: "apt" },
  // HAPI FHIR's R4 validator: class path from Maven Central, compiled once into the cache.
  { name: fhirValidator, command: filter("testkit", "fhir-validate"), needs: [java] },
  {
    name: "chain-node: tests",
    command: filter("chain-node", "test"),
    runner: "node:test",
    needs: [compile, compose, geth],
    exclusive: realGeth,
  },
  {
    name: "database-manager: tests",
    command: filter("database-manager", "test"),
    runner: "node:test",
    needs: [compile, geth, synthea, fhirValidator],
    exclusive: realGeth,
  },
  // The dapp's browser tests drive Debian's Chromium (Playwright cannot download browsers here).
  { name: chromium, command: apt("chromium"), exclusive: "apt" },
  {
    name: "user-client: the dapp in Chromium against a local network",
    command: filter("user-client", "test:browser"),
    runner: "node:test",
    needs: [compile, geth, synthea, chromium],
    exclusive: realGeth,
  },
  {
    name: "system: ./medrec start, the black-box check, linkage",
    command: ["node", "--test", "--test-timeout=600000", "scripts/*.test.ts"],
    runner: "node:test",
    needs: [compile, compose, geth, synthea],
    exclusive: realGeth,
  },
  // The quick checks and unit suites: they fill the other lane beside the geth suites.
  { name: "lint", command: ["pnpm", "run", "lint"] },
  // After the compile: its own `hardhat build` then finds nothing to write.
  { name: "typecheck", command: ["pnpm", "run", "typecheck"], needs: [compile] },
  {
    name: "protocol: ABIs match the compiled contracts",
    command: filter("protocol", "generate:check"),
    needs: [compile],
  },
  { name: "contracts: tests", command: filter("contracts", "test"), runner: "hardhat", needs: [compile] },
  { name: "testkit: tests", command: filter("testkit", "test"), runner: "node:test" },
  { name: "user-client: unit tests", command: filter("user-client", "test"), runner: "vitest" },
  // serve.ts in its own process, 10,000 seeded hostile requests over raw sockets (a few seconds).
  {
    name: "user-client: the dapp server, fuzzed",
    command: filter("user-client", "test:server"),
    runner: "node:test",
  },
  {
    name: "protocol: tests",
    command: filter("protocol", "test"),
    runner: "node:test",
    needs: [compile, synthea],
  },
];

if (import.meta.main) {
  const lanes = Number(process.env.MEDREC_TEST_LANES) || Math.min(2, os.availableParallelism());
  const started = performance.now();
  const reports = await runSteps(steps, { lanes });
  const result = verdict(reports);
  console.log(`\n━━ summary (${lanes} lane${lanes === 1 ? "" : "s"}) ━━`);
  console.log(table(reports, performance.now() - started));
  console.log(result.line);
  process.exitCode = result.ok ? 0 : 1;
}
