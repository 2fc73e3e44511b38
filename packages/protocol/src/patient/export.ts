/**
 * Taking the records away: a FHIR R4 `collection` Bundle of all or some of the verified records,
 * and a one-page summary (current medications, allergies, active conditions, immunizations, recent
 * lab results) for printing. Pure functions.
 */
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex } from "viem";
import type { FhirBundle, FhirResource } from "../fhir.ts";
import type { ScopeCode } from "../scopes.ts";
import { compareTimelineItems, filterTimeline, type TimelineFilter, type TimelineItem } from "./timeline.ts";

/** The extension that names the provider a record came from, in an exported Bundle entry. */
export const EXPORT_SOURCE_URL = "https://medrec.dev/fhir/source-provider";

/**
 * A stable `urn:uuid:` for a record of a provider: the same record exports under the same name
 * every time, and two providers' records with the same id do not collide.
 */
export function exportFullUrl(provider: string, resource: FhirResource): string {
  const hex = bytesToHex(
    sha256(new TextEncoder().encode(`${provider}\u0000${resource.resourceType}/${resource.id ?? ""}`)),
  ).slice(2, 34);
  // RFC 9562 layout: version 8 (custom), variant 10.
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A FHIR R4 Bundle of type `collection` of the given timeline items (filtered when `filter` is
 * given), each entry's resource as served and an extension naming its provider. No `total`: FHIR
 * allows it on searchset and history Bundles only (invariant bdl-1).
 *
 * @example const bundle = exportFhirBundle(timeline, { filter: { categories: ["labs"] } })
 */
export function exportFhirBundle(
  items: readonly TimelineItem[],
  { filter, timestamp = new Date() }: { filter?: TimelineFilter; timestamp?: Date } = {},
): FhirBundle {
  const chosen = filter ? filterTimeline(items, filter) : [...items];
  return {
    resourceType: "Bundle",
    type: "collection",
    timestamp: timestamp.toISOString(),
    entry: chosen.map((item) => ({
      fullUrl: exportFullUrl(item.provider, item.resource),
      resource: item.resource,
      extension: [{ url: EXPORT_SOURCE_URL, valueString: item.provider }],
    })),
  };
}

export type SummaryLine = {
  title: string;
  provider: string;
  date: string | undefined;
  /** e.g. `7.4 %`, `active`, `high` severity. */
  detail?: string;
  resource: FhirResource;
};

export type HealthSummary = {
  medications: SummaryLine[];
  allergies: SummaryLine[];
  conditions: SummaryLine[];
  immunizations: SummaryLine[];
  /** The latest result of each lab test within `recentLabDays` (flag in `detail`). */
  recentLabs: (SummaryLine & { flag?: TimelineItem["flag"]; range?: string })[];
};

const INACTIVE = new Set([
  "stopped",
  "completed",
  "cancelled",
  "entered-in-error",
  "inactive",
  "resolved",
  "remission",
  "refuted",
]);

function clinical(resource: FhirResource): string | undefined {
  const status = (resource as { clinicalStatus?: { coding?: { code?: string }[] } }).clinicalStatus;
  return status?.coding?.[0]?.code;
}

const line = (item: TimelineItem, detail?: string): SummaryLine => ({
  title: item.title,
  provider: item.provider,
  date: item.date,
  ...(detail ? { detail } : {}),
  resource: item.resource,
});

function isCategory(item: TimelineItem, category: ScopeCode) {
  return item.categories.includes(category);
}

/**
 * What a printable summary shows, from the timeline: active medications and conditions, every
 * allergy, every immunization, and the latest value of each lab test in the last `recentLabDays`
 * (counted back from the newest lab, so an old history still shows its last results).
 */
export function healthSummary(items: readonly TimelineItem[], { recentLabDays = 365 } = {}): HealthSummary {
  const sorted = [...items].sort(compareTimelineItems);
  const medications = sorted
    .filter((i) => isCategory(i, "medications") && !INACTIVE.has(i.status ?? ""))
    .map((i) => line(i, i.status));
  const allergies = sorted
    .filter((i) => isCategory(i, "allergies"))
    .map((i) => {
      const criticality = (i.resource as { criticality?: string }).criticality;
      return line(i, criticality ? `${criticality} criticality` : undefined);
    });
  const conditions = sorted
    .filter((i) => isCategory(i, "conditions") && !INACTIVE.has(clinical(i.resource) ?? ""))
    .map((i) => line(i, clinical(i.resource)));
  const immunizations = sorted.filter((i) => isCategory(i, "immunizations")).map((i) => line(i));
  const labs = sorted.filter((i) => i.resourceType === "Observation" && isCategory(i, "labs") && i.value);
  const newest = labs[0]?.date ? Date.parse(labs[0].date) : undefined;
  const seen = new Set<string>();
  const recentLabs: HealthSummary["recentLabs"] = [];
  for (const lab of labs) {
    if (newest !== undefined && lab.date && Date.parse(lab.date) < newest - recentLabDays * 86_400_000) break;
    const key = labKey(lab);
    if (seen.has(key)) continue;
    seen.add(key);
    recentLabs.push({
      ...line(lab, lab.value?.text),
      ...(lab.flag ? { flag: lab.flag } : {}),
      ...(lab.range ? { range: lab.range.text } : {}),
    });
  }
  // Conditions and medications the same at several providers appear once (the newest).
  const once = (lines: SummaryLine[]) => {
    const keys = new Set<string>();
    return lines.filter((l) => {
      const k = l.title.toLowerCase();
      if (keys.has(k)) return false;
      keys.add(k);
      return true;
    });
  };
  return {
    medications: once(medications),
    allergies: once(allergies),
    conditions: once(conditions),
    immunizations,
    recentLabs,
  };
}

/**
 * One key per kind of test: the first coding (system and code, e.g. LOINC 4548-4) — two providers
 * may name the same test differently — else the title in lower case.
 */
function labKey(lab: TimelineItem): string {
  const codings = (lab.resource as { code?: { coding?: unknown } }).code?.coding;
  if (Array.isArray(codings))
    for (const c of codings) {
      const { system, code } = (c ?? {}) as { system?: unknown; code?: unknown };
      if (typeof code === "string" && code) return `${typeof system === "string" ? system : ""}|${code}`;
    }
  return lab.title.toLowerCase();
}
