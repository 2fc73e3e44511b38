/** The record categories (scope codes of docs/protocol.md "Scopes") in the patient's words. */
import type { ScopeCode } from "@medrec/protocol";

export const CATEGORY_LABELS: Record<ScopeCode, { name: string; example: string }> = {
  demographics: { name: "Personal details", example: "name, birth date, address" },
  encounters: { name: "Visits", example: "appointments and hospital stays" },
  conditions: { name: "Conditions", example: "diagnoses and health problems" },
  medications: { name: "Medications", example: "prescriptions and what you take" },
  allergies: { name: "Allergies", example: "allergies and intolerances" },
  immunizations: { name: "Vaccinations", example: "shots and immunizations" },
  labs: { name: "Lab results", example: "blood tests and lab reports" },
  vitals: { name: "Vital signs", example: "blood pressure, weight, heart rate" },
  documents: { name: "Documents", example: "letters, scans and notes" },
  procedures: { name: "Procedures", example: "operations and treatments" },
  sensitive: { name: "Sensitive records", example: "mental health, substance use" },
  other: { name: "Other records", example: "insurance claims and everything else" },
};

/** "A, B and C". */
export function listInWords(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? "nothing";
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** "Lab results, Medications and Vaccinations". */
export function categoryList(codes: readonly ScopeCode[]): string {
  return listInWords(codes.map((c) => CATEGORY_LABELS[c]?.name ?? c));
}

/** "7 Dec 2026" (and the time when it is within two days). */
export function formatDate(date: Date, withTime = false): string {
  return date.toLocaleString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    ...(withTime ? { hour: "2-digit", minute: "2-digit" } : {}),
  });
}
