import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Router } from "express";
import { pino } from "pino";
import { loadConfig } from "../src/config.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

const silent = pino({ level: "silent" });

/** A test-only module: a slow route, to watch graceful shutdown let it finish. */
function slowModule() {
  const router = Router();
  router.get("/test/slow", async (_req, res) => {
    await new Promise((r) => setTimeout(r, 600));
    res.json({ done: true });
  });
  return {
    router,
    paths: { "/test/slow": { get: { summary: "test", responses: { "200": { description: "ok" } } } } },
  };
}

async function raw(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  const res = await fetch(url, init);
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    headers: res.headers,
    body: await res.text(),
  };
}

function behavesLikeAGatekeeper(
  name: string,
  setup: () => Promise<{ gk: Gatekeeper; cleanup: () => Promise<void> }>,
) {
  describe(name, () => {
    let gk: Gatekeeper;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ gk, cleanup } = await setup());
    });
    after(async () => {
      await gk.stop();
      await cleanup();
    });

    test("behavior: /healthz reports the database, and 503 without a chain view (fail closed)", async () => {
      const r = await raw(`${gk.url}/healthz`);
      assert.equal(r.status, 503, r.body);
      const report = JSON.parse(r.body);
      assert.equal(report.checks.database.status, "ok");
      assert.equal(report.checks.chain.status, "failing");
    });

    test("behavior: migrations created the schema", async () => {
      assert.ok(await gk.db.schema.hasTable("patients"));
    });

    test("behavior: /openapi.json is OpenAPI 3.1 and documents every route", async () => {
      const doc = JSON.parse((await raw(`${gk.url}/openapi.json`)).body);
      assert.equal(doc.openapi, "3.1.0");
      for (const path of ["/healthz", "/openapi.json", "/test/slow"]) assert.ok(doc.paths[path], path);
      assert.equal(doc.paths["/metrics"], undefined, "metrics are not part of the public API");
    });

    test("behavior: /metrics is Prometheus text with request timings by route, on its own loopback listener", async () => {
      await raw(`${gk.url}/healthz`);
      const metricsUrl = new URL(gk.metricsUrl);
      assert.equal(metricsUrl.hostname, "127.0.0.1");
      assert.notEqual(metricsUrl.port, new URL(gk.url).port);
      const r = await raw(gk.metricsUrl);
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain/);
      assert.match(
        r.body,
        /medrec_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="503"\}/,
      );
      assert.equal((await raw(new URL("/", gk.metricsUrl).href)).status, 404, "only /metrics there");
    });

    test("error: /metrics on the public URL → the 404 problem+json of any unknown route", async () => {
      const unknown = await raw(`${gk.url}/v1/nowhere`);
      for (const method of ["GET", "HEAD", "POST"]) {
        const r = await raw(`${gk.url}/metrics`, { method });
        assert.equal(r.status, 404, method);
        assert.equal(r.type, unknown.type, method);
        if (method !== "HEAD") assert.equal(r.body, unknown.body, method);
      }
      assert.doesNotMatch((await raw(`${gk.url}/metrics?format=text`)).body, /medrec_|process_/);
    });

    test("error: unknown route → 404 problem+json", async () => {
      const r = await raw(`${gk.url}/v1/nowhere`);
      assert.equal(r.status, 404);
      assert.match(r.type, /^application\/problem\+json/);
      const p = JSON.parse(r.body);
      assert.deepEqual(Object.keys(p).sort(), ["detail", "status", "title", "type"]);
      assert.equal(p.status, 404);
    });

    test("error: malformed JSON → 400 problem+json without echoing the body", async () => {
      const r = await raw(`${gk.url}/v1/nowhere`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"mrn": "secret-123",',
      });
      assert.equal(r.status, 400);
      assert.match(r.type, /^application\/problem\+json/);
      assert.ok(!r.body.includes("secret-123"));
    });

    test("error: oversized body → 413 problem+json", async () => {
      const r = await raw(`${gk.url}/v1/nowhere`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(6_000_000) }),
      });
      assert.equal(r.status, 413);
      assert.match(r.type, /^application\/problem\+json/);
    });

    test("error: deeply nested JSON → 400 problem+json", async () => {
      const r = await raw(`${gk.url}/v1/nowhere`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `${"[".repeat(5000)}${"]".repeat(5000)}`,
      });
      assert.equal(r.status, 400);
      assert.match(JSON.parse(r.body).detail, /nests deeper than 64 levels/);
    });

    test("behavior: security headers, request id, CORS only for listed origins", async () => {
      const allowed = await raw(`${gk.url}/healthz`, {
        headers: { origin: "http://127.0.0.1:5173", "x-request-id": "abc-123" },
      });
      assert.equal(allowed.headers.get("access-control-allow-origin"), "http://127.0.0.1:5173");
      assert.equal(allowed.headers.get("access-control-allow-credentials"), null);
      assert.equal(allowed.headers.get("x-request-id"), "abc-123");
      assert.equal(allowed.headers.get("x-content-type-options"), "nosniff");
      assert.equal(allowed.headers.get("x-powered-by"), null);
      const other = await raw(`${gk.url}/healthz`, { headers: { origin: "https://evil.example" } });
      assert.equal(other.headers.get("access-control-allow-origin"), null);
      const badId = await raw(`${gk.url}/healthz`, { headers: { "x-request-id": "<script>" } });
      assert.notEqual(badId.headers.get("x-request-id"), "<script>");
    });
  });
}

