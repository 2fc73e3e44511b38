import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeFhirIssues, validateFhirBundle } from "./fhir-validator.ts";

const bundle = (resource: Record<string, unknown>, type = "collection") => ({
  resourceType: "Bundle",
  type,
  entry: [{ resource }],
});

describe("validateFhirBundle", () => {
  test("default: a valid bundle has no issues", () => {
    assert.deepEqual(
      validateFhirBundle(bundle({ resourceType: "Patient", gender: "male", birthDate: "1990-01-02" })),
      [],
    );
  });

  test("error: element paths name the failing element, messages carry no values", () => {
    const issues = validateFhirBundle(
      bundle({
        resourceType: "Patient",
        birthDate: "02/01/1990",
        gender: "dunno",
        name: [{ given: "Solo" }],
      }),
      { max: 10 },
    );
    const text = describeFhirIssues(issues);
    assert.match(text, /Bundle\.entry\[0\]\.resource\.birthDate: Invalid date format/);
    assert.match(text, /Bundle\.entry\[0\]\.resource\.name(\[0\])?\.given: Expected array/);
    assert.match(text, /Bundle\.entry\[0\]\.resource\.gender: code is not in the required value set/);
    for (const value of ["02/01/1990", "dunno", "Solo"]) assert.ok(!text.includes(value), value);
  });

  test("error: invariants (FHIRPath constraints) are enforced", () => {
    const issues = validateFhirBundle(
      bundle({ resourceType: "Observation", status: "final", code: { text: "x" }, referenceRange: [{}] }),
    );
    assert.match(describeFhirIssues(issues), /Constraint obs-3 not met/);
  });

  test("error: CodeableConcept with a required binding needs a coding from the value set", () => {
    const issues = validateFhirBundle(
      bundle({
        resourceType: "Condition",
        subject: { reference: "Patient/p" },
        clinicalStatus: {
          coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "nope" }],
        },
      }),
    );
    assert.match(
      describeFhirIssues(issues),
      /resource\.clinicalStatus: code is not in the required value set/,
    );
  });

  test("error: transaction entries need POST or PUT with a matching url", () => {
    const put = { ...bundle({ resourceType: "Basic", id: "a", code: { text: "x" } }, "transaction") };
    (put.entry[0] as Record<string, unknown>).request = { method: "PUT", url: "Basic/b" };
    assert.match(describeFhirIssues(validateFhirBundle(put)), /Bundle\.entry\[0\]\.request\.url: must be/);
    (put.entry[0] as Record<string, unknown>).request = { method: "DELETE", url: "Basic/a" };
    assert.match(describeFhirIssues(validateFhirBundle(put)), /request\.method: only POST and PUT/);
  });
});
