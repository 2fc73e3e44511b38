/**
 * The repository explains itself: every relative link in its Markdown resolves to a file or
 * folder in the repository, and nothing points outside it (the design notes it was started from
 * are not shipped with it).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const markdown = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "*.md"], {
  cwd: root,
  encoding: "utf8",
})
  .split("\n")
  .filter((f) => f && existsSync(path.join(root, f)));

/** `[text](target)` links, without code spans and fenced blocks. */
function links(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string);
}

describe("docs", () => {
  test("default: the repository has its own architecture and protocol documents", () => {
    for (const doc of ["docs/architecture.md", "docs/protocol.md", "README.md"])
      assert.ok(existsSync(path.join(root, doc)), doc);
    assert.ok(markdown.length > 10, `found ${markdown.length} Markdown files`);
  });

  test("behavior: every relative link resolves inside the repository", () => {
    const dangling: string[] = [];
    for (const file of markdown) {
      for (const target of links(readFileSync(path.join(root, file), "utf8"))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
        const resolved = path.resolve(path.dirname(path.join(root, file)), target.split("#")[0] as string);
        if (!resolved.startsWith(`${root}${path.sep}`) && resolved !== root)
          dangling.push(`${file}: ${target} points outside the repository`);
        else if (!existsSync(resolved)) dangling.push(`${file}: ${target} does not exist`);
      }
    }
    assert.deepEqual(dangling, []);
  });

  test("behavior: no document sends the reader to design notes outside the repository", () => {
    const outside = markdown.filter((file) =>
      /\.\.\/shared\/|shared\/(DESIGN|PROTOCOL|STYLE)\.md/.test(readFileSync(path.join(root, file), "utf8")),
    );
    assert.deepEqual(outside, []);
  });

  test("behavior: no code, contract or document points to design notes outside the repository", () => {
    const files = execFileSync(
      "git",
      ["ls-files", "--cached", "--others", "--exclude-standard", "*.ts", "*.sol", "*.md"],
      { cwd: root, encoding: "utf8" },
    )
      .split("\n")
      .filter((f) => f && !/(^|\/)(node_modules|generated)\//.test(f) && existsSync(path.join(root, f)));
    const outside = files.flatMap((file) =>
      readFileSync(path.join(root, file), "utf8")
        .split("\n")
        .flatMap((line, i) =>
          /\.\.\/shared\/|\b(PROTOCOL|DESIGN|STYLE)\.md\b/.test(line)
            ? [`${file}:${i + 1}: ${line.trim()}`]
            : [],
        ),
    );
    assert.ok(files.length > 100, `found ${files.length} files`);
    assert.deepEqual(outside, [], "point to docs/protocol.md, docs/architecture.md or adr/ instead");
  });

  test("behavior: the README's layout names every top-level folder and every package", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const layout = /## Layout\s+```([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const tracked = execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" }).split("\n");
    const folders = new Set(
      tracked
        .filter((f) => f.includes("/") && !f.startsWith("."))
        .map((f) =>
          f.startsWith("packages/") ? f.split("/").slice(0, 2).join("/") : (f.split("/")[0] as string),
        ),
    );
    folders.delete("packages");
    const missing = [...folders].filter((folder) => !layout.includes(`${folder}/`));
    assert.deepEqual(missing, [], "folders missing from the README's layout");
  });
});
