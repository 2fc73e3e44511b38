/**
 * The few FHIR fields a patient wants beyond the title and value, in words: how to take a
 * medication, what an allergy does, notes, a document's file. Small components of our own (see the
 * README on why not @medplum/react).
 */
import { conceptText, type TimelineItem } from "@medrec/protocol/patient";

type Loose = Record<string, unknown>;
const asList = (v: unknown): Loose[] =>
  Array.isArray(v) ? (v.filter((x) => x && typeof x === "object") as Loose[]) : [];
const text = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim() : undefined);

const STATUS_WORDS: Record<string, string> = {
  active: "Active",
  inactive: "Inactive",
  resolved: "Resolved",
  remission: "In remission",
  recurrence: "Came back",
  completed: "Completed",
  stopped: "Stopped",
  "on-hold": "On hold",
  cancelled: "Cancelled",
  final: "Final",
  amended: "Amended",
  corrected: "Corrected",
  preliminary: "Preliminary",
  registered: "Registered",
  current: "Current",
  superseded: "Replaced",
  "entered-in-error": "Entered in error",
  "not-done": "Not done",
  "in-progress": "In progress",
  finished: "Finished",
  unknown: "Unknown",
};

/** Statuses too ordinary to mention: a record is final, active or done unless it says otherwise. */
const ROUTINE = new Set(["final", "active", "completed", "finished", "current", "amended", "corrected"]);

/** A FHIR status in words ("Active", "Final"). */
export function statusWords(status: string | undefined): string | undefined {
  if (!status) return undefined;
  return STATUS_WORDS[status] ?? status.charAt(0).toUpperCase() + status.slice(1).replace(/-/g, " ");
}

/** Extra lines for one record, as label → words. */
export function detailLines(item: TimelineItem): [string, string][] {
  const r = item.resource as Loose;
  const lines: [string, string][] = [];
  const status = statusWords(item.status);
  if (status && !ROUTINE.has(item.status ?? "")) lines.push(["Status", status]);
  const dosage = asList(r.dosageInstruction)
    .map((d) => text(d.text))
    .filter(Boolean)
    .join("; ");
  if (dosage) lines.push(["How to take it", dosage]);
  const reactions = asList(r.reaction)
    .flatMap((x) => asList(x.manifestation).map((m) => conceptText(m)))
    .filter(Boolean)
    .join(", ");
  if (reactions) lines.push(["Reaction", reactions]);
  const criticality = text(r.criticality);
  if (criticality)
    lines.push(["Risk", criticality === "high" ? "High" : criticality === "low" ? "Low" : "Unsure"]);
  const severity = conceptText(r.severity);
  if (severity) lines.push(["Severity", severity]);
  const bodySite = asList(r.bodySite)
    .map((b) => conceptText(b))
    .filter(Boolean)
    .join(", ");
  if (bodySite) lines.push(["Where", bodySite]);
  const reason = asList(r.reasonCode)
    .map((b) => conceptText(b))
    .filter(Boolean)
    .join(", ");
  if (reason) lines.push(["Why", reason]);
  const notes = asList(r.note)
    .map((n) => text(n.text))
    .filter(Boolean)
    .join(" ");
  if (notes) lines.push(["Note", notes]);
  const conclusion = text(r.conclusion);
  if (conclusion) lines.push(["Conclusion", conclusion]);
  const file = asList(r.content)
    .map((c) => (c.attachment && typeof c.attachment === "object" ? (c.attachment as Loose) : undefined))
    .map((a) => (a ? (text(a.title) ?? text(a.contentType)) : undefined))
    .filter(Boolean)
    .join(", ");
  if (file) lines.push(["File", file]);
  return lines;
}
