/** One error vocabulary (adr/0007): everything the gatekeeper throws on purpose is a `BaseError`. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BaseError } from "@medrec/protocol";
import { pino } from "pino";
import { problemHandler, toProblem } from "./errors.ts";
import * as gatekeeper from "./index.ts";

const src = path.dirname(fileURLToPath(import.meta.url));
const modules = readdirSync(src, { recursive: true, encoding: "utf8" })
  // server.ts starts a gatekeeper when imported.
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "server.ts")
  .sort();

/** Exported classes that are errors: named `…Error` or `…Refusal`, or deriving from `Error`. */
function errorClasses(exports: Record<string, unknown>): [string, { prototype: unknown }][] {
  return Object.entries(exports).filter(
    (entry): entry is [string, { prototype: unknown }] =>
      typeof entry[1] === "function" &&
      /^class\b/.test(Function.prototype.toString.call(entry[1])) &&
      (/(Error|Refusal)$/.test(entry[0]) || (entry[1] as { prototype: unknown }).prototype instanceof Error),
  );
}

describe("errors", () => {
  test("behavior: every exported error extends BaseError", () => {
    const errors = errorClasses(gatekeeper);
    assert.deepEqual(errors.map(([name]) => name).sort(), [
      "ConfigError",
      "EmbeddedPostgresError",
      "ProblemError",
    ]);
    for (const [name, value] of errors) assert.ok(value.prototype instanceof BaseError, name);
    assert.equal(new gatekeeper.ProblemError("forbidden", "No.").name, "ProblemError");
  });

  test("behavior: every error class of every module extends BaseError, with its own literal name", async () => {
    const found = new Set<string>();
    let text = "";
    for (const file of modules) {
      const exports = (await import(pathToFileURL(path.join(src, file)).href)) as Record<string, unknown>;
      text += readFileSync(path.join(src, file), "utf8");
      for (const [name, value] of errorClasses(exports)) {
        assert.ok(value.prototype instanceof BaseError, `${file}: ${name}`);
        found.add(name);
      }
    }
    for (const name of found)
      assert.ok(text.includes(`override name = "${name}";`), `${name} has no literal name of its own`);
    assert.ok(found.size >= 15, `found ${[...found].join(", ")}`);
  });

  test("behavior: no module throws a bare Error, TypeError or RangeError, or extends Error itself", () => {
    for (const file of modules) {
      const text = readFileSync(path.join(src, file), "utf8");
      assert.doesNotMatch(text, /\bnew (?:Type|Range)?Error\(|\bextends Error\b/, file);
    }
  });
});

describe("toProblem", () => {
  /** What body-parser throws (http-errors). */
  const httpError = (status: number, expose: boolean, message: string) =>
    Object.assign(new SyntaxError(message), { status, statusCode: status, expose });

  test("behavior: a client error of Express or body-parser keeps its status, never its message", () => {
    // What Express's router throws for `/v1/relationships/%FF/records`: a URIError with a status.
    const p = toProblem(Object.assign(new URIError("Failed to decode param '%FF'"), { status: 400 }));
    assert.equal(p.status, 400);
    assert.equal(p.type, "https://medrec.dev/problems/bad-request");
    assert.doesNotMatch(p.detail, /%FF/);
    assert.equal(
      toProblem(httpError(415, true, "x")).type,
      "https://medrec.dev/problems/unsupported-media-type",
    );
    assert.equal(toProblem(httpError(418, true, "x")).status, 400);
  });
  test("error: server faults and errors not exposed to clients are a bare 500", () => {
    assert.equal(toProblem(httpError(400, false, "x")).status, 500);
    assert.equal(toProblem(httpError(502, true, "x")).status, 500);
    assert.equal(toProblem(new RangeError("Maximum call stack size exceeded")).status, 500);
  });
});

describe("problemHandler", () => {
  test("behavior: an error after the head was sent ends the connection instead of leaving it open", () => {
    let destroyed = false;
    const res = { headersSent: true, destroy: () => (destroyed = true) };
    problemHandler(pino({ level: "silent" }))(
      new RangeError("x"),
      { id: "r" } as never,
      res as never,
      () => undefined,
    );
    assert.equal(destroyed, true);
  });
});
