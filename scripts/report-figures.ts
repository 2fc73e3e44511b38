/**
 * The figures the READMEs and docs quote, tied to `reports/*.json`. A figure is written between
 * markers naming the report field it comes from:
 *
 *   unlock → timeline p50 <!-- report:dapp.timelineMs.p50 -->1,120<!-- /report --> ms
 *   all verified <!-- report:dapp.lifetime.allVerifiedMs.p50/1000:1 -->3.4<!-- /report --> s
 *
 * `dapp` is `reports/dapp.json`; the path is dot-separated (array indices as numbers); `/1000`
 * (or `*100`) scales the value and `:1` fixes its decimals; numbers are written with thousands
 * separators (en-US), strings as they are (`:7` keeps their first 7 characters: a commit, a date). `scripts/reports.test.ts` fails when a quoted figure
 * differs from its report; `node scripts/report-figures.ts --write` rewrites every quoted figure
 * from the reports (after a bench run), without `--write` it lists the ones that differ.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The documents whose figures must come from reports/: README.md, contracts/README.md, every package README, docs/*.md and adr/*.md. */
export function figureDocuments(root: string = ROOT): string[] {
  const docs = ["README.md", "contracts/README.md"];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== "node_modules" && !entry.name.startsWith(".")) walk(rel);
      else if (entry.isFile() && entry.name === "README.md") docs.push(rel);
    }
  };
  walk("packages");
  for (const dir of ["docs", "adr"])
    for (const f of readdirSync(path.join(root, dir))) if (f.endsWith(".md")) docs.push(path.join(dir, f));
  return docs;
}

/** One quoted figure: where it is, which report field it names, and the text written there. */
export interface Figure {
  line: number;
  spec: string;
  report: string;
  field: string[];
  scale?: { op: "/" | "*"; by: number } | undefined;
  decimals?: number | undefined;
  text: string;
  /** Offsets of `text` in the document. */
  start: number;
  end: number;
}

const MARKER = /<!-- report:([^ ]+) -->([^<]*)<!-- \/report -->/g;
const SPEC = /^([a-z][\w-]*)\.([\w.-]+?)(?:([/*])(\d+(?:\.\d+)?))?(?::(\d+))?$/;

/** The figures quoted in `text`; a marker that does not parse is an error naming its line. */
export function figuresIn(text: string): Figure[] {
  const figures: Figure[] = [];
  for (const m of text.matchAll(MARKER)) {
    const spec = m[1] as string;
    const line = text.slice(0, m.index).split("\n").length;
    const s = SPEC.exec(spec);
    if (!s) throw new Error(`line ${line}: report marker "${spec}" is not report.path[/n|*n][:decimals]`);
    const start = (m.index ?? 0) + m[0].indexOf("-->") + 3;
    figures.push({
      line,
      spec,
      report: s[1] as string,
      field: (s[2] as string).split("."),
      scale: s[3] ? { op: s[3] as "/" | "*", by: Number(s[4]) } : undefined,
      decimals: s[5] === undefined ? undefined : Number(s[5]),
      text: m[2] as string,
      start,
      end: start + (m[2] as string).length,
    });
  }
  const opened = text.split("<!-- report:").length - 1;
  if (opened !== figures.length)
    throw new Error(`${opened - figures.length} report marker(s) without a well-formed "<!-- /report -->"`);
  return figures;
}

/** The reports by name (`reports/dapp.json` → `dapp`). */
export function readReports(root: string = ROOT): Map<string, unknown> {
  const reports = new Map<string, unknown>();
  for (const f of readdirSync(path.join(root, "reports")))
    if (f.endsWith(".json"))
      reports.set(
        f.slice(0, -".json".length),
        JSON.parse(readFileSync(path.join(root, "reports", f), "utf8")),
      );
  return reports;
}

/** What the marker should read, from the report; throws when the field is not a number or string. */
export function render(figure: Figure, reports: Map<string, unknown>): string {
  if (!reports.has(figure.report)) throw new Error(`no reports/${figure.report}.json`);
  let value: unknown = reports.get(figure.report);
  for (const key of figure.field) {
    if (typeof value !== "object" || value === null || !(key in value))
      throw new Error(`reports/${figure.report}.json has no ${figure.field.join(".")}`);
    value = (value as Record<string, unknown>)[key];
  }
  if (typeof value === "string")
    return figure.decimals === undefined ? value : value.slice(0, figure.decimals);
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new Error(`reports/${figure.report}.json ${figure.field.join(".")} is not a number or string`);
  const scaled = !figure.scale
    ? value
    : figure.scale.op === "/"
      ? value / figure.scale.by
      : value * figure.scale.by;
  return scaled.toLocaleString("en-US", {
    minimumFractionDigits: figure.decimals ?? 0,
    maximumFractionDigits: figure.decimals ?? 20,
  });
}

/** Every quoted figure that differs from its report (or names a field it lacks), per document. */
export function staleFigures(
  root: string = ROOT,
): { doc: string; line: number; spec: string; text: string; want: string }[] {
  const reports = readReports(root);
  const stale = [];
  for (const doc of figureDocuments(root)) {
    const text = readFileSync(path.join(root, doc), "utf8");
    for (const f of figuresIn(text)) {
      let want: string;
      try {
        want = render(f, reports);
      } catch (error) {
        want = `(${(error as Error).message})`;
      }
      if (want !== f.text) stale.push({ doc, line: f.line, spec: f.spec, text: f.text, want });
    }
  }
  return stale;
}

/**
 * Rewrites every quoted figure from the reports; returns the documents changed and the figures
 * left as they were because their report lacks the field (a bench not yet run with it).
 */
export function writeFigures(root: string = ROOT): { changed: string[]; unrendered: string[] } {
  const reports = readReports(root);
  const changed: string[] = [];
  const unrendered: string[] = [];
  for (const doc of figureDocuments(root)) {
    const file = path.join(root, doc);
    const text = readFileSync(file, "utf8");
    let out = "";
    let at = 0;
    for (const f of figuresIn(text)) {
      let want = f.text;
      try {
        want = render(f, reports);
      } catch (error) {
        unrendered.push(`${doc}:${f.line} ${f.spec}: ${(error as Error).message}`);
      }
      out += text.slice(at, f.start) + want;
      at = f.end;
    }
    out += text.slice(at);
    if (out !== text) {
      writeFileSync(file, out);
      changed.push(doc);
    }
  }
  return { changed, unrendered };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--write")) {
    const { changed, unrendered } = writeFigures();
    console.log(changed.length ? `rewrote figures in ${changed.join(", ")}` : "no quoted figure changed");
    // A new figure of another width re-aligns its Markdown table: as `./medrec run lint` wants it.
    if (changed.length)
      execFileSync("pnpm", ["exec", "biome", "format", "--write", ...changed], {
        cwd: ROOT,
        stdio: "inherit",
      });
    for (const u of unrendered) console.log(`left as it is: ${u}`);
    if (unrendered.length) process.exitCode = 1;
  } else {
    const stale = staleFigures();
    for (const s of stale)
      console.log(`${s.doc}:${s.line} ${s.spec}: "${s.text}", the report says "${s.want}"`);
    if (stale.length) {
      console.log(`${stale.length} figure(s) differ: node scripts/report-figures.ts --write`);
      process.exitCode = 1;
    } else console.log("every quoted figure matches its report");
  }
}
