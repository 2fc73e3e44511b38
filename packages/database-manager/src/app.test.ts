import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { routeOf } from "./app.ts";

describe("routeOf", () => {
  test("default: the matched route template", () => {
    assert.equal(
      routeOf({ route: { path: "/v1/patients/:mrn/records" } }, "/v1/patients/MRN-123/records"),
      "/v1/patients/:mrn/records",
    );
  });
  test("behavior: unmatched paths lose every identifier a client sent", () => {
    assert.equal(routeOf(undefined, "/v1/patients/MRN-123/records?x=1"), "/v1/patients/:id/records");
    assert.equal(
      routeOf({}, "/v1/relationships/0xabc/../../etc/passwd"),
      "/v1/relationships/:id/:id/:id/:id/:id",
    );
    assert.equal(routeOf(undefined, "/healthz"), "/healthz");
  });
});
