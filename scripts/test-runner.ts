/**
 * The step runner and scheduler behind `./medrec test` (the steps themselves are in test.ts).
 *
 * A step starts once every step it `needs` has passed (a step whose needs failed is reported "not
 * run"), at most `lanes` steps run at once, and steps that share an `exclusive` key never overlap.
 * Among the steps that may start, the one declared first starts first.
 *
 * Output: one running step owns the console and streams; a step running beside it is buffered and
 * printed whole when it ends (after the owner's block, if the owner is still running). When the
 * owner ends, the longest-running other step prints what it has so far and streams from then on.
 */
import { spawn } from "node:child_process";
import { judge, type Runner, StepOutput, type StepReport, type StepResult } from "./test-summary.ts";

export interface Step {
  name: string;
  command: string[];
  /** Set for a test suite: its runner's summary gives the counts. Unset: the step passes by exiting 0. */
  runner?: Runner;
  /** Earlier steps (by name) that must pass before this one starts. */
  needs?: string[];
  /** Steps with the same key never run at the same time (one dpkg lock, the real-geth suites). */
  exclusive?: string;
}

type Stream = "stdout" | "stderr";
export interface Sink {
  write(stream: Stream, text: string): void;
}

export const processSink: Sink = {
  write: (stream, text) => void (stream === "stdout" ? process.stdout : process.stderr).write(text),
};

/** Runs one step's command; `onText` gets its output as decoded text, in order. */
export function runStep(
  step: Step,
  onText: (stream: Stream, text: string) => void = () => {},
): Promise<StepResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const [cmd, ...args] = step.command;
    const out = new StepOutput();
    // `./medrec test` is `pnpm run --silent test`, which hands npm_config_reporter=silent down: a
    // step's `pnpm -r run` would then print nothing of its packages' output (typecheck's errors).
    const { npm_config_reporter: _silent, ...env } = process.env;
    const child = spawn(cmd as string, args, { stdio: ["ignore", "pipe", "pipe"], env });
    const on = (stream: Stream) => (chunk: Buffer) => {
      const text = out.add(stream, chunk);
      if (text) onText(stream, text);
    };
    child.stdout.on("data", on("stdout"));
    child.stderr.on("data", on("stderr"));
    const done = (code: number | null, signal: string | null) => {
      const rest = out.end();
      if (rest) onText("stdout", rest);
      resolve({
        name: step.name,
        ...(step.runner ? { runner: step.runner } : {}),
        code,
        signal,
        output: out.text,
        ms: performance.now() - started,
      });
    };
    // A command that cannot start reports "error" and then "close" (code -2): the output names it.
    child.on("error", (error) => onText("stderr", `${step.name}: ${error.message}\n`));
    child.on("close", done);
  });
}

/** Checks the graph: unique names, and needs that name earlier steps (so it has no cycle). */
export function checkSteps(steps: Step[]): void {
  const seen = new Set<string>();
  for (const step of steps) {
    if (seen.has(step.name)) throw new Error(`two steps are named "${step.name}"`);
    for (const need of step.needs ?? [])
      if (!seen.has(need)) throw new Error(`"${step.name}" needs "${need}", which is not an earlier step`);
    seen.add(step.name);
  }
}

interface Running {
  step: Step;
  held: [Stream, string][];
}

/** Runs the steps (with `run`, a stand-in for runStep in tests); resolves with their reports in the order declared. */
export function runSteps(
  steps: Step[],
  options: { lanes: number; sink?: Sink; run?: typeof runStep },
): Promise<StepReport[]> {
  checkSteps(steps);
  const sink = options.sink ?? processSink;
  const run = options.run ?? runStep;
  const lanes = Math.max(1, options.lanes);
  const reports = new Map<string, StepReport>();
  const pending = [...steps];
  const running: Running[] = [];
  let owner: Running | undefined;
  const finished: [Stream, string][][] = [];
  let atLineStart = true;
  const write = (stream: Stream, text: string) => {
    if (!text) return;
    sink.write(stream, text);
    atLineStart = text.endsWith("\n");
  };
  const newline = () => !atLineStart && write("stdout", "\n");
  const header = (step: Step) => `\n━━ ${step.name} ━━\n`;
  /** A whole block: printed now when no step streams, else after the streaming one. */
  const emit = (block: [Stream, string][]) => {
    if (owner) finished.push(block);
    else {
      newline();
      for (const [s, t] of block) write(s, t);
    }
  };
  const footer = (r: StepReport) =>
    `━━ ${r.name}: ${r.ok ? "ok" : `FAILED (${r.problems.join("; ")})`}, ${(r.ms / 1000).toFixed(1)} s ━━\n`;

  return new Promise((resolve) => {
    const pump = () => {
      for (let changed = true; changed; ) {
        changed = false;
        for (const step of [...pending]) {
          const needs = step.needs ?? [];
          const blockedBy = needs.filter((n) => reports.has(n) && !reports.get(n)?.ok);
          if (blockedBy.length > 0) {
            pending.splice(pending.indexOf(step), 1);
            const report = judge({ name: step.name, code: null, signal: null, output: "", ms: 0, blockedBy });
            reports.set(step.name, report);
            emit([["stdout", `${header(step)}${footer(report)}`]]);
            changed = true;
            continue;
          }
          if (running.length >= lanes) continue;
          if (!needs.every((n) => reports.has(n))) continue;
          if (step.exclusive && running.some((r) => r.step.exclusive === step.exclusive)) continue;
          pending.splice(pending.indexOf(step), 1);
          start(step);
          changed = true;
        }
      }
      if (pending.length === 0 && running.length === 0)
        resolve(steps.map((s) => reports.get(s.name) as StepReport));
    };

    const start = (step: Step) => {
      const entry: Running = { step, held: [] };
      running.push(entry);
      if (!owner) {
        owner = entry;
        newline();
        write("stdout", header(step));
      }
      void run(step, (stream, text) => {
        if (entry === owner) write(stream, text);
        else entry.held.push([stream, text]);
      }).then((result) => {
        const report = judge(result);
        reports.set(step.name, report);
        running.splice(running.indexOf(entry), 1);
        if (entry === owner) {
          newline();
          write("stdout", footer(report));
          for (const block of finished.splice(0)) for (const [s, t] of block) write(s, t);
          owner = running[0];
          if (owner) {
            write("stdout", header(owner.step));
            for (const [s, t] of owner.held.splice(0)) write(s, t);
          }
        } else {
          const held = entry.held.splice(0);
          const ends = held.at(-1)?.[1].endsWith("\n") ?? true;
          emit([["stdout", header(step)], ...held, ["stdout", `${ends ? "" : "\n"}${footer(report)}`]]);
        }
        pump();
      });
    };

    pump();
  });
}
