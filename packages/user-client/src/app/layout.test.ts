import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

// bulletproof-react's rules, checked: a feature never imports another feature, and shared code
// (components, lib, config) never imports a feature or the app.
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return files(full);
    return /\.(ts|tsx)$/.test(name) ? [full] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]+)"/g)].map((m) =>
    path.resolve(path.dirname(file), m[1] ?? ""),
  );
}

const area = (file: string) => {
  const [top, name] = path.relative(SRC, file).split(path.sep);
  return top === "features" ? `features/${name}` : (top ?? "");
};

describe("layout", () => {
  test("a feature imports no other feature", () => {
    const crossings = files(path.join(SRC, "features")).flatMap((file) =>
      imports(file)
        .filter((target) => area(target).startsWith("features/") && area(target) !== area(file))
        .map((target) => `${path.relative(SRC, file)} → ${path.relative(SRC, target)}`),
    );
    expect(crossings).toEqual([]);
  });

  test("components, lib and config import no feature and not the app", () => {
    const crossings = ["components", "lib", "config"].flatMap((dir) =>
      files(path.join(SRC, dir)).flatMap((file) =>
        imports(file)
          .filter((target) => area(target).startsWith("features/") || area(target) === "app")
          .map((target) => `${path.relative(SRC, file)} → ${path.relative(SRC, target)}`),
      ),
    );
    expect(crossings).toEqual([]);
  });
});
