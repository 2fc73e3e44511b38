import { healthSummary, type SummaryLine } from "@medrec/protocol/patient";
import { useMemo } from "react";
import { Link } from "react-router";
import { ErrorView } from "../../../components/error-view.tsx";
import { Page } from "../../../components/page.tsx";
import { TableHead } from "../../../components/table-head.tsx";
import { FLAG_WORDS, formatDate, plainTitle, plainUnits } from "../../../lib/record-words.ts";
import { useVerifiedRecords } from "../use-records.ts";
import "./export.css";

const DETAIL: Record<string, string> = {
  active: "Active",
  recurrence: "Came back",
  relapse: "Came back",
  "on-hold": "On hold",
  draft: "Draft",
  "high criticality": "High risk",
  "low criticality": "Low risk",
  "unable-to-assess criticality": "Risk unsure",
};

function Section({
  title,
  lines,
  empty,
  extra,
}: {
  title: string;
  lines: readonly (SummaryLine & { flag?: string | undefined; range?: string | undefined })[];
  empty: string;
  extra?: (l: SummaryLine & { flag?: string | undefined; range?: string | undefined }) => string | undefined;
}) {
  return (
    <section className="summary-section" aria-label={title}>
      <h2>{title}</h2>
      {lines.length === 0 ? (
        <p className="muted">{empty}</p>
      ) : (
        <table className="summary-table">
          <TableHead columns={["What", "Details", "Date", "From"]} />
          <tbody>
            {lines.map((l) => (
              <tr key={`${l.provider}:${l.resource.resourceType}/${l.resource.id ?? l.title}`}>
                <td>{plainTitle(l.title)}</td>
                <td>{plainUnits((extra?.(l) ?? (l.detail ? (DETAIL[l.detail] ?? l.detail) : "")) || "—")}</td>
                <td>{formatDate(l.date)}</td>
                <td>{l.provider}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function SummaryScreen() {
  const { records, error } = useVerifiedRecords();
  const summary = useMemo(() => healthSummary(records.items), [records.items]);
  const loading = records.phase !== "done";
  const notShown = records.providers.filter((p) => p.status !== "verified" && p.status !== "loading");
  return (
    <Page
      title="Health summary"
      lead={`As of ${formatDate(new Date().toISOString())}. Only records verified against the MedRec network.`}
    >
      {error ? <ErrorView error={error} /> : null}
      <div className="summary-actions no-print">
        <button type="button" className="btn btn-primary" onClick={() => window.print()} disabled={loading}>
          Print
        </button>
        <Link to="/export">Back to download options</Link>
      </div>
      {loading ? (
        <p role="status" className="loading no-print">
          <span className="spinner" aria-hidden="true" /> Still reading your records…
        </p>
      ) : null}
      {notShown.length > 0 ? (
        <p className="muted">
          Not included: {notShown.map((p) => p.provider).join(", ")} (not verified or not reachable).
        </p>
      ) : null}
      <div className="summary">
        <Section title="Medications" lines={summary.medications} empty="No current medications." />
        <Section title="Allergies" lines={summary.allergies} empty="No known allergies recorded." />
        <Section title="Conditions" lines={summary.conditions} empty="No current conditions." />
        <Section title="Immunizations" lines={summary.immunizations} empty="No immunizations recorded." />
        <Section
          title="Recent lab results"
          lines={summary.recentLabs}
          empty="No lab results in the last year."
          extra={(l) =>
            [
              l.detail,
              l.flag && l.flag !== "normal" ? `(${FLAG_WORDS[l.flag as keyof typeof FLAG_WORDS]})` : "",
              l.range ? `normal ${l.range}` : "",
            ]
              .filter(Boolean)
              .join(" ")
          }
        />
      </div>
    </Page>
  );
}
