/**
 * What `./medrec test` makes of a step's output: pure functions over the text a step printed
 * (no processes, no clock), so that recorded runner outputs in scripts/fixtures/ can test them.
 *
 * A test step names its runner and the runner's closing lines give the counts:
 *   node:test  "ℹ pass N", "ℹ fail N", "ℹ cancelled N" (a test past --test-timeout), "ℹ skipped N", "ℹ todo N";
 *              a test file that fails to load or exits mid-run is one failing test named after the file.
 *   Hardhat 3  "N passing (…)", "N failing (…)", "N skipped (…)", "N todo (…)" (Solidity and node:test
 *              together), then the numbered failures; a node:test test that timed out is numbered there
 *              but left out of "failing", so numbered failures beyond "failing" count as cancelled.
 *   Vitest     "Test Files  N failed | N passed (N)", "Tests  N failed | N passed | N skipped | N todo (N)",
 *              "Errors  N errors"; a file that fails to load ("FAIL  f [ f ]") has no test in "Tests".
 * The last summary in the output counts (a step runs its runner once).
 */
import { StringDecoder } from "node:string_decoder";

export type Runner = "node:test" | "hardhat" | "vitest";

export interface Counts {
  passed: number;
  failed: number;
  cancelled: number;
  skipped: number;
  todo: number;
}

export interface Summary extends Counts {
  /** Test files that failed as a whole (did not load, or exited mid-run). */
  files: string[];
  /** Failures the runner did not count in `failed` (Vitest's files that did not load, its unhandled errors). */
  uncounted: number;
  /** The runner said the run failed (Hardhat's "Test run failed") */
  runnerFailed: boolean;
}

/** One step as it ended: `runner` unset for a check or set-up step (it passes by exiting 0). */
export interface StepResult {
  name: string;
  runner?: Runner;
  code: number | null;
  signal: string | null;
  output: string;
  ms: number;
  /** Set when the step did not run: the steps it needs that did not pass. */
  blockedBy?: string[];
}

export interface StepReport extends Counts {
  name: string;
  ms: number;
  /** What counts towards the run's "N failed": failed + cancelled + one per other problem. */
  failures: number;
  /** Why the step did not pass, in words; empty when it passed. */
  problems: string[];
  ok: boolean;
  tests: boolean;
}

