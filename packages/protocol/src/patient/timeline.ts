/**
 * The timeline: every FHIR R4 resource of every provider as one dated line in plain words —
 * category (the scope table of docs/protocol.md, via `resourceCategories`), title from the coding's
 * display or text, and for results the value, unit, reference range and whether it is out of range.
 * Pure functions: no network, no clock.
 */

import type { FhirResource } from "../fhir.ts";
import { isObject } from "../fhir.ts";
import { isSensitive, resourceCategories, type ScopeCode } from "../scopes.ts";

/** A measured value in words: `7.4 %`, `128/82 mmHg`, `Positive`. */
export type TimelineValue = {
  /** The number when there is one (the first component's for a panel like blood pressure). */
  value?: number;
  unit?: string;
  /** The value as shown, with its unit. */
  text: string;
};

/** A reference range: bounds when given, and its text. */
export type TimelineRange = { low?: number; high?: number; text: string };

/** Out of range, from the FHIR interpretation or (when none is given) from the range. */
export type RangeFlag = "high" | "low" | "abnormal" | "normal";

export type TimelineItem = {
  /** `provider:Type/id`: unique across providers. */
  key: string;
  /** ISO date-time (or date) the record is about; undefined when it carries none. */
  date: string | undefined;
  /** Provider name (or a relationship label when the provider is unknown). */
  provider: string;
  relationship: string;
  /** The first category of the resource (`labs`, `medications`, …; `other` for the rest). */
  category: ScopeCode;
  /** Every category the resource falls under (an Observation may be both labs and vitals). */
  categories: ScopeCode[];
  /** Labelled restricted or very restricted: visible to a viewer only with `sensitive` too. */
  sensitive: boolean;
  /** In plain words: the coding's text or display, or a description of the kind of record. */
  title: string;
  /** FHIR status words (`active`, `final`, `completed`, …) when given. */
  status?: string;
  value?: TimelineValue;
  range?: TimelineRange;
  flag?: RangeFlag;
  resourceType: string;
  resource: FhirResource;
};

type Concept = { text?: unknown; coding?: unknown };

/** The words of a CodeableConcept: its text, else the first coding's display, else its code. */
export function conceptText(concept: unknown): string | undefined {
  if (!isObject(concept)) return undefined;
  const c = concept as Concept;
  if (typeof c.text === "string" && c.text.trim()) return c.text.trim();
  if (Array.isArray(c.coding))
    for (const coding of c.coding)
      if (isObject(coding) && typeof coding.display === "string" && coding.display.trim())
        return coding.display.trim();
  if (Array.isArray(c.coding))
    for (const coding of c.coding)
      if (isObject(coding) && typeof coding.code === "string") return coding.code;
  return undefined;
}

const firstConcept = (value: unknown) => (Array.isArray(value) ? conceptText(value[0]) : conceptText(value));

/** What a record is about when it has no coding: its kind in plain words. */
const KIND: Record<string, string> = {
  Observation: "Observation",
  Condition: "Condition",
  MedicationRequest: "Medication",
  MedicationStatement: "Medication",
  AllergyIntolerance: "Allergy",
  Immunization: "Vaccination",
  DiagnosticReport: "Report",
  DocumentReference: "Document",
  Procedure: "Procedure",
  Encounter: "Visit",
  Patient: "Personal details",
  Claim: "Claim",
  ExplanationOfBenefit: "Explanation of benefit",
};

function str(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() ? value : undefined;
}

function periodStart(value: unknown): string | undefined {
  return isObject(value) ? str(value.start) : undefined;
}

/** The date a resource is about, by type (effective, onset, authored, occurrence, performed, …). */
export function resourceDate(resource: FhirResource): string | undefined {
  const r = resource as Record<string, unknown>;
  return (
    str(r.effectiveDateTime) ??
    periodStart(r.effectivePeriod) ??
    str(r.effectiveInstant) ??
    str(r.occurrenceDateTime) ??
    str(r.performedDateTime) ??
    periodStart(r.performedPeriod) ??
    str(r.onsetDateTime) ??
    periodStart(r.onsetPeriod) ??
    str(r.authoredOn) ??
    str(r.recordedDate) ??
    str(r.dateAsserted) ??
    str(r.date) ??
    periodStart(r.period) ??
    periodStart(r.billablePeriod) ??
    str(r.issued) ??
    str(r.created) ??
    str(r.started) ??
    str(r.recorded) ??
    str(r.manufactureDate) ??
    (isObject(r.meta) ? str(r.meta.lastUpdated) : undefined)
  );
}

