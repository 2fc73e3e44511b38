import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateFhirBundle } from "../../src/records/fhir-validator.ts";
import { generatePatientRecords } from "../../src/seed/index.ts";
import { extraResources, growResources } from "./bundles.ts";

const base = generatePatientRecords({ seed: 7, index: 0 }).resources;
const keys = (rs: { resourceType: string; id?: string }[]) => rs.map((r) => `${r.resourceType}/${r.id}`);

describe("growResources", () => {
  it("default: exactly `size` resources, one Patient, no type/id twice, still valid FHIR", () => {
    const grown = growResources(base, 200);
    assert.equal(grown.length, 200);
    assert.equal(grown.filter((r) => r.resourceType === "Patient").length, 1);
    assert.equal(new Set(keys(grown)).size, 200);
    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      entry: grown.map((resource) => ({ resource })),
    };
    assert.deepEqual(validateFhirBundle(bundle), []);
  });
  it("error: a size below the base", () => {
    assert.throws(() => growResources(base, 3), RangeError);
  });
});

describe("extraResources", () => {
  it("default: `count` new resources whose ids differ from the grown set's", () => {
    const grown = growResources(base, 500);
    const extra = extraResources(base, 300, "i1-");
    assert.equal(extra.length, 300);
    const all = new Set([...keys(grown), ...keys(extra)]);
    assert.equal(all.size, 800);
    assert.ok(extra.every((r) => r.resourceType !== "Patient"));
  });
});
