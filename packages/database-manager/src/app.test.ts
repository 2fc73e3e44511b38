import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Express } from "express";
import type { Knex } from "knex";
import { pino } from "pino";
import { accessModule } from "./access/index.ts";
import { type AppModule, createApp, routeOf, routeSegments } from "./app.ts";
import { createAuth } from "./auth/index.ts";
import { loadConfig } from "./config.ts";
import { createMetrics } from "./ops/metrics.ts";
import { opsPaths } from "./ops/openapi.ts";
import { patientsModule } from "./patients/patients.routes.ts";
import { recordsModule } from "./records/records.routes.ts";
import { relayModule } from "./relay/relay.routes.ts";
import { retiredSponsorModule } from "./sponsorship/sponsorship.routes.ts";

const known = routeSegments([opsPaths, { "/v1/patients/{mrn}/records": {}, "/v1/relationships": {} }]);

/** Every module the gatekeeper mounts (gatekeeper.ts, chain/index.ts), on stubs: only the routes are read. */
function gatekeeperModules(): AppModule[] {
  const stub = {} as never;
  const auth = createAuth({ config: loadConfig({}), db: {} as Knex, chainId: 1 });
  return [
    auth.module,
    patientsModule({ patients: stub, guards: auth.guards }),
    recordsModule({ patients: stub, guards: auth.guards }),
    accessModule({ view: stub, records: stub, audit: stub, guards: auth.guards }),
    relayModule({ relay: stub, ratePerMinute: 60 }),
    retiredSponsorModule(),
  ];
}

type Layer = { route?: { path: unknown }; handle?: { stack?: Layer[] } };

/** The route templates an express app serves (modules are mounted at the root). */
function servedRoutes(app: Express): string[] {
  const walk = (stack: Layer[]): string[] =>
    stack.flatMap((layer) =>
      layer.route ? [String(layer.route.path)] : layer.handle?.stack ? walk(layer.handle.stack) : [],
    );
  return walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
}

describe("routeOf", () => {
  test("default: the matched route template", () => {
    assert.equal(
      routeOf({ route: { path: "/v1/patients/:mrn/records" } }, "/v1/patients/MRN-123/records", known),
      "/v1/patients/:mrn/records",
    );
  });
  test("behavior: unmatched paths lose every identifier a client sent", () => {
    assert.equal(routeOf(undefined, "/v1/patients/MRN-123/records?x=1", known), "/v1/patients/:id/records");
    assert.equal(
      routeOf({}, "/v1/relationships/0xabc/../../etc/passwd", known),
      "/v1/relationships/:id/:id/:id/:id/:id",
    );
    assert.equal(routeOf(undefined, "/healthz", known), "/healthz");
  });
  test("behavior: every route the app serves is documented and named, even unmatched", () => {
    const modules = gatekeeperModules();
    const app = createApp({
      config: loadConfig({}),
      logger: pino({ level: "silent" }),
      metrics: createMetrics(),
      health: [],
      modules,
    });
    const served = servedRoutes(app);
    const documented = new Set(Object.keys(Object.assign({}, opsPaths, ...modules.map((m) => m.paths))));
    const segments = routeSegments([opsPaths, ...modules.map((m) => m.paths)]);
    assert.ok(served.length >= 10, `served ${served.join(", ")}`);
    for (const template of served) {
      assert.ok(
        documented.has(template.replace(/:(\w+)/g, "{$1}")),
        `${template} is not in the OpenAPI paths`,
      );
      const url = template.replace(/:\w+/g, "X-123");
      assert.equal(routeOf(undefined, url, segments), template.replace(/:\w+/g, ":id"), template);
    }
  });
});