function patientName(resource: Record<string, unknown>): string | undefined {
  const name = Array.isArray(resource.name) ? resource.name[0] : undefined;
  if (!isObject(name)) return undefined;
  if (typeof name.text === "string") return name.text;
  const given = Array.isArray(name.given) ? name.given.filter((g) => typeof g === "string") : [];
  return [...given, typeof name.family === "string" ? name.family : ""].join(" ").trim() || undefined;
}

/** Finds a resource a reference points to (`Type/id` or `urn:uuid:…`), among the same provider's. */
export type ResourceLookup = (reference: string) => FhirResource | undefined;

/** A lookup that grows as resources arrive (page by page), by `Type/id` and by bare id (what `urn:uuid:` names). */
export function createLookup(): { lookup: ResourceLookup; add(resources: Iterable<FhirResource>): void } {
  const byKey = new Map<string, FhirResource>();
  return {
    lookup: (reference) => byKey.get(reference) ?? byKey.get(reference.replace(/^urn:uuid:/, "")),
    add(resources) {
      for (const r of resources)
        if (r.id) {
          byKey.set(`${r.resourceType}/${r.id}`, r);
          byKey.set(r.id, r);
        }
    },
  };
}

/** A lookup over a list of resources. */
export function lookupIn(resources: Iterable<FhirResource>): ResourceLookup {
  const { lookup, add } = createLookup();
  add(resources);
  return lookup;
}

/** The medication a MedicationRequest / Statement / Administration names, in words. */
function medicationText(r: Record<string, unknown>, lookup: ResourceLookup | undefined): string | undefined {
  const inline = conceptText(r.medicationCodeableConcept);
  if (inline) return inline;
  if (!isObject(r.medicationReference)) return undefined;
  const reference = str(r.medicationReference.reference);
  const target = reference ? lookup?.(reference) : undefined;
  return str(r.medicationReference.display) ?? (target ? conceptText(target.code) : undefined);
}

/**
 * The record's title in plain words: the concept a person would name it by (the code, vaccine,
 * medication — looked up through `lookup` when only referenced —, type, procedure, category or
 * reason), else the kind of record.
 */
export function resourceTitle(resource: FhirResource, lookup?: ResourceLookup): string {
  const r = resource as Record<string, unknown>;
  const type = resource.resourceType;
  const device =
    Array.isArray(r.deviceName) && isObject(r.deviceName[0]) ? str(r.deviceName[0].name) : undefined;
  const supplied = isObject(r.suppliedItem) ? conceptText(r.suppliedItem.itemCodeableConcept) : undefined;
  const found =
    type === "Immunization"
      ? conceptText(r.vaccineCode)
      : type.startsWith("Medication") && type !== "Medication"
        ? medicationText(r, lookup)
        : type === "DocumentReference"
          ? (str(r.description) ?? conceptText(r.type) ?? firstConcept(r.category))
          : type === "Encounter"
            ? (firstConcept(r.type) ?? (isObject(r.class) ? str(r.class.display) : undefined))
            : type === "Patient" || type === "Practitioner" || type === "RelatedPerson"
              ? patientName(r)
              : type === "Organization" || type === "Location"
                ? (str(r.name) ?? str(r.description))
                : (conceptText(r.code) ??
                  supplied ??
                  firstConcept(r.procedureCode) ??
                  (type === "SupplyDelivery" ? undefined : firstConcept(r.type)) ??
                  device ??
                  firstConcept(r.category) ??
                  firstConcept(r.reasonCode) ??
                  str(r.name) ??
                  str(r.description));
  return found ?? KIND[type] ?? type.replace(/([a-z])([A-Z])/g, "$1 $2");
}

function quantity(value: unknown): { value?: number; unit?: string } | undefined {
  if (!isObject(value)) return undefined;
  const number = typeof value.value === "number" ? value.value : undefined;
  const unit = str(value.unit) ?? str(value.code);
  if (number === undefined && unit === undefined) return undefined;
  return { ...(number === undefined ? {} : { value: number }), ...(unit ? { unit } : {}) };
}

const withUnit = (q: { value?: number; unit?: string }) =>
  [q.value === undefined ? "" : String(q.value), q.unit ?? ""].join(" ").trim();