let server: TestPostgres;
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

behavesLikeAGatekeeper("gatekeeper on a PostgreSQL server (DATABASE_URL)", async () => {
  const url = await createTestDatabase(server.url, "gk_foundation");
  const config = loadConfig({ PORT: "0", DATABASE_URL: url, CORS_ORIGINS: "http://127.0.0.1:5173" });
  const gk = await startGatekeeper({ config, chain: false, logger: silent, modules: () => [slowModule()] });
  return { gk, cleanup: async () => undefined };
});

behavesLikeAGatekeeper("gatekeeper on the embedded default", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "medrec-gk-"));
  const config = loadConfig({ PORT: "0", DATA_DIR: dataDir, CORS_ORIGINS: "http://127.0.0.1:5173" });
  const gk = await startGatekeeper({ config, chain: false, logger: silent, modules: () => [slowModule()] });
  return { gk, cleanup: () => rm(dataDir, { recursive: true, force: true }) };
});

describe("embedded database and shutdown", () => {
  test("behavior: the embedded database keeps its data across restarts", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "medrec-gk-"));
    try {
      const config = loadConfig({ PORT: "0", DATA_DIR: dataDir });
      let gk = await startGatekeeper({ config, chain: false, logger: silent });
      await gk.db("patients").insert({
        mrn: "MRN-1",
        patient_address: "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
        delegate_index: 0,
      });
      await gk.stop();
      gk = await startGatekeeper({ config, chain: false, logger: silent });
      const rows = await gk.db("patients").select("mrn");
      assert.deepEqual(rows, [{ mrn: "MRN-1" }]);
      await gk.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("behavior: graceful shutdown lets an in-flight request finish, then refuses new ones", async () => {
    const url = await createTestDatabase(server.url, "gk_shutdown");
    const gk = await startGatekeeper({
      chain: false,
      config: loadConfig({ PORT: "0", DATABASE_URL: url }),
      logger: silent,
      modules: () => [slowModule()],
    });
    const inFlight = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${gk.url}/test/slow`, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
    await new Promise((r) => setTimeout(r, 100));
    const stopped = gk.stop();
    const done = await inFlight;
    assert.equal(done.status, 200);
    assert.deepEqual(JSON.parse(done.body), { done: true });
    await stopped;
    await assert.rejects(fetch(`${gk.url}/healthz`));
  });
});