/** A step's two pipes, each decoded as one UTF-8 stream (a character split across chunks stays whole). */
export class StepOutput {
  text = "";
  readonly #decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  /** Decodes a chunk, adds it to `text` and returns what it completed. */
  add(stream: "stdout" | "stderr", chunk: Buffer | string): string {
    const s = typeof chunk === "string" ? chunk : this.#decoders[stream].write(chunk);
    this.text += s;
    return s;
  }
  end(): string {
    const s = this.#decoders.stdout.end() + this.#decoders.stderr.end();
    this.text += s;
    return s;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
export const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");

const last = (text: string, re: RegExp): RegExpMatchArray | undefined => [...text.matchAll(re)].at(-1);
const num = (m: RegExpMatchArray | undefined, group = 1) => (m ? Number(m[group]) : 0);

function nodeTest(text: string): Summary | undefined {
  const field = (name: string) => last(text, new RegExp(`^ℹ ${name} (\\d+)\\s*$`, "gm"));
  const pass = field("pass");
  const fail = field("fail");
  if (!pass || !fail) return undefined;
  const failing = text.slice(text.lastIndexOf("✖ failing tests:"));
  const files = [...failing.matchAll(/^✖ (\S+\.[cm]?[jt]s) \([\d.]+m?s\)\n\s+'test failed'/gm)].map(
    (m) => m[1] as string,
  );
  return {
    passed: num(pass),
    failed: num(fail),
    cancelled: num(field("cancelled")),
    skipped: num(field("skipped")),
    todo: num(field("todo")),
    files: [...new Set(files)],
    uncounted: 0,
    runnerFailed: false,
  };
}

function hardhat(text: string): Summary | undefined {
  const passing = last(text, /^[ \t]*(\d+) passing\b.*$/gm);
  if (!passing || passing.index === undefined) return undefined;
  // The summary block: the lines right after "N passing" that say "N failing|skipped|todo|cancelled".
  const after = text.slice(passing.index + passing[0].length + 1);
  const block = /^(?:[ \t]*\d+ (?:failing|skipped|todo|cancelled)\b.*\n?)*/.exec(after)?.[0] ?? "";
  const count = (word: string) => num(new RegExp(`^[ \\t]*(\\d+) ${word}\\b`, "m").exec(block) ?? undefined);
  const failed = count("failing");
  const reasons = [...after.slice(block.length).matchAll(/^ {2}(\d+)\) (.*?):?$/gm)];
  const numbered = Math.max(0, ...reasons.map((m) => Number(m[1])));
  const files = reasons.map((m) => m[2] as string).filter((name) => /\.test\.[cm]?[jt]s$/.test(name));
  return {
    passed: num(passing),
    failed,
    cancelled: count("cancelled") + Math.max(0, numbered - failed - count("cancelled")),
    skipped: count("skipped"),
    todo: count("todo"),
    files: [...new Set(files)],
    uncounted: 0,
    runnerFailed: /^Test run failed$/m.test(after),
  };
}

function vitest(text: string): Summary | undefined {
  const tests = last(text, /^\s*Tests\s+(.*)\((\d+)\)\s*$/gm);
  const testFiles = last(text, /^\s*Test Files\s+(.*)\((\d+)\)\s*$/gm);
  if (!tests && !testFiles) return undefined;
  const part = (m: RegExpMatchArray | undefined, word: string) =>
    num(m ? (new RegExp(`(\\d+) ${word}\\b`).exec(m[1] as string) ?? undefined) : undefined);
  const failedFiles = part(testFiles, "failed");
  const failed = part(tests, "failed");
  const files = [...new Set([...text.matchAll(/^\s*FAIL\s+(\S+) \[ \1 \]/gm)].map((m) => m[1] as string))];
  // A file that did not load has no test in "Tests"; when none is named, the failed files say how many.
  const unloaded = files.length > 0 ? files.length : failed === 0 ? failedFiles : 0;
  const errors = num(last(text, /^\s*Errors\s+(\d+) errors?\b/gm));
  return {
    passed: part(tests, "passed"),
    failed,
    cancelled: 0,
    skipped: part(tests, "skipped"),
    todo: part(tests, "todo"),
    files,
    uncounted: unloaded + errors,
    runnerFailed: errors > 0,
  };
}

/** The counts in a runner's output, or undefined when its summary is missing. */
export function parseSummary(runner: Runner, output: string): Summary | undefined {
  const text = stripAnsi(output).replace(/\r\n?/g, "\n");
  return runner === "hardhat" ? hardhat(text) : runner === "vitest" ? vitest(text) : nodeTest(text);
}

const exit = (r: StepResult) => (r.signal ? `killed by ${r.signal}` : `exited ${r.code}`);

/** Whether a step passed, its counts and, when it did not, why. */
export function judge(r: StepResult): StepReport {
  const zero: Counts = { passed: 0, failed: 0, cancelled: 0, skipped: 0, todo: 0 };
  const base = { name: r.name, ms: r.ms, tests: r.runner !== undefined };
  if (r.blockedBy) {
    const problems = [`not run: needs ${r.blockedBy.join(", ")}`];
    return { ...base, ...zero, failures: 1, problems, ok: false };
  }
  const crashed = r.signal !== null || r.code !== 0;
  if (!r.runner) {
    const problems = crashed ? [exit(r)] : [];
    return { ...base, ...zero, failures: problems.length, problems, ok: !crashed };
  }
  const s = parseSummary(r.runner, r.output);
  if (!s) {
    const problems = [crashed ? `crashed: ${exit(r)} before its summary` : "no summary line"];
    return { ...base, ...zero, failures: 1, problems, ok: false };
  }
  const problems: string[] = [];
  if (s.failed > 0) problems.push(`${s.failed} failed`);
  if (s.cancelled > 0) problems.push(`${s.cancelled} cancelled (timed out)`);
  for (const f of s.files) problems.push(`file failed: ${f}`);
  if (s.files.length === 0 && s.uncounted > 0) problems.push(`${s.uncounted} failed outside a test`);
  let failures = s.failed + s.cancelled + s.uncounted;
  const other = r.signal
    ? exit(r)
    : s.runnerFailed && failures === 0
      ? "the runner reported a failure"
      : r.code !== 0 && failures === 0
        ? `${exit(r)} with no failing test`
        : r.code === 0 && s.passed + s.failed + s.cancelled + s.skipped + s.todo === 0
          ? "ran no test"
          : undefined;
  if (other) {
    problems.push(other);
    failures += 1;
  } else if (r.code !== 0 && failures === 0) failures = 1;
  const { files: _files, uncounted: _uncounted, runnerFailed: _runnerFailed, ...counts } = s;
  return { ...base, ...counts, failures, problems, ok: problems.length === 0 && r.code === 0 };
}

export const formatMs = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
};

/**
 * The table at the end of `./medrec test`: one row per step in the order declared —
 * its wall-clock time, its counts (blank for a check or set-up step), and "ok" or what went wrong;
 * then the run's wall-clock time and the sum of the steps' times (more than the wall clock when
 * steps ran side by side). The line after it is the verdict: "N passed, N failed".
 */
export function table(reports: StepReport[], wallMs: number): string {
  const head = ["step", "time", "passed", "failed", "cancelled", "skipped", "todo", "result"];
  const rows = reports.map((r) => [
    r.name,
    formatMs(r.ms),
    ...(r.tests ? [r.passed, r.failed, r.cancelled, r.skipped, r.todo].map(String) : ["", "", "", "", ""]),
    r.ok ? "ok" : `FAILED: ${r.problems.join("; ")}`,
  ]);
  const steps = reports.reduce((sum, r) => sum + r.ms, 0);
  const all = [head, ...rows];
  const width = head.map((_, i) => Math.max(...all.map((row) => (row[i] as string).length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) =>
        i === row.length - 1
          ? cell
          : i === 0
            ? cell.padEnd(width[i] as number)
            : cell.padStart(width[i] as number),
      )
      .join("  ");
  return [
    ...all.map(line),
    `wall clock ${formatMs(wallMs)}; the steps' times add up to ${formatMs(steps)}`,
  ].join("\n");
}

/** The run's verdict: every test that passed, and every one that did not (plus one per other problem). */
export function verdict(reports: StepReport[]): {
  passed: number;
  failed: number;
  ok: boolean;
  line: string;
} {
  const passed = reports.reduce((sum, r) => sum + r.passed, 0);
  const failed = reports.reduce((sum, r) => sum + r.failures, 0);
  const ok = reports.every((r) => r.ok);
  return { passed, failed, ok, line: `${passed} passed, ${failed} failed` };
}
