/**
 * `./medrec test`: every check and test suite of the monorepo, in order, with one summary at the end.
 * Each step's own output streams through; counts are read from the runners' closing lines
 * (Hardhat's "N passing / N failing", node:test's "ℹ pass N / ℹ fail N", Vitest's "Tests  N failed | N passed").
 */
import { spawn } from "node:child_process";

interface Step {
  name: string;
  command: string[];
  counts?: boolean;
}

const steps: Step[] = [
  { name: "lint", command: ["pnpm", "run", "lint"] },
  { name: "contracts: compile", command: ["pnpm", "--filter", "@medrec/contracts", "run", "build"] },
  {
    name: "protocol: ABIs match the compiled contracts",
    command: ["pnpm", "--filter", "@medrec/protocol", "run", "generate:check"],
  },
  { name: "typecheck", command: ["pnpm", "run", "typecheck"] },
  {
    name: "contracts: tests",
    command: ["pnpm", "--filter", "@medrec/contracts", "run", "test"],
    counts: true,
  },
  // Synthea's FHIR for the records and timeline tests: generated once into ~/.cache/medrec (Java 17, Maven).
  {
    name: "database-manager: Synthea population",
    command: ["pnpm", "--filter", "@medrec/database-manager", "run", "setup-synthea"],
  },
  { name: "protocol: tests", command: ["pnpm", "--filter", "@medrec/protocol", "run", "test"], counts: true },
  { name: "testkit: tests", command: ["pnpm", "--filter", "@medrec/testkit", "run", "test"], counts: true },
  // chain-node's compose test validates docker-compose.yml with `docker-compose config` (no engine needed).
  {
    name: "chain-node: docker-compose",
    command: [
      "sh",
      "-c",
      "command -v docker-compose >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y docker-compose || { apt-get update && apt-get install -y docker-compose; }; }",
    ],
  },
  // Real geth v1.13.15 processes; builds geth into the cache first when it is missing.
  { name: "chain-node: geth", command: ["pnpm", "--filter", "@medrec/chain-node", "run", "setup-geth"] },
  {
    name: "chain-node: tests",
    command: ["pnpm", "--filter", "@medrec/chain-node", "run", "test"],
    counts: true,
  },
  {
    name: "database-manager: tests",
    command: ["pnpm", "--filter", "@medrec/database-manager", "run", "test"],
    counts: true,
  },
  {
    name: "user-client: unit tests",
    command: ["pnpm", "--filter", "@medrec/user-client", "run", "test"],
    counts: true,
  },
  // The dapp's browser tests drive Debian's Chromium (Playwright cannot download browsers here).
  {
    name: "user-client: Chromium",
    command: [
      "sh",
      "-c",
      "command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; }",
    ],
  },
  {
    name: "user-client: the dapp in Chromium against a local network",
    command: ["pnpm", "--filter", "@medrec/user-client", "run", "test:browser"],
    counts: true,
  },
  {
    name: "system: ./medrec start, the black-box check, linkage",
    command: ["node", "--test", "--test-timeout=600000", "scripts/*.test.ts"],
    counts: true,
  },
];

function run(step: Step): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const [cmd, ...args] = step.command;
    const child = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const tee = (chunk: Buffer, to: NodeJS.WriteStream) => {
      output += chunk.toString();
      to.write(chunk);
    };
    child.stdout.on("data", (c: Buffer) => tee(c, process.stdout));
    child.stderr.on("data", (c: Buffer) => tee(c, process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");

function countsOf(output: string): { passed: number; failed: number } {
  const text = stripAnsi(output);
  const last = (re: RegExp) => {
    const all = [...text.matchAll(re)];
    const m = all[all.length - 1];
    return m ? Number(m[1]) : 0;
  };
  return {
    passed:
      last(/^\s*(\d+) passing/gm) +
      last(/^ℹ pass (\d+)$/gm) +
      last(/^\s*Tests\s+(?:\d+ failed \| )?(\d+) passed/gm),
    failed: last(/^\s*(\d+) failing/gm) + last(/^ℹ fail (\d+)$/gm) + last(/^\s*Tests\s+(\d+) failed/gm),
  };
}

let passed = 0;
let failed = 0;
const failedSteps: string[] = [];
const started = Date.now();
for (const step of steps) {
  console.log(`\n━━ ${step.name} ━━`);
  const { code, output } = await run(step);
  if (step.counts) {
    const c = countsOf(output);
    passed += c.passed;
    failed += c.failed;
    if (code === 0 && c.passed === 0) {
      console.error(`${step.name}: ran no test`);
      failedSteps.push(`${step.name} (ran no test)`);
      continue;
    }
  }
  if (code !== 0) failedSteps.push(step.name);
}

console.log(`\n━━ summary (${((Date.now() - started) / 1000).toFixed(0)} s) ━━`);
if (failedSteps.length > 0) console.log(`failed steps: ${failedSteps.join(", ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failedSteps.length > 0 || failed > 0 ? 1 : 0;
