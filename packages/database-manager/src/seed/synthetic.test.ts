import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isSensitive, leafHash } from "@medrec/protocol";
import { validateFhirBundle } from "../records/fhir-validator.ts";
import { createPrng, hashSeed } from "./prng.ts";
import { generatePatientBundle, generatePatientRecords } from "./synthetic.ts";

describe("synthetic patients", () => {
  test("default: deterministic for a seed and index, different across them", () => {
    const leaves = (seed: number, index: number) =>
      generatePatientRecords({ seed, index }).resources.map(leafHash);
    assert.deepEqual(leaves(1, 0), leaves(1, 0));
    assert.notDeepEqual(leaves(1, 0), leaves(1, 1));
    assert.notDeepEqual(leaves(1, 0), leaves(2, 0));
  });

  test("behavior: valid FHIR R4, ~20 resources, exactly one sensitive", () => {
    for (let index = 0; index < 5; index++) {
      const { bundle } = generatePatientBundle({ seed: 77, index });
      assert.deepEqual(validateFhirBundle(bundle), []);
      const resources = (bundle.entry ?? []).map((e) => e.resource);
      assert.ok(resources.length >= 18 && resources.length <= 24);
      assert.equal(resources.filter(isSensitive).length, 1);
    }
  });

  test("behavior: the PRNG is stable across machines (fixed first values)", () => {
    const rng = createPrng(hashSeed("x", 1));
    const a = [rng.next(), rng.next()];
    const again = createPrng(hashSeed("x", 1));
    assert.deepEqual([again.next(), again.next()], a);
    assert.ok(a.every((v) => v >= 0 && v < 1));
    assert.equal(hashSeed("medrec"), hashSeed("medrec"));
  });
});
