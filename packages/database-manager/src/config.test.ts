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
    ["short audit salt", { AUDIT_SALT: "salt" }, /^AUDIT_SALT: must be at least 32 characters/],
    ["unknown log level", { LOG_LEVEL: "loud" }, /^LOG_LEVEL: /],
  ];
  for (const [name, env, expected] of cases) {
    test(`error: ${name}`, () => {
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, problems.join("\n"));
      assert.match(problems[0] ?? "", expected);
    });
  }

  const A = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
  const B = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

  test("behavior: STAFF_ACCOUNTS, TRUST_PROXY and TLS are parsed; TLS makes the default PUBLIC_URL https", () => {
    const config = loadConfig({
      STAFF_ACCOUNTS: ` ${A}, ${B} `,
      TRUST_PROXY: "127.0.0.1, ::1, 10.0.0.0/24",
      TLS_CERT_FILE: "/etc/medrec/cert.pem",
      TLS_KEY_FILE: "/etc/medrec/key.pem",
    });
    assert.deepEqual(config.STAFF_ACCOUNTS, [A, B]);
    assert.deepEqual(config.TRUST_PROXY, ["127.0.0.1", "::1", "10.0.0.0/24"]);
    assert.equal(config.PUBLIC_URL, "https://127.0.0.1:7101");
    assert.deepEqual(loadConfig({}).STAFF_ACCOUNTS, []);
    assert.deepEqual(loadConfig({}).TRUST_PROXY, []);
  });

  test("error: one line per bad STAFF_ACCOUNTS entry, naming its position, never its value", () => {
    const lower = B.toLowerCase();
    const problems = problemsOf({ STAFF_ACCOUNTS: `${A},${lower},0x1234,${A}` });
    assert.deepEqual(problems, [
      "STAFF_ACCOUNTS: entry 2 of 4 is not EIP-55 checksummed",
      "STAFF_ACCOUNTS: entry 3 of 4 is not an address (0x followed by 40 hex digits)",
      "STAFF_ACCOUNTS: entry 4 of 4 repeats an earlier entry",
    ]);
    assert.ok(problems.every((p) => !p.includes(lower) && !p.includes("0x1234")));
  });

  test("error: the provider (sealer) account listed as staff stops the start-up", () => {
    const problems = problemsOf({ STAFF_ACCOUNTS: `${B},${A}`, PROVIDER_ACCOUNT: A.toLowerCase() });
    assert.deepEqual(problems, [
      "STAFF_ACCOUNTS: entry 2 of 2 is the provider (sealer) account; a sealer key is never a staff identity",
    ]);
  });

  test("error: TRUST_PROXY takes addresses only — never true, a hop count or a name", () => {
    const problems = problemsOf({ TRUST_PROXY: "true,1,loopback,10.0.0.1/33,127.0.0.1" });
    assert.equal(problems.length, 4, problems.join("\n"));
    assert.ok(problems.every((p) => /^TRUST_PROXY: entry [1-4] of 5 must be the proxy's IP address/.test(p)));
  });

  test("error: TLS needs both files, and an https PUBLIC_URL", () => {
    assert.deepEqual(problemsOf({ TLS_CERT_FILE: "/c.pem" }), ["TLS_KEY_FILE: required with TLS_CERT_FILE"]);
    assert.deepEqual(problemsOf({ TLS_KEY_FILE: "/k.pem" }), ["TLS_CERT_FILE: required with TLS_KEY_FILE"]);
    assert.deepEqual(
      problemsOf({ TLS_CERT_FILE: "/c.pem", TLS_KEY_FILE: "/k.pem", PUBLIC_URL: "http://gk.example" }),
      ["PUBLIC_URL: must be an https URL when the gatekeeper serves TLS"],
    );
  });

  test("error: every bad variable is named at once, values never echoed", () => {
    const problems = problemsOf({ PORT: "-1", OPERATOR_KEY: "s3cret-value", CORS_ORIGINS: "*" });
    assert.equal(problems.length, 3);
    assert.ok(problems.every((p) => !p.includes("s3cret-value")));
  });
});
