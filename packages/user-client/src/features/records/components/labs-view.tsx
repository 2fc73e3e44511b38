import type { TimelineItem } from "@medrec/protocol/patient";
import { lazy, Suspense, useMemo, useState } from "react";
import { TableHead } from "../../../components/table-head.tsx";
import { FLAG_WORDS, formatDate, plainTitle, plainUnits, plural } from "../../../lib/record-words.ts";
import type { TrendPoint } from "./lab-trend.tsx";
import { FlagPill } from "./record-list.tsx";

const LabTrend = lazy(() => import("./lab-trend.tsx"));
const STEP = 30;

type LabGroup = { key: string; title: string; items: TimelineItem[] };

/** The lab test a result is of: its first coding (system and code), else its title. */
function labKey(item: TimelineItem): string {
  const code = (item.resource as { code?: { coding?: { system?: string; code?: string }[] } }).code;
  const first = code?.coding?.find((c) => c.code);
  return first ? `${first.system ?? ""}|${first.code}` : item.title.toLowerCase();
}

/** Results grouped by test, newest result first in each, tests by their newest result. */
export function groupLabs(items: readonly TimelineItem[]): LabGroup[] {
  const groups = new Map<string, LabGroup>();
  for (const item of items) {
    if (item.resourceType !== "Observation") continue;
    const key = labKey(item);
    const group = groups.get(key) ?? { key, title: plainTitle(item.title), items: [] };
    group.items.push(item);
    groups.set(key, group);
  }
  return [...groups.values()];
}

function LabCard({ group }: { group: LabGroup }) {
  const latest = group.items[0] as TimelineItem;
  const points: TrendPoint[] = useMemo(
    () =>
      group.items.flatMap((i) => {
        const t = i.date ? Date.parse(i.date) : Number.NaN;
        return i.value?.value !== undefined && !Number.isNaN(t) ? [{ t, value: i.value.value }] : [];
      }),
    [group],
  );
  const headingId = `lab-${group.key.replace(/[^a-z0-9]/gi, "-")}`;
  return (
    <li className="lab-card" aria-labelledby={headingId}>
      <h3 id={headingId}>{group.title}</h3>
      <p className="lab-latest">
        <span className="lab-value">{latest.value ? plainUnits(latest.value.text) : "No value"}</span>{" "}
        <FlagPill flag={latest.flag} />
        <span className="muted">
          {" "}
          on {formatDate(latest.date)} at {latest.provider}
        </span>
      </p>
      {latest.range ? <p className="muted">Normal range: {plainUnits(latest.range.text)}</p> : null}
      {points.length >= 2 ? (
        <figure className="trend">
          <Suspense fallback={<div className="trend-chart trend-loading" aria-hidden="true" />}>
            <LabTrend
              points={points}
              low={latest.range?.low}
              high={latest.range?.high}
              unit={latest.value?.unit}
            />
          </Suspense>
          <figcaption className="muted">
            Trend of {plural(points.length, "result")}, {formatDate(group.items.at(-1)?.date)} to{" "}
            {formatDate(latest.date)}
            {latest.range ? "; dashed lines mark the normal range" : ""}.
          </figcaption>
        </figure>
      ) : null}
      {group.items.length > 1 ? (
        <details className="record-more">
          <summary>
            All {group.items.length} results<span className="visually-hidden"> of {group.title}</span>
          </summary>
          <table className="lab-table">
            <caption className="visually-hidden">{group.title}: every result</caption>
            <TableHead columns={["Date", "Result", "Provider"]} />
            <tbody>
              {group.items.map((i) => (
                <tr key={i.key}>
                  <td>{formatDate(i.date)}</td>
                  <td>
                    {i.value ? plainUnits(i.value.text) : "—"}
                    {i.flag && i.flag !== "normal" ? ` (${FLAG_WORDS[i.flag]})` : ""}
                  </td>
                  <td>{i.provider}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </li>
  );
}

export function LabsView({ items, empty }: { items: readonly TimelineItem[]; empty: string }) {
  const groups = useMemo(() => groupLabs(items), [items]);
  const [shown, setShown] = useState(STEP);
  if (groups.length === 0) return <p className="empty">{empty}</p>;
  return (
    <>
      <ul className="lab-grid" aria-label="Lab tests">
        {groups.slice(0, shown).map((g) => (
          <LabCard key={g.key} group={g} />
        ))}
      </ul>
      {groups.length > shown ? (
        <div className="more-row">
          <p className="muted">
            Showing {shown} of {plural(groups.length, "test")}.
          </p>
          <button type="button" className="btn btn-secondary" onClick={() => setShown((n) => n + STEP)}>
            Show more tests
          </button>
        </div>
      ) : null}
    </>
  );
}
