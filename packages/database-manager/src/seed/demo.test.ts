import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type FhirResource,
  isSensitive,
  leafHash,
  maskToScopes,
  requiredScopes,
  type ScopeCode,
} from "@medrec/protocol";
import { validateFhirBundle } from "../records/fhir-validator.ts";
import { prepareBundleResources } from "../records/intake.ts";
import { LOINC, RXNORM, UCUM } from "../records/terminology.ts";
import {
  DEMO_FAMILY_GRANT,
  DEMO_INTERACTION,
  DEMO_MRNS,
  DEMO_PROVIDERS,
  type DemoPatientBundle,
  demoPatientBundles,
} from "./demo.ts";

const resourcesOf = (b: DemoPatientBundle) => (b.bundle.entry ?? []).map((e) => e.resource as FhirResource);
const categoryCodes = (r: FhirResource) =>
  ((r.category ?? []) as { coding?: { code?: string }[] }[]).flatMap((c) =>
    (c.coding ?? []).map((x) => x.code),
  );
const isLab = (r: FhirResource) =>
  r.resourceType === "Observation" && categoryCodes(r).includes("laboratory");

/** The scope each resource should need per docs/protocol.md, written out independently of the protocol package. */
function expectedScope(r: FhirResource): ScopeCode {
  switch (r.resourceType) {
    case "Patient":
      return "demographics";
    case "Encounter":
      return "encounters";
    case "Condition":
      return "conditions";
    case "MedicationRequest":
    case "MedicationStatement":
      return "medications";
    case "AllergyIntolerance":
      return "allergies";
    case "Immunization":
      return "immunizations";
    case "DiagnosticReport":
      return "labs";
    case "DocumentReference":
      return "documents";
    case "Procedure":
      return "procedures";
    case "Observation": {
      const codes = categoryCodes(r);
      if (codes.includes("laboratory")) return "labs";
      if (codes.includes("vital-signs")) return "vitals";
      return "other";
    }
    default:
      return "other";
  }
}

/** Every `reference` string anywhere inside a value. */
function references(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) references(v, out);
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "reference" && typeof v === "string") out.push(v);
      else references(v, out);
    }
  }
  return out;
}

