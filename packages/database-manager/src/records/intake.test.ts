import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { prepareBundleResources } from "./intake.ts";

const lastUpdated = "2025-01-01T00:00:00.000Z";
let n = 0;
const newId = () => `new-${++n}`;

describe("prepareBundleResources", () => {
  test("default: keeps given ids, assigns missing ones, stamps meta.lastUpdated and drops versionId", () => {
    const out = prepareBundleResources(
      {
        entry: [
          { resource: { resourceType: "Patient", id: "p1", meta: { versionId: "7", source: "x" } } },
          { resource: { resourceType: "Basic" } },
        ],
      },
      { lastUpdated, newId },
    );
    assert.ok("resources" in out);
    assert.deepEqual(out.resources[0], {
      resourceType: "Patient",
      id: "p1",
      meta: { source: "x", lastUpdated },
    });
    assert.match(String(out.resources[1]?.id), /^new-\d+$/);
  });

  test("behavior: urn:uuid fullUrls become ids and references to them are rewritten; PUT urls give ids", () => {
    const uuid = "0b7c6d3e-1f2a-4b5c-8d9e-0f1a2b3c4d5e";
    const input = {
      entry: [
        { fullUrl: `urn:uuid:${uuid}`, resource: { resourceType: "Patient" } },
        {
          resource: { resourceType: "Observation", subject: { reference: `urn:uuid:${uuid}` } },
          request: { method: "PUT", url: "Observation/o-9" },
        },
      ],
    };
    const out = prepareBundleResources(input, { lastUpdated, newId });
    assert.ok("resources" in out);
    assert.equal(out.resources[0]?.id, uuid);
    assert.equal(out.resources[1]?.id, "o-9");
    assert.deepEqual(out.resources[1]?.subject, { reference: `Patient/${uuid}` });
    assert.equal(input.entry[1]?.resource.subject?.reference, `urn:uuid:${uuid}`, "input untouched");
  });

  test("error: the same type and id twice", () => {
    const out = prepareBundleResources(
      {
        entry: [
          { resource: { resourceType: "Basic", id: "a" } },
          { resource: { resourceType: "Basic", id: "a" } },
        ],
      },
      { lastUpdated, newId },
    );
    assert.deepEqual(out, { duplicate: 1, duplicateOf: 0 });
  });
});

describe("conditional references", () => {
  const encounter = (reference: string) => ({
    resource: {
      resourceType: "Encounter",
      id: "e1",
      participant: [{ individual: { reference, display: "Dr. Ana Ruiz" } }],
    },
  });
  const individual = (bundle: { entry: unknown[] }) => {
    const out = prepareBundleResources(bundle, { lastUpdated, newId });
    assert.ok("resources" in out);
    return (out.resources[0] as unknown as { participant: { individual: unknown }[] }).participant[0]
      ?.individual;
  };

  test("behavior: one matching a resource of the upload becomes Type/id", () => {
    const practitioner = {
      resource: {
        resourceType: "Practitioner",
        id: "pr1",
        identifier: [{ system: "http://hl7.org/fhir/sid/us-npi", value: "9999996892" }],
      },
    };
    const ref = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999996892";
    assert.deepEqual(individual({ entry: [encounter(ref), practitioner] }), {
      reference: "Practitioner/pr1",
      display: "Dr. Ana Ruiz",
    });
  });

  test("behavior: one matching nothing becomes the logical reference it stands for (type, identifier, display)", () => {
    const ref = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999996892";
    assert.deepEqual(individual({ entry: [encounter(ref)] }), {
      display: "Dr. Ana Ruiz",
      type: "Practitioner",
      identifier: { system: "http://hl7.org/fhir/sid/us-npi", value: "9999996892" },
    });
    assert.deepEqual(individual({ entry: [encounter("Location?identifier=loc%7C42")] }), {
      display: "Dr. Ana Ruiz",
      type: "Location",
      identifier: { system: "loc", value: "42" },
    });
    assert.deepEqual(individual({ entry: [encounter("Practitioner?identifier=42")] }), {
      display: "Dr. Ana Ruiz",
      type: "Practitioner",
      identifier: { value: "42" },
    });
  });

  test("error: other conditional forms and literal references are kept as written", () => {
    for (const ref of [
      "Practitioner?identifier=a|1&active=true",
      "Practitioner?name=Ruiz",
      "Practitioner/pr1",
    ])
      assert.deepEqual(individual({ entry: [encounter(ref)] }), { reference: ref, display: "Dr. Ana Ruiz" });
  });
});
