import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CONFIDENTIALITY_SYSTEM,
  hasScopes,
  InvalidResourceError,
  InvalidScopeMaskError,
  isSensitive,
  KNOWN_SCOPES_MASK,
  maskToScopes,
  OBSERVATION_CATEGORY_SYSTEM,
  parseScope,
  requiredScopes,
  SCOPE_BITS,
  SCOPE_CODES,
  scopesToMask,
  UnknownScopeError,
} from "./scopes.ts";

const bit = (n: number) => 1 << n;
const observation = (...codes: string[]) => ({
  resourceType: "Observation",
  category: codes.map((code) => ({ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code }] })),
});
const security = (system: string, code: string) => ({ meta: { security: [{ system, code }] } });

describe("scope table", () => {
  test("default: codes and bits as in docs/protocol.md", () => {
    assert.deepEqual(SCOPE_BITS, {
      demographics: 0,
      encounters: 1,
      conditions: 2,
      medications: 3,
      allergies: 4,
      immunizations: 5,
      labs: 6,
      vitals: 7,
      documents: 8,
      procedures: 9,
      sensitive: 14,
      other: 15,
    });
    assert.equal(KNOWN_SCOPES_MASK, 0xc3ff);
    assert.equal(scopesToMask(SCOPE_CODES), 0xc3ff);
    assert.deepEqual(SCOPE_CODES.slice(-3), ["procedures", "sensitive", "other"]);
  });
});

describe("parseScope", () => {
  test("default", () => {
    assert.equal(parseScope("labs"), "labs");
  });
  test("error: unknown, wrong case, prototype keys", () => {
    for (const bad of ["genome", "Labs", " labs", "", "toString", "__proto__", 6, null])
      assert.throws(() => parseScope(bad), UnknownScopeError, String(bad));
    assert.throws(() => parseScope("genome"), /Unknown scope "genome"[\s\S]*Known scopes: demographics/);
  });
});

describe("scopesToMask / maskToScopes", () => {
  test("default: round-trip", () => {
    assert.equal(scopesToMask(["labs", "vitals"]), 0xc0);
    assert.equal(scopesToMask([]), 0);
    assert.equal(scopesToMask(["labs", "labs"]), 0x40);
    assert.equal(scopesToMask(["sensitive", "other"]), 0xc000);
    assert.deepEqual(maskToScopes(0x4040), ["labs", "sensitive"]);
    assert.deepEqual(maskToScopes(0n), []);
    assert.deepEqual(maskToScopes(0xc3ff), SCOPE_CODES);
    for (const code of SCOPE_CODES) assert.deepEqual(maskToScopes(scopesToMask([code])), [code]);
  });
  test("error: unknown bits and non-uint16 values", () => {
    for (const bad of [bit(10), bit(13), 0x10000, -1, 1.5, Number.NaN])
      assert.throws(() => maskToScopes(bad), InvalidScopeMaskError, String(bad));
    assert.throws(() => scopesToMask(["labs", "genome"]), UnknownScopeError);
  });
  test("behavior: hasScopes", () => {
    assert.equal(hasScopes(0x40c0, 0x4040), true);
    assert.equal(hasScopes(0x00c0, 0x4040), false);
  });
});

describe("requiredScopes", () => {
  test("default: every resource type of the table", () => {
    const cases: [string, number][] = [
      ["Patient", 0],
      ["Encounter", 1],
      ["Condition", 2],
      ["MedicationRequest", 3],
      ["MedicationStatement", 3],
      ["AllergyIntolerance", 4],
      ["Immunization", 5],
      ["DiagnosticReport", 6],
      ["DocumentReference", 8],
      ["Procedure", 9],
      ["CarePlan", 15],
      ["Practitioner", 15],
      ["MedicationAdministration", 15],
      ["Bundle", 15],
    ];
    for (const [resourceType, b] of cases)
      assert.equal(requiredScopes({ resourceType }), bit(b), resourceType);
  });

  test("behavior: Observation by category", () => {
    assert.equal(requiredScopes(observation("laboratory")), bit(6));
    assert.equal(requiredScopes(observation("vital-signs")), bit(7));
    assert.equal(requiredScopes(observation("social-history")), bit(15));
    assert.equal(requiredScopes({ resourceType: "Observation" }), bit(15));
    assert.equal(
      requiredScopes({ resourceType: "Observation", category: [{ text: "laboratory" }] }),
      bit(15),
    );
    // a coding without a system still names the category
    assert.equal(
      requiredScopes({ resourceType: "Observation", category: [{ coding: [{ code: "laboratory" }] }] }),
      bit(6),
    );
    // a coding of another system that reuses the code does not
    assert.equal(
      requiredScopes({
        resourceType: "Observation",
        category: [{ coding: [{ system: "urn:x", code: "laboratory" }] }],
      }),
      bit(15),
    );
    // both categories → both bits (fail closed)
    assert.equal(requiredScopes(observation("vital-signs", "laboratory")), bit(6) | bit(7));
    assert.equal(requiredScopes(observation("exam", "vital-signs")), bit(7));
  });

  test("behavior: sensitive for confidentiality R and V", () => {
    assert.equal(
      requiredScopes({ resourceType: "Condition", ...security(CONFIDENTIALITY_SYSTEM, "R") }),
      bit(2) | bit(14),
    );
    assert.equal(
      requiredScopes({ ...observation("laboratory"), ...security(CONFIDENTIALITY_SYSTEM, "V") }),
      bit(6) | bit(14),
    );
    assert.equal(
      requiredScopes({ resourceType: "Basic", ...security(CONFIDENTIALITY_SYSTEM, "R") }),
      bit(15) | bit(14),
    );
    for (const code of ["N", "L", "M", "U", "r"])
      assert.equal(
        requiredScopes({ resourceType: "Condition", ...security(CONFIDENTIALITY_SYSTEM, code) }),
        bit(2),
        code,
      );
    assert.equal(requiredScopes({ resourceType: "Condition", ...security("http://other", "R") }), bit(2));
    assert.equal(
      isSensitive({
        resourceType: "Condition",
        meta: {
          security: [
            { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "ETH" },
            { system: CONFIDENTIALITY_SYSTEM, code: "V" },
          ],
        },
      }),
      true,
    );
    assert.equal(isSensitive({ resourceType: "Condition", meta: { security: "R" } }), false);
  });

  test("behavior: missing resourceType → other", () => {
    assert.equal(requiredScopes({}), bit(15));
  });

  test("error: not an object", () => {
    assert.throws(() => requiredScopes(null), InvalidResourceError);
    assert.throws(() => requiredScopes("Patient"), InvalidResourceError);
  });
});