describe("demo patient bundles", () => {
  const bundles = demoPatientBundles();

  test("default: one bundle per demo provider, in order, with its MRN", () => {
    assert.deepEqual(
      bundles.map((b) => b.provider),
      [...DEMO_PROVIDERS],
    );
    assert.deepEqual(
      bundles.map((b) => b.provider),
      ["Riverside General", "Lakeside Clinic", "Hilltop Medical"],
    );
    for (const b of bundles) {
      assert.equal(b.mrn, DEMO_MRNS[b.provider]);
      assert.match(b.mrn, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
      assert.equal(b.bundle.resourceType, "Bundle");
      assert.equal(b.bundle.type, "collection");
    }
    assert.equal(new Set(bundles.map((b) => b.mrn)).size, 3);
  });

  test("behavior: every bundle passes the gatekeeper's FHIR R4 validation and intake", () => {
    for (const b of bundles) {
      assert.deepEqual(validateFhirBundle(b.bundle, { max: 20 }), [], b.provider);
      const prepared = prepareBundleResources(b.bundle, { lastUpdated: "2026-01-01T00:00:00Z" });
      assert.ok("resources" in prepared, `${b.provider}: duplicate type/id`);
    }
  });

  test("behavior: deterministic — two calls deep-equal, same leaves", () => {
    const again = demoPatientBundles();
    assert.deepEqual(again, bundles);
    assert.deepEqual(
      again.map((b) => resourcesOf(b).map(leafHash)),
      bundles.map((b) => resourcesOf(b).map(leafHash)),
    );
  });

  test("behavior: one Patient per provider, same person, provider-specific MRN identifier", () => {
    const patients = bundles.map((b) => {
      const found = resourcesOf(b).filter((r) => r.resourceType === "Patient");
      assert.equal(found.length, 1, b.provider);
      return found[0] as FhirResource & {
        identifier: { system: string; value: string }[];
        name: unknown;
        birthDate: string;
      };
    });
    for (const [i, p] of patients.entries()) {
      const b = bundles[i] as DemoPatientBundle;
      assert.equal(p.identifier[0]?.value, b.mrn);
      assert.deepEqual(p.name, patients[0]?.name);
      assert.equal(p.birthDate, "1961-03-14");
    }
    assert.equal(new Set(patients.map((p) => p.identifier[0]?.system)).size, 3);
  });

  test("behavior: stable ids, unique per bundle; every reference resolves inside its bundle; subject is the Patient", () => {
    for (const b of bundles) {
      const resources = resourcesOf(b);
      const keys = resources.map((r) => `${r.resourceType}/${r.id}`);
      assert.ok(resources.every((r) => typeof r.id === "string"));
      assert.equal(new Set(keys).size, keys.length, b.provider);
      const patient = keys.find((k) => k.startsWith("Patient/"));
      for (const r of resources) {
        for (const ref of references(r)) assert.ok(keys.includes(ref), `${b.provider}: ${r.id} → ${ref}`);
        const who = (r.subject ?? r.patient) as { reference?: string } | undefined;
        if (r.resourceType !== "Patient") assert.equal(who?.reference, patient, `${r.id} subject`);
      }
    }
  });

  test("behavior: each provider's resources differ (no shared leaf across providers)", () => {
    const leaves = bundles.map((b) => new Set(resourcesOf(b).map(leafHash)));
    for (let i = 0; i < leaves.length; i++) {
      for (let j = i + 1; j < leaves.length; j++) {
        const shared = [...(leaves[i] as Set<string>)].filter((l) => (leaves[j] as Set<string>).has(l));
        assert.deepEqual(shared, []);
      }
    }
    // Each provider also holds what the others do not: a hospital stay, chronic care, cardiology.
    const [riverside, lakeside, hilltop] = bundles.map(resourcesOf) as [
      FhirResource[],
      FhirResource[],
      FhirResource[],
    ];
    assert.ok(
      riverside.some((r) => r.resourceType === "Encounter" && (r.class as { code: string }).code === "IMP"),
    );
    assert.ok(lakeside.filter((r) => r.resourceType === "Immunization").length >= 8);
    assert.ok(hilltop.some((r) => r.resourceType === "DiagnosticReport" && r.id === "hm-dr-echo-20240716"));
  });

  test("behavior: labs carry LOINC, UCUM quantities, reference ranges and interpretation", () => {
    for (const b of bundles) {
      const labs = resourcesOf(b).filter(isLab);
      assert.ok(labs.length >= 3, b.provider);
      for (const lab of labs) {
        const code = lab.code as { coding: { system: string; code: string }[] };
        assert.equal(code.coding[0]?.system, LOINC, lab.id);
        assert.match(code.coding[0]?.code ?? "", /^\d{1,7}-\d$/);
        const value = lab.valueQuantity as { value: number; system: string; code: string };
        assert.equal(value.system, UCUM, lab.id);
        assert.equal(typeof value.value, "number");
        const ranges = lab.referenceRange as { low?: unknown; high?: unknown; text?: string }[];
        assert.ok(ranges.length >= 1 && (ranges[0]?.low || ranges[0]?.high), lab.id);
        assert.ok(Array.isArray(lab.interpretation), lab.id);
      }
    }
    // Lakeside: repeated HbA1c (~every 6 months) and the lipid panel, eGFR and creatinine.
    const lakeside = resourcesOf(bundles[1] as DemoPatientBundle).filter(isLab);
    const byLoinc = (loinc: string) =>
      lakeside.filter((r) => (r.code as { coding: { code: string }[] }).coding[0]?.code === loinc);
    assert.ok(byLoinc("4548-4").length >= 10);
    for (const loinc of ["13457-7", "2085-9", "2093-3", "2571-8", "2160-0"])
      assert.ok(byLoinc(loinc).length >= 5);
    assert.ok(byLoinc("62238-1").length + byLoinc("98979-8").length >= 5);
    // An HbA1c of 7.8 % is flagged high against 4.0–5.6 %.
    const first = byLoinc("4548-4")[0] as FhirResource;
    assert.equal((first.interpretation as { coding: { code: string }[] }[])[0]?.coding[0]?.code, "H");
  });

  test("behavior: exactly one sensitive item (confidentiality R), a Lakeside Condition", () => {
    const sensitive = bundles.flatMap((b) =>
      resourcesOf(b)
        .filter(isSensitive)
        .map((r) => ({ b, r })),
    );
    assert.equal(sensitive.length, 1);
    const [{ b, r }] = sensitive as [{ b: DemoPatientBundle; r: FhirResource }];
    assert.equal(b.provider, "Lakeside Clinic");
    assert.equal(r.resourceType, "Condition");
    assert.deepEqual(maskToScopes(requiredScopes(r)), ["conditions", "sensitive"]);
  });

  test("behavior: every resource maps to the scope docs/protocol.md gives its type and category", () => {
    for (const b of bundles) {
      for (const r of resourcesOf(b)) {
        const want: ScopeCode[] = isSensitive(r) ? [expectedScope(r), "sensitive"] : [expectedScope(r)];
        assert.deepEqual(maskToScopes(requiredScopes(r)), want, `${b.provider}: ${r.resourceType}/${r.id}`);
      }
    }
  });

  test("behavior: the interaction pair appears at two different providers, in overlapping time", () => {
    const [a, b] = DEMO_INTERACTION.drugs;
    const orders = (drug: string) =>
      bundles.flatMap((bundle) =>
        resourcesOf(bundle)
          .filter((r) => r.resourceType === "MedicationRequest")
          .filter((r) => (r.medicationCodeableConcept as { text: string }).text.toLowerCase().includes(drug))
          .map((r) => ({ provider: bundle.provider, r })),
      );
    const statin = orders(a);
    const macrolide = orders(b);
    assert.deepEqual([...new Set(statin.map((o) => o.provider))], ["Lakeside Clinic"]);
    assert.deepEqual([...new Set(macrolide.map((o) => o.provider))], ["Riverside General"]);
    assert.deepEqual([...DEMO_INTERACTION.providers].sort(), ["Lakeside Clinic", "Riverside General"]);
    assert.equal(DEMO_INTERACTION.source, "Phansalkar et al., JAMIA 2012");
    const rxnorm = (r: FhirResource) =>
      (r.medicationCodeableConcept as { coding?: { system: string; code: string }[] }).coding?.find(
        (c) => c.system === RXNORM,
      )?.code;
    assert.equal(rxnorm((statin[0] as { r: FhirResource }).r), DEMO_INTERACTION.rxnorm.simvastatin);
    assert.equal(rxnorm((macrolide[0] as { r: FhirResource }).r), DEMO_INTERACTION.rxnorm.clarithromycin);
    // The statin order was active when the macrolide was prescribed.
    const statinOrder = (statin[0] as { r: FhirResource }).r;
    const macrolideOrder = (macrolide[0] as { r: FhirResource }).r;
    assert.equal(statinOrder.status, "active");
    assert.ok(String(statinOrder.authoredOn) < String(macrolideOrder.authoredOn));
    const dosage = (macrolideOrder.dosageInstruction as { text: string }[])[0];
    assert.match(dosage?.text ?? "", /500 mg by mouth twice daily/);
  });

  test("behavior: every medication has text; RxNorm codes only on the confirmed products", () => {
    const confirmed = new Set(["198211", "197517", "861007", "314076", "866427"]);
    for (const b of bundles) {
      for (const r of resourcesOf(b)) {
        if (r.resourceType !== "MedicationRequest" && r.resourceType !== "MedicationStatement") continue;
        const med = r.medicationCodeableConcept as {
          text: string;
          coding?: { system: string; code: string }[];
        };
        assert.ok(med.text.length > 0, r.id);
        for (const c of med.coding ?? []) {
          assert.equal(c.system, RXNORM);
          assert.ok(confirmed.has(c.code), `${r.id}: ${c.code}`);
        }
      }
    }
  });

  test("behavior: the family grant's providers hold non-sensitive labs and medications", () => {
    for (const provider of DEMO_FAMILY_GRANT.providers) {
      const resources = resourcesOf(bundles.find((b) => b.provider === provider) as DemoPatientBundle);
      for (const scope of DEMO_FAMILY_GRANT.scopes) {
        const visible = resources.filter(
          (r) => !isSensitive(r) && maskToScopes(requiredScopes(r)).every((s) => s === scope),
        );
        assert.ok(visible.length >= 2, `${provider}: ${scope}`);
      }
    }
  });

  test("behavior: dates stay within 2019–2026 and every Encounter period is ordered", () => {
    for (const b of bundles) {
      const json = JSON.stringify(b.bundle);
      for (const year of json.match(/"(\d{4})-\d\d(?:-\d\d)?(?:T[^"]*)?"/g) ?? []) {
        const y = Number(year.slice(1, 5));
        if (year.includes("1961-03-14")) continue;
        assert.ok((y >= 2014 && y <= 2026) || y === 1961, `${b.provider}: ${year}`);
      }
      for (const r of resourcesOf(b).filter((x) => x.resourceType === "Encounter")) {
        const { start, end } = r.period as { start: string; end: string };
        assert.ok(start < end, r.id);
        assert.ok(start >= "2019" && end < "2026-12-31", r.id);
      }
    }
  });
});
