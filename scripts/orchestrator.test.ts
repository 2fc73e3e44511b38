/**
 * `./medrec test`'s summary and scheduler, on recorded runner outputs (scripts/fixtures/, captured
 * under Node 24.21, Hardhat 3.18 and Vitest 5.1) and on real child processes that pass, crash or sleep.
 *
 * The fixtures: node-test-testkit-pass (testkit's suite), hardhat-contracts-pass (contracts' suite),
 * vitest-user-client-pass (user-client's unit tests); and small files written to show one thing each:
 * node-test-pass (a suite with a skipped and a todo test), node-test-cancelled (`--test-timeout=500`
 * and a test that waits 5 s), node-test-exit-midrun (a test calls process.exit(3)), node-test-killed
 * (`node --test` killed with SIGKILL mid-run), node-test-load-failure and vitest-load-failure (a test
 * file importing a missing module, beside a failing test for Vitest), hardhat-failing (a failing
 * Solidity test, a file that does not load, a failing, a skipped and a timed-out node:test test).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { steps as medrecSteps } from "./test.ts";
import { checkSteps, runStep, runSteps, type Sink, type Step } from "./test-runner.ts";
import { judge, parseSummary, type Runner, StepOutput, type StepResult, verdict } from "./test-summary.ts";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const fixture = (name: string) => readFileSync(path.join(fixtures, `${name}.txt`));

/** A recorded run fed through the decoder in `size`-byte chunks (splitting multi-byte characters). */
function recorded(name: string, runner: Runner, code: number | null, signal: string | null = null, size = 7) {
  const bytes = fixture(name);
  const out = new StepOutput();
  for (let i = 0; i < bytes.length; i += size) out.add("stdout", bytes.subarray(i, i + size));
  out.end();
  return judge({ name, runner, code, signal, output: out.text, ms: 1000 });
}

const counts = (r: ReturnType<typeof judge>) => [r.passed, r.failed, r.cancelled, r.skipped, r.todo];

