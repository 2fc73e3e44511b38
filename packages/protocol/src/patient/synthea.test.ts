/**
 * The timeline over whole Synthea patients (the population the records tests generate once into
 * the cache by `pnpm --filter @medrec/database-manager run setup-synthea`, which `./medrec test`
 * runs before these tests; without it the suite fails and says so): every resource becomes a dated, titled
 * line in its category, labs and vitals carry their values, the summary finds something in each
 * section a long history has, and the export holds every line.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { medrecCacheDir } from "../cache.ts";
import type { FhirBundle, FhirResource } from "../fhir.ts";
import { exportFhirBundle, healthSummary } from "./export.ts";
import { buildTimeline, filterTimeline } from "./timeline.ts";

/** Directory entries, not events: they carry no date of their own. */
const UNDATED = new Set([
  "Patient",
  "Medication",
  "Organization",
  "Location",
  "Practitioner",
  "PractitionerRole",
]);

const cache = medrecCacheDir();
const files = existsSync(cache)
  ? readdirSync(cache)
      .filter((d) => d.startsWith("synthea-") && existsSync(path.join(cache, d, "fhir")))
      .flatMap((d) =>
        readdirSync(path.join(cache, d, "fhir"))
          .filter((f) => f.endsWith(".json") && !/^(hospital|practitioner)Information/.test(f))
          .map((f) => path.join(cache, d, "fhir", f)),
      )
      .slice(0, 3)
  : [];

describe("timeline over Synthea patients", () => {
  test("setup: the Synthea population is in the cache (generate it with setup-synthea)", () => {
    assert.ok(files.length > 0, `no Synthea patients under ${cache}/synthea-*/fhir`);
  });
  for (const file of files)
    test(`behavior: ${path.basename(path.dirname(path.dirname(file)))} / one patient's whole history`, () => {
      const bundle = JSON.parse(readFileSync(file, "utf8")) as FhirBundle;
      const resources = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => !!r);
      const timeline = buildTimeline([{ source: { provider: "Synthea", relationship: "0x" }, resources }]);
      assert.equal(timeline.length, resources.length);
      for (const item of timeline) {
        assert.ok(item.title.trim().length > 0, `${item.key} has a title`);
        if (!UNDATED.has(item.resourceType)) assert.ok(item.date, `${item.key} has a date`);
        if (item.resourceType === "MedicationRequest")
          assert.notEqual(item.title, "Medication", `${item.key}: the referenced Medication names it`);
      }
      const dated = timeline.filter((i) => i.date).map((i) => Date.parse(i.date as string));
      assert.deepEqual(
        dated,
        [...dated].sort((a, b) => b - a),
        "newest first",
      );
      const labs = filterTimeline(timeline, { categories: ["labs"] }).filter(
        (i) => i.resourceType === "Observation",
      );
      const vitals = filterTimeline(timeline, { categories: ["vitals"] });
      assert.ok(labs.length + vitals.length > 0, "a history has results");
      assert.ok(
        [...labs, ...vitals].every((i) => i.value !== undefined || i.resource.valueQuantity === undefined),
        "every measured result shows its value",
      );
      const summary = healthSummary(timeline);
      assert.ok(summary.immunizations.length + summary.conditions.length + summary.recentLabs.length > 0);
      assert.equal(exportFhirBundle(timeline).entry?.length, timeline.length);
    });
});
