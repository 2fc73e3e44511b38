import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { groupOf, placeOf, selfTimeBy } from "./profile.ts";

describe("placeOf", () => {
  it("default: packages by name (pnpm layout, scoped), our files by package path, Node's by module", () => {
    assert.equal(placeOf("file:///w/node_modules/.pnpm/pg@8.23.1/node_modules/pg/lib/client.js", "x"), "pg");
    assert.equal(
      placeOf("file:///w/node_modules/.pnpm/@noble+hashes@1/node_modules/@noble/hashes/sha2.js", "x"),
      "@noble/hashes",
    );
    assert.equal(
      placeOf("file:///w/packages/database-manager/src/access/bundle.ts", "x"),
      "database-manager/src/access/bundle.ts",
    );
    assert.equal(placeOf("node:internal/streams/writable", "x"), "node:internal");
    assert.equal(placeOf("", "(garbage collector)"), "(garbage collector)");
    assert.equal(placeOf("", "stringify"), "native stringify");
  });
});

describe("selfTimeBy", () => {
  it("default: self time summed by place, idle apart, shares of the busy time", () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: "(idle)", url: "" } },
        { id: 2, callFrame: { functionName: "query", url: "file:///w/node_modules/pg/lib/client.js" } },
        { id: 3, callFrame: { functionName: "(garbage collector)", url: "" } },
      ],
      samples: [1, 2, 2, 3, 1],
      timeDeltas: [5000, 3000, 3000, 2000, 5000],
    };
    const r = selfTimeBy(profile);
    assert.equal(r.idleMs, 10);
    assert.equal(r.busyMs, 8);
    assert.deepEqual(r.places[0], { place: "pg", ms: 6, pct: 75 });
    assert.deepEqual(r.groups[0], { group: "PostgreSQL client (knex, pg)", ms: 6, pct: 75 });
  });
});

describe("groupOf", () => {
  it("default: socket writes, the database client, the framework, ours, and what cannot be attributed", () => {
    assert.equal(groupOf("native writev"), "socket writes (the response bytes)");
    assert.equal(groupOf("knex"), "PostgreSQL client (knex, pg)");
    assert.equal(groupOf("helmet"), "HTTP framework (express, middleware, metrics)");
    assert.equal(groupOf("database-manager/src/access/bundle.ts"), "our code (gatekeeper, protocol)");
    assert.equal(groupOf("node:inspector"), "waiting / the profiler itself (not attributed)");
  });
});