describe("test summary: recorded runner outputs", () => {
  test("default: a passing node:test run counts passed, skipped and todo, and passes", () => {
    const r = recorded("node-test-pass", "node:test", 0);
    assert.deepEqual(counts(r), [3, 0, 0, 1, 1]);
    assert.equal(r.ok, true);
    assert.equal(r.failures, 0);
    const testkit = recorded("node-test-testkit-pass", "node:test", 0);
    assert.deepEqual([testkit.passed, testkit.ok], [17, true]);
  });

  test("behavior: a test past --test-timeout (ℹ cancelled 1, ℹ fail 0) fails the run", () => {
    const r = recorded("node-test-cancelled", "node:test", 1);
    assert.deepEqual(counts(r), [3, 0, 1, 1, 1]);
    assert.equal(r.ok, false);
    assert.equal(r.failures, 1);
    assert.deepEqual(r.problems, ["1 cancelled (timed out)"]);
  });

  test("behavior: a test file that exits mid-run or does not load is named and counted", () => {
    const exits = recorded("node-test-exit-midrun", "node:test", 1);
    assert.deepEqual([exits.passed, exits.failures, exits.ok], [2, 1, false]);
    assert.deepEqual(exits.problems, ["1 failed", "file failed: exits.test.ts"]);
    const broken = recorded("node-test-load-failure", "node:test", 1);
    assert.deepEqual([broken.passed, broken.failures, broken.ok], [3, 1, false]);
    assert.deepEqual(broken.problems, ["1 failed", "file failed: broken.test.ts"]);
  });

  test("behavior: a run killed before its summary is a crash, counted as one failure", () => {
    const r = recorded("node-test-killed", "node:test", null, "SIGKILL");
    assert.deepEqual(counts(r), [0, 0, 0, 0, 0]);
    assert.deepEqual([r.ok, r.failures], [false, 1]);
    assert.deepEqual(r.problems, ["crashed: killed by SIGKILL before its summary"]);
    const exited = recorded("node-test-killed", "node:test", 0);
    assert.deepEqual([exited.ok, exited.problems], [false, ["no summary line"]]);
  });

  test("default: Hardhat's combined Solidity and node:test summary", () => {
    const r = recorded("hardhat-contracts-pass", "hardhat", 0);
    assert.deepEqual(counts(r), [425, 0, 0, 0, 0]);
    assert.equal(r.ok, true);
  });

  test("behavior: Hardhat's failures, a file that did not load, and a timed-out test it leaves out of 'failing'", () => {
    const r = recorded("hardhat-failing", "hardhat", 1);
    assert.deepEqual(counts(r), [2, 3, 1, 1, 0]);
    assert.equal(r.failures, 4);
    assert.deepEqual(r.problems, [
      "3 failed",
      "1 cancelled (timed out)",
      "file failed: /tmp/hh/test/Broken.test.ts",
    ]);
  });

  test("default: Vitest's summary", () => {
    const r = recorded("vitest-user-client-pass", "vitest", 0);
    assert.deepEqual(counts(r), [22, 0, 0, 0, 0]);
    assert.equal(r.ok, true);
  });

  test("behavior: a Vitest file that fails to load counts as a failure beside the failing test", () => {
    const r = recorded("vitest-load-failure", "vitest", 1);
    assert.deepEqual(counts(r), [3, 1, 0, 1, 1]);
    assert.equal(r.failures, 2);
    assert.deepEqual(r.problems, ["1 failed", "file failed: src/broken.test.ts"]);
    // Without the failing test's lines, "Test Files  1 failed" alone still fails the step.
    const alone = judge({
      name: "vitest",
      runner: "vitest",
      code: 1,
      signal: null,
      ms: 1,
      output: " Test Files  1 failed | 2 passed (3)\n      Tests  5 passed (5)\n",
    });
    assert.deepEqual([alone.failures, alone.ok, alone.problems], [1, false, ["1 failed outside a test"]]);
  });

  test("behavior: 'ℹ' split across two chunks still counts (one decoder per stream)", () => {
    const bytes = fixture("node-test-cancelled");
    const at = bytes.indexOf("ℹ cancelled") + 1; // inside the three bytes of ℹ
    const out = new StepOutput();
    const seen = out.add("stdout", bytes.subarray(0, at)) + out.add("stdout", bytes.subarray(at)) + out.end();
    assert.equal(seen, bytes.toString("utf8"));
    assert.equal(parseSummary("node:test", out.text)?.cancelled, 1);
    // Each chunk decoded on its own (what `chunk.toString()` did) loses that line.
    const apart = bytes.subarray(0, at).toString() + bytes.subarray(at).toString();
    assert.equal(parseSummary("node:test", apart)?.cancelled, 0);
  });

  test("behavior: a non-zero exit, a summary with no test, or a failed check fails the run and counts", () => {
    const pass = fixture("node-test-pass").toString();
    const base: StepResult = { name: "s", runner: "node:test", code: 0, signal: null, output: pass, ms: 1 };
    const { runner: _runner, ...check } = base;
    const cases: [StepResult, string][] = [
      [{ ...base, code: 1 }, "exited 1 with no failing test"],
      [{ ...base, code: null, signal: "SIGTERM" }, "killed by SIGTERM"],
      [{ ...base, output: pass.replace(/ℹ (pass|skipped|todo) \d+/g, "ℹ $1 0") }, "ran no test"],
      [{ ...check, code: 2 }, "exited 2"],
      [{ ...base, blockedBy: ["contracts: compile"] }, "not run: needs contracts: compile"],
    ];
    for (const [result, problem] of cases) {
      const r = judge(result);
      assert.deepEqual([r.ok, r.failures, r.problems.at(-1)], [false, 1, problem], problem);
    }
    const v = verdict([judge(base), judge({ ...base, code: 1 })]);
    assert.deepEqual([v.line, v.ok], ["6 passed, 1 failed", false]);
  });
});

const node = process.execPath;
const sink = () => {
  const lines: string[] = [];
  return { lines, sink: { write: (_stream, text) => void lines.push(text) } satisfies Sink };
};

describe("test runner: real child processes", () => {
  test("behavior: a suite that crashes after printing part of its output fails the run", async () => {
    const crash = `process.stdout.write("✔ one (1ms)\\n"); process.kill(process.pid, "SIGKILL");`;
    const result = await runStep({ name: "crash", command: [node, "-e", crash], runner: "node:test" });
    assert.deepEqual([result.code, result.signal, result.output], [null, "SIGKILL", "✔ one (1ms)\n"]);
    const report = judge(result);
    assert.deepEqual(
      [report.ok, report.failures, report.problems],
      [false, 1, ["crashed: killed by SIGKILL before its summary"]],
    );
    const { sink: s } = sink();
    const reports = await runSteps([{ name: "crash", command: [node, "-e", crash], runner: "node:test" }], {
      lanes: 2,
      sink: s,
    });
    assert.deepEqual([verdict(reports).line, verdict(reports).ok], ["0 passed, 1 failed", false]);
  });

  test("behavior: a command that cannot start fails its step", async () => {
    const report = judge(await runStep({ name: "missing", command: ["/nonexistent/medrec-tool"] }));
    assert.equal(report.ok, false);
  });

  test("behavior: two lanes, needs and exclusive keys; a concurrent step's output is printed whole", async () => {
    const sleep = (ms: number, text: string): string[] => [
      node,
      "-e",
      `console.log("${text} start"); setTimeout(() => console.log("${text} end"), ${ms});`,
    ];
    const steps: Step[] = [
      { name: "a", command: sleep(400, "a") },
      { name: "b", command: sleep(100, "b") },
      { name: "c", command: sleep(100, "c"), needs: ["b"], exclusive: "geth" },
      { name: "d", command: sleep(100, "d"), exclusive: "geth" },
      { name: "e", command: [node, "-e", "process.exit(1)"] },
      { name: "f", command: sleep(10, "f"), needs: ["e"] },
    ];
    const { lines, sink: s } = sink();
    const started = performance.now();
    const reports = await runSteps(steps, { lanes: 2, sink: s });
    const wall = performance.now() - started;
    const text = lines.join("");
    assert.deepEqual(
      reports.map((r) => [r.name, r.ok]),
      [
        ["a", true],
        ["b", true],
        ["c", true],
        ["d", true],
        ["e", false],
        ["f", false],
      ],
    );
    assert.deepEqual(reports.at(-1)?.problems, ["not run: needs e"]);
    // a streams; b, c, d and e run beside it one after the other, each printed as one block.
    for (const name of ["b", "c", "d"])
      assert.match(text, new RegExp(`━━ ${name} ━━\\n${name} start\\n${name} end\\n━━ ${name}: ok`));
    assert.ok(text.indexOf("a end") < text.indexOf("━━ b ━━"), "held blocks follow the streaming step");
    const serial = reports.reduce((sum, r) => sum + r.ms, 0);
    assert.ok(wall < serial, `wall ${wall.toFixed(0)} ms < sum of steps ${serial.toFixed(0)} ms`);
  });

  test("edge: a step that needs a later or unknown step is refused", () => {
    assert.throws(
      () => runSteps([{ name: "x", command: [node], needs: ["y"] }], { lanes: 1 }),
      /"x" needs "y", which is not an earlier step/,
    );
  });
});

