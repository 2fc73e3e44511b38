/**
 * Every figure has provenance: each committed `reports/*.json` says which commit it measured, when,
 * by which command, on how many cores under what load and with how many runs (testkit's
 * provenanceProblems), and its commit is one this repository knows (when it has the history); the
 * figures README.md, contracts/README.md, the package READMEs, docs/*.md and adr/*.md quote between report
 * markers are the reports' own (scripts/report-figures.ts). Reads files only; asserts no timing.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { provenanceProblems } from "@medrec/testkit";
import { figureDocuments, figuresIn, ROOT, readReports, render, staleFigures } from "./report-figures.ts";

const reportFiles = readdirSync(path.join(ROOT, "reports")).filter((f) => f.endsWith(".json"));

const git = (...args: string[]) =>
  execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
/** Whether git knows `commit`; undefined when this is no git checkout or a shallow one (it may lack it). */
function gitKnows(commit: string): boolean | undefined {
  try {
    if (git("rev-parse", "--is-shallow-repository") === "true") return undefined;
  } catch {
    return undefined;
  }
  try {
    git("cat-file", "-e", `${commit}^{commit}`);
    return true;
  } catch {
    return false;
  }
}

describe("reports/*.json provenance", () => {
  test("there are reports", () => {
    assert.ok(reportFiles.length > 0, "reports/ has no JSON report");
  });
  for (const file of reportFiles)
    test(`reports/${file}: commit, generatedAt, command, machine (cores, load before/after), runs`, (t) => {
      const report = JSON.parse(readFileSync(path.join(ROOT, "reports", file), "utf8")) as {
        commit?: string;
      };
      assert.deepEqual(provenanceProblems(report), [], `reports/${file} lacks provenance: rerun its bench`);
      const known = gitKnows(String(report.commit));
      if (known === undefined) t.diagnostic("no full git history here: the commit was not looked up");
      else assert.ok(known, `reports/${file}: commit ${report.commit} is not in this repository`);
    });
});

describe("figures quoted in the READMEs and docs", () => {
  const reports = readReports();
  const docs = figureDocuments();

  test("the documents read include the READMEs, contracts/README.md, docs/ and adr/", () => {
    for (const doc of [
      "README.md",
      "contracts/README.md",
      "packages/user-client/README.md",
      "docs/patient-dapp.md",
      "adr/0002-registry-of-mappings.md",
    ])
      assert.ok(docs.includes(doc), doc);
  });

  test("every report marker is well-formed and names a field its report has", () => {
    const problems: string[] = [];
    for (const doc of docs) {
      try {
        for (const f of figuresIn(readFileSync(path.join(ROOT, doc), "utf8")))
          try {
            render(f, reports);
          } catch (error) {
            problems.push(`${doc}:${f.line}: ${(error as Error).message}`);
          }
      } catch (error) {
        problems.push(`${doc}: ${(error as Error).message}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test("every quoted figure is its report's (node scripts/report-figures.ts --write after a bench run)", () => {
    const stale = staleFigures().map(
      (s) => `${s.doc}:${s.line} ${s.spec}: "${s.text}", the report says "${s.want}"`,
    );
    assert.deepEqual(stale, []);
  });

  test("every bench report is quoted somewhere", () => {
    const quoted = new Set(
      docs.flatMap((doc) => figuresIn(readFileSync(path.join(ROOT, doc), "utf8")).map((f) => f.report)),
    );
    const unquoted = ["anchor", "dapp", "gas", "records", "view", "gatekeeper"].filter((r) => !quoted.has(r));
    assert.deepEqual(unquoted, [], "a report whose figures no README quotes between report markers");
  });
});

describe("report markers (unit)", () => {
  const reports = new Map<string, unknown>([
    ["x", { a: { p50: 1120.4, list: [3.456] }, name: "Hilltop", s: 3390 }],
  ]);
  const one = (marker: string) => {
    const [f] = figuresIn(`before ${marker} after`);
    assert.ok(f);
    return render(f, reports);
  };
  test("default: numbers with thousands separators, as recorded", () => {
    assert.equal(one("<!-- report:x.a.p50 -->?<!-- /report -->"), "1,120.4");
  });
  test("behavior: scale and fixed decimals; array indices; strings as they are", () => {
    assert.equal(one("<!-- report:x.s/1000:1 -->?<!-- /report -->"), "3.4");
    assert.equal(one("<!-- report:x.a.p50:0 -->?<!-- /report -->"), "1,120");
    assert.equal(one("<!-- report:x.a.list.0:2 -->?<!-- /report -->"), "3.46");
    assert.equal(one("<!-- report:x.name -->?<!-- /report -->"), "Hilltop");
    assert.equal(one("<!-- report:x.name:3 -->?<!-- /report -->"), "Hil");
  });
  test("error: a missing field, a missing report, an unclosed marker", () => {
    assert.throws(() => one("<!-- report:x.a.p99 -->?<!-- /report -->"), /has no a\.p99/);
    assert.throws(() => one("<!-- report:y.a -->?<!-- /report -->"), /no reports\/y\.json/);
    assert.throws(() => figuresIn("<!-- report:x.a.p50 -->1,120"), /without a well-formed/);
  });
});
