/**
 * Words for records that more than one screen shows (records, export, print): category names,
 * dates, and whether a result is in range. Plain words; no codes.
 */
import type { RangeFlag, TimelineItem } from "@medrec/protocol/patient";

/** The categories a patient browses, in the order shown, with their names. */
export const RECORD_CATEGORIES = [
  { code: "conditions", label: "Conditions", one: "Condition" },
  { code: "medications", label: "Medications", one: "Medication" },
  { code: "allergies", label: "Allergies", one: "Allergy" },
  { code: "immunizations", label: "Immunizations", one: "Immunization" },
  { code: "labs", label: "Lab results", one: "Lab result" },
  { code: "vitals", label: "Vitals", one: "Vital sign" },
  { code: "procedures", label: "Procedures", one: "Procedure" },
  { code: "documents", label: "Documents", one: "Document" },
  { code: "encounters", label: "Visits", one: "Visit" },
  { code: "demographics", label: "Personal details", one: "Personal details" },
  { code: "other", label: "Other", one: "Other record" },
] as const;

export type RecordCategory = (typeof RECORD_CATEGORIES)[number]["code"];

/** "Lab result", "Medication", … for one item (its first category). */
export function categoryName(item: Pick<TimelineItem, "category">): string {
  return RECORD_CATEGORIES.find((c) => c.code === item.category)?.one ?? "Record";
}

const DAY = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });

/** "12 Mar 2025"; "No date" when the record carries none. */
export function formatDate(date: string | undefined): string {
  if (!date) return "No date";
  const t = Date.parse(date);
  return Number.isNaN(t) ? "No date" : DAY.format(t);
}

/** A result's flag in words (never colour alone). */
export const FLAG_WORDS: Record<RangeFlag, string> = {
  high: "High",
  low: "Low",
  abnormal: "Outside normal",
  normal: "Normal",
};

/** "1 record", "3 records". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/** UCUM units as a patient writes them (`mm[Hg]` → `mmHg`). */
const UNITS: [RegExp, string][] = [
  [/mm\[Hg\]/g, "mmHg"],
  [/\{1\.73_m2\}/g, "1.73 m²"],
  [/\[in_i\]/g, "in"],
  [/\[lb_av\]/g, "lb"],
  [/\[degF\]/g, "°F"],
  [/\bCel\b/g, "°C"],
  [/kg\/m2\b/g, "kg/m²"],
  [/10\*3\//g, "×10³/"],
  [/10\*6\//g, "×10⁶/"],
  [/\buL\b/g, "µL"],
  [/\{[^}]*\}/g, ""],
];

/** A value or range in words: UCUM codes replaced by the units people write. */
export function plainUnits(text: string): string {
  let out = text;
  for (const [pattern, words] of UNITS) out = out.replace(pattern, words);
  return out.replace(/\s{2,}/g, " ").trim();
}

/**
 * A lab name without the laboratory's bracketed qualifiers: "Cholesterol [Mass/volume] in Serum or
 * Plasma" → "Cholesterol in Serum or Plasma".
 */
export function plainTitle(title: string): string {
  const out = title
    .replace(/\s*\[[^\]]*\]/g, "")
    .replace(/\s{2,}/g, " ")
    .trim();
  return out || title;
}