describe("test runner: ./medrec test's own steps", () => {
  test("default: a valid graph; every package suite names its runner; geth suites and apt installs exclusive", () => {
    checkSteps(medrecSteps);
    for (const step of medrecSteps) {
      const script = step.command.at(-1) ?? "";
      if (/^test(:|$)/.test(script) || step.command.includes("--test")) assert.ok(step.runner, step.name);
      if (step.command.join(" ").includes("apt-get")) assert.equal(step.exclusive, "apt", step.name);
    }
    const geth = medrecSteps.filter((s) => s.exclusive === "real geth").map((s) => s.name);
    assert.equal(geth.length, 4);
  });

  test("behavior: scheduled with their measured times, no two geth suites or apt installs overlap and needs come first", async () => {
    // Seconds per step on this 2-core machine (a cached run, ./medrec test of 2026-12-07, load ~12); 1 s runs as 0.2 ms.
    const seconds: Record<string, number> = {
      "contracts: compile": 3,
      "chain-node: docker-compose": 39,
      "chain-node: geth": 2,
      "database-manager: Synthea population": 6,
      "chain-node: tests": 339,
      lint: 4,
      typecheck: 142,
      "protocol: ABIs match the compiled contracts": 1,
      "contracts: tests": 17,
      "testkit: tests": 8,
      "user-client: unit tests": 14,
      "protocol: tests": 28,
      "database-manager: tests": 1216,
      "user-client: Chromium": 1,
      "user-client: the dapp in Chromium against a local network": 596,
      "system: ./medrec start, the black-box check, linkage": 201,
    };
    const spans = new Map<string, [number, number]>();
    const t0 = performance.now();
    let running = 0;
    let most = 0;
    const run = async (step: Step): Promise<StepResult> => {
      const start = performance.now() - t0;
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, (seconds[step.name] ?? 1) * 0.2));
      running--;
      spans.set(step.name, [start, performance.now() - t0]);
      const output =
        step.runner === "hardhat"
          ? "1 passing\n"
          : step.runner === "vitest"
            ? "Tests  1 passed (1)\n"
            : "ℹ pass 1\nℹ fail 0\n";
      return {
        name: step.name,
        ...(step.runner ? { runner: step.runner } : {}),
        code: 0,
        signal: null,
        output,
        ms: 1,
      };
    };
    const reports = await runSteps(medrecSteps, { lanes: 2, sink: sink().sink, run });
    assert.ok(reports.every((r) => r.ok));
    assert.equal(most, 2);
    const overlap = (a: string, b: string) => {
      const [s1, e1] = spans.get(a) as [number, number];
      const [s2, e2] = spans.get(b) as [number, number];
      return s1 < e2 && s2 < e1;
    };
    for (const key of ["real geth", "apt"]) {
      const group = medrecSteps.filter((s) => s.exclusive === key).map((s) => s.name);
      for (const a of group) for (const b of group) if (a < b) assert.ok(!overlap(a, b), `${a} / ${b}`);
    }
    for (const step of medrecSteps)
      for (const need of step.needs ?? [])
        assert.ok(
          (spans.get(need)?.[1] ?? Infinity) <= (spans.get(step.name)?.[0] ?? 0),
          `${need} before ${step.name}`,
        );
  });
});
