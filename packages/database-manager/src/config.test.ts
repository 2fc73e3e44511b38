import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, loadConfig } from "./config.ts";

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail("expected a ConfigError");
};

describe("loadConfig", () => {
  test("default: loopback, port 7101, embedded database, 1 h sessions", () => {
    const config = loadConfig({});
    assert.equal(config.HOST, "127.0.0.1");
    assert.equal(config.PORT, 7101);
    assert.equal(config.PUBLIC_URL, "http://127.0.0.1:7101");
    assert.equal(config.DATABASE_URL, undefined);
    assert.equal(config.SESSION_TTL_SECONDS, 3600);
    assert.deepEqual(config.CORS_ORIGINS, []);
  });

  test("behavior: values parsed, empty strings count as unset", () => {
    const config = loadConfig({
      PORT: "8080",
      DATABASE_URL: "postgresql://u:p@127.0.0.1:5432/db",
      CORS_ORIGINS: "http://127.0.0.1:5173, http://localhost:5173",
      LOG_LEVEL: "",
    });
    assert.equal(config.PORT, 8080);
    assert.deepEqual(config.CORS_ORIGINS, ["http://127.0.0.1:5173", "http://localhost:5173"]);
    assert.equal(config.LOG_LEVEL, "info");
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    ["port out of range", { PORT: "70000" }, /^PORT: /],
    ["port not a number", { PORT: "eighty" }, /^PORT: /],
    ["CORS wildcard", { CORS_ORIGINS: "*" }, /^CORS_ORIGINS\.0: `\*` is refused/],
    [
      "CORS not an origin",
      { CORS_ORIGINS: "http://a.com/path" },
      /^CORS_ORIGINS\.0: each entry must be an origin/,
    ],
    ["database URL not postgres", { DATABASE_URL: "mysql://x" }, /^DATABASE_URL: must be a postgres/],
    ["sessions longer than 1 h", { SESSION_TTL_SECONDS: "7200" }, /^SESSION_TTL_SECONDS: /],
    [
      "public URL with a query",
      { PUBLIC_URL: "http://127.0.0.1:7101/?a=1" },
      /^PUBLIC_URL: must have no query/,
    ],
    ["public URL not http", { PUBLIC_URL: "ftp://127.0.0.1" }, /^PUBLIC_URL: must be an http\(s\) URL/],
    ["short operator key", { OPERATOR_KEY: "short" }, /^OPERATOR_KEY: must be at least 32 characters/],
    ["unknown log level", { LOG_LEVEL: "loud" }, /^LOG_LEVEL: /],
  ];
  for (const [name, env, expected] of cases) {
    test(`error: ${name}`, () => {
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0] ?? "", expected);
    });
  }

  test("error: every bad variable is named at once, values never echoed", () => {
    const problems = problemsOf({ PORT: "-1", OPERATOR_KEY: "s3cret-value", CORS_ORIGINS: "*" });
    assert.equal(problems.length, 3);
    assert.ok(problems.every((p) => !p.includes("s3cret-value")));
  });
});
