import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { commandWithArgs, provenanceProblems, startReport, summarize } from "./report.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

test("summarize: n and nearest-rank percentiles, the same as percentile()", () => {
  const s = summarize([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
  assert.deepEqual(s, { n: 10, min: 1, p50: 5, p90: 9, p95: 10, p99: 10, max: 10, mean: 5.5 });
});

test("summarize: the median of five is the third, not the faster of two", () => {
  assert.equal(summarize([5, 1, 4, 2, 3]).p50, 3);
  assert.equal(summarize([5, 1, 4, 2, 3]).n, 5);
});

test("summarize: rounds to `digits`", () => {
  assert.deepEqual(summarize([1.234, 2.345], 1), {
    n: 2,
    min: 1.2,
    p50: 1.2,
    p90: 2.3,
    p95: 2.3,
    p99: 2.3,
    max: 2.3,
    mean: 1.8,
  });
});

test("edge: summarize with no samples says n 0 and NaN figures", () => {
  const s = summarize([]);
  assert.equal(s.n, 0);
  assert.ok(Number.isNaN(s.p50) && Number.isNaN(s.mean));
});

test("startReport().write: provenance first, then the body; provenanceProblems finds none", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "medrec-report-"));
  try {
    const file = path.join(dir, "sub", "x.json");
    const report = startReport("./medrec run bench:x", repo);
    const written = report.write(file, { runs: 3, latencyMs: summarize([1, 2, 3]) });
    const read = JSON.parse(readFileSync(file, "utf8"));
    assert.deepEqual(read, written);
    assert.deepEqual(Object.keys(read).slice(0, 5), ["commit", "dirty", "generatedAt", "command", "machine"]);
    assert.match(read.commit, /^[0-9a-f]{40}$/);
    assert.equal(read.machine.loadBefore.length, 3);
    assert.deepEqual(provenanceProblems(read), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("provenanceProblems: names each missing field", () => {
  assert.deepEqual(provenanceProblems(null), ["not a JSON object"]);
  const problems = provenanceProblems({
    commit: "abc",
    command: "node x.ts",
    machine: { cores: 2 },
    runs: [],
  });
  assert.deepEqual(problems, [
    "commit: not 40 hex digits",
    "generatedAt: not a date",
    "command: not a ./medrec command",
    "machine.loadBefore: not three load averages",
    "machine.loadAfter: not three load averages",
    "runs: missing (a count ≥ 1, the list of runs, or runs per measurement)",
  ]);
});

test("provenanceProblems: runs as a count, a list or per measurement", () => {
  const base = {
    commit: "0".repeat(40),
    generatedAt: "2026-01-01T00:00:00.000Z",
    command: "./medrec run bench:x",
    machine: { cores: 2, loadBefore: [0, 0, 0], loadAfter: [1, 1, 1] },
  };
  for (const runs of [1, [{ ms: 1 }], { timeline: 10 }])
    assert.deepEqual(provenanceProblems({ ...base, runs }), []);
  for (const runs of [0, 1.5, [], {}, "3"]) assert.equal(provenanceProblems({ ...base, runs }).length, 1);
});

test("commandWithArgs: the command with its options, quoted where a shell needs it", () => {
  assert.equal(commandWithArgs("./medrec run bench:x", []), "./medrec run bench:x");
  assert.equal(
    commandWithArgs("./medrec run bench:x", [
      "--runs",
      "3",
      "--parts",
      "timeline,revoke",
      "--out",
      "a b's.json",
    ]),
    "./medrec run bench:x --runs 3 --parts timeline,revoke --out 'a b'\\''s.json'",
  );
});