/** The value of an Observation (or of one of its components) in words. */
function observationValue(source: Record<string, unknown>): TimelineValue | undefined {
  const q = quantity(source.valueQuantity);
  if (q) return { ...q, text: withUnit(q) };
  const concept = conceptText(source.valueCodeableConcept);
  if (concept) return { text: concept };
  const text = str(source.valueString);
  if (text) return { text };
  if (typeof source.valueBoolean === "boolean") return { text: source.valueBoolean ? "Yes" : "No" };
  if (typeof source.valueInteger === "number")
    return { value: source.valueInteger, text: String(source.valueInteger) };
  return undefined;
}

/** The value of an Observation: its own, or its components joined (`128/82 mmHg` for blood pressure). */
export function resourceValue(resource: FhirResource): TimelineValue | undefined {
  const r = resource as Record<string, unknown>;
  if (resource.resourceType !== "Observation") return undefined;
  const own = observationValue(r);
  if (own) return own;
  const components = Array.isArray(r.component) ? r.component.filter(isObject) : [];
  const values = components.map((c) => observationValue(c)).filter((v) => v !== undefined);
  if (values.length === 0) return undefined;
  const units = new Set(values.map((v) => v.unit));
  if (values.every((v) => v.value !== undefined) && units.size === 1) {
    const unit = values[0]?.unit;
    const text = `${values.map((v) => v.value).join("/")}${unit ? ` ${unit}` : ""}`;
    return { value: values[0]?.value as number, ...(unit ? { unit } : {}), text };
  }
  return { text: values.map((v) => v.text).join(", ") };
}

/** The first reference range of an Observation, when it has one. */
export function resourceRange(resource: FhirResource): TimelineRange | undefined {
  const ranges = (resource as { referenceRange?: unknown }).referenceRange;
  const range = Array.isArray(ranges) ? ranges.find(isObject) : undefined;
  if (!range) return undefined;
  const low = quantity(range.low);
  const high = quantity(range.high);
  const text =
    str(range.text) ??
    (low?.value !== undefined && high?.value !== undefined
      ? `${low.value}–${withUnit(high)}`
      : low?.value !== undefined
        ? `≥ ${withUnit(low)}`
        : high?.value !== undefined
          ? `≤ ${withUnit(high)}`
          : undefined);
  if (text === undefined) return undefined;
  return {
    ...(low?.value === undefined ? {} : { low: low.value }),
    ...(high?.value === undefined ? {} : { high: high.value }),
    text,
  };
}

/** HL7 v3 ObservationInterpretation codes → flag. */
const INTERPRETATION: Record<string, RangeFlag> = {
  H: "high",
  HH: "high",
  HU: "high",
  ">": "high",
  L: "low",
  LL: "low",
  LU: "low",
  "<": "low",
  A: "abnormal",
  AA: "abnormal",
  POS: "abnormal",
  DET: "abnormal",
  N: "normal",
  NEG: "normal",
  ND: "normal",
};

/**
 * Whether an Observation's value is out of range: from `interpretation` when given (H/HH/L/LL/A/…),
 * else from the value and the reference range's bounds; undefined when neither says.
 */
export function resourceFlag(resource: FhirResource): RangeFlag | undefined {
  const interpretation = (resource as { interpretation?: unknown }).interpretation;
  if (Array.isArray(interpretation))
    for (const concept of interpretation) {
      const codings = isObject(concept) && Array.isArray(concept.coding) ? concept.coding : [];
      for (const coding of codings)
        if (isObject(coding) && typeof coding.code === "string" && INTERPRETATION[coding.code])
          return INTERPRETATION[coding.code];
    }
  const value = resourceValue(resource)?.value;
  const range = resourceRange(resource);
  if (value === undefined || !range || (range.low === undefined && range.high === undefined))
    return undefined;
  if (range.high !== undefined && value > range.high) return "high";
  if (range.low !== undefined && value < range.low) return "low";
  return "normal";
}

function resourceStatus(resource: FhirResource): string | undefined {
  const r = resource as Record<string, unknown>;
  return str(r.status) ?? conceptText(r.clinicalStatus);
}

/** Where a resource came from. */
export type TimelineSource = { provider: string; relationship: string };

/**
 * One resource as a timeline line.
 *
 * @example
 * toTimelineItem(observation, { provider: "Lakeside Clinic", relationship: id })
 * // { category: "labs", title: "Hemoglobin A1c…", value: { text: "7.4 %" }, flag: "high", … }
 */
export function toTimelineItem(
  resource: FhirResource,
  source: TimelineSource,
  lookup?: ResourceLookup,
): TimelineItem {
  const categories = resourceCategories(resource);
  const value = resourceValue(resource);
  const range = resourceRange(resource);
  const flag = resource.resourceType === "Observation" ? resourceFlag(resource) : undefined;
  const status = resourceStatus(resource);
  return {
    key: `${source.provider}:${resource.resourceType}/${resource.id ?? ""}`,
    date: resourceDate(resource),
    provider: source.provider,
    relationship: source.relationship,
    category: categories[0] ?? "other",
    categories,
    sensitive: isSensitive(resource),
    title: resourceTitle(resource, lookup),
    ...(status ? { status } : {}),
    ...(value ? { value } : {}),
    ...(range ? { range } : {}),
    ...(flag ? { flag } : {}),
    resourceType: resource.resourceType,
    resource,
  };
}

/** Newest first; undated records last; ties by provider then title, so the order is stable. */
export function compareTimelineItems(a: TimelineItem, b: TimelineItem): number {
  const ta = a.date ? Date.parse(a.date) : Number.NaN;
  const tb = b.date ? Date.parse(b.date) : Number.NaN;
  if (Number.isNaN(ta) !== Number.isNaN(tb)) return Number.isNaN(ta) ? 1 : -1;
  if (!Number.isNaN(ta) && ta !== tb) return tb - ta;
  return a.provider.localeCompare(b.provider) || a.title.localeCompare(b.title) || a.key.localeCompare(b.key);
}

/** Every provider's resources as one timeline, newest first. */
export function buildTimeline(
  sources: Iterable<{ source: TimelineSource; resources: Iterable<FhirResource> }>,
): TimelineItem[] {
  const items: TimelineItem[] = [];
  for (const { source, resources } of sources) {
    const list = [...resources];
    const lookup = lookupIn(list);
    for (const resource of list) items.push(toTimelineItem(resource, source, lookup));
  }
  return items.sort(compareTimelineItems);
}

/** Adds `more` to an already sorted timeline (e.g. the next page of a provider), keeping it sorted. */
export function mergeTimeline(
  sorted: readonly TimelineItem[],
  more: readonly TimelineItem[],
): TimelineItem[] {
  return [...sorted, ...more].sort(compareTimelineItems);
}

export type TimelineFilter = {
  categories?: readonly ScopeCode[];
  providers?: readonly string[];
  /** From this date on (inclusive), ISO. */
  from?: string;
  /** Up to this date (inclusive: the whole day when a date is given), ISO. */
  to?: string;
  /** Only results flagged high, low or abnormal. */
  outOfRange?: boolean;
  /** Include sensitive items. Default true. */
  sensitive?: boolean;
};

/** The items that pass every given condition of `filter`. */
export function filterTimeline(items: readonly TimelineItem[], filter: TimelineFilter): TimelineItem[] {
  const from = filter.from ? Date.parse(filter.from) : undefined;
  const to = filter.to
    ? Date.parse(filter.to.length === 10 ? `${filter.to}T23:59:59.999Z` : filter.to)
    : undefined;
  return items.filter((item) => {
    if (filter.categories && !item.categories.some((c) => filter.categories?.includes(c))) return false;
    if (filter.providers && !filter.providers.includes(item.provider)) return false;
    if (filter.sensitive === false && item.sensitive) return false;
    if (filter.outOfRange && !(item.flag && item.flag !== "normal")) return false;
    if (from !== undefined || to !== undefined) {
      const t = item.date ? Date.parse(item.date) : Number.NaN;
      if (Number.isNaN(t)) return false;
      if (from !== undefined && t < from) return false;
      if (to !== undefined && t > to) return false;
    }
    return true;
  });
}

/**
 * Items whose title, value, provider, category or status contain every word of `query`
 * (case- and accent-insensitive).
 */
export function searchTimeline(items: readonly TimelineItem[], query: string): TimelineItem[] {
  const fold = (s: string) => s.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...items];
  return items.filter((item) => {
    const haystack = fold(
      [item.title, item.value?.text ?? "", item.provider, item.categories.join(" "), item.status ?? ""].join(
        " ",
      ),
    );
    return words.every((w) => haystack.includes(w));
  });
}
