import type { TimelineItem } from "@medrec/protocol/patient";
import { useState } from "react";
import {
  categoryName,
  FLAG_WORDS,
  formatDate,
  plainTitle,
  plainUnits,
  plural,
} from "../../../lib/record-words.ts";
import { detailLines, statusWords } from "./record-details.tsx";

/** Where whether it still applies matters: a medication taken now, a condition still active. */
const STATUS_IN_LINE = new Set(["medications", "conditions", "allergies"]);

const STEP = 50;

/** A flag as a pill with words; nothing when the result is in range or has none. */
export function FlagPill({ flag }: { flag: TimelineItem["flag"] }) {
  if (!flag || flag === "normal") return null;
  return <span className={`flag flag-${flag}`}>{FLAG_WORDS[flag]}</span>;
}

/** One record: date, what, value and range, provider; more in a disclosure. */
export function RecordRow({ item, showCategory = true }: { item: TimelineItem; showCategory?: boolean }) {
  const details = detailLines(item);
  return (
    <li className="record">
      <div className="record-date">
        <time dateTime={item.date}>{formatDate(item.date)}</time>
      </div>
      <div className="record-body">
        <div className="record-title">
          <strong>{plainTitle(item.title)}</strong>
          {item.sensitive ? <span className="tag">Restricted</span> : null}
        </div>
        {item.value ? (
          <div className="record-value">
            <span>{plainUnits(item.value.text)}</span> <FlagPill flag={item.flag} />
            {item.range ? <span className="muted"> · Normal range {plainUnits(item.range.text)}</span> : null}
          </div>
        ) : null}
        <div className="record-meta muted">
          {showCategory ? `${categoryName(item)} · ` : ""}
          {STATUS_IN_LINE.has(item.category) && statusWords(item.status)
            ? `${statusWords(item.status)} · `
            : ""}
          {item.provider}
        </div>
        {details.length > 0 ? (
          <details className="record-more">
            <summary>
              More<span className="visually-hidden"> about {plainTitle(item.title)}</span>
            </summary>
            <dl>
              {details.map(([label, value]) => (
                <div key={label}>
                  <dt>{label}</dt>
                  <dd>{value}</dd>
                </div>
              ))}
            </dl>
          </details>
        ) : null}
      </div>
    </li>
  );
}

/** A long list shown 50 at a time. */
export function RecordList({
  items,
  label,
  showCategory = true,
  empty,
}: {
  items: readonly TimelineItem[];
  label: string;
  showCategory?: boolean;
  empty: string;
}) {
  const [shown, setShown] = useState(STEP);
  if (items.length === 0) return <p className="empty">{empty}</p>;
  return (
    <>
      <ol className="records" aria-label={label}>
        {items.slice(0, shown).map((item) => (
          <RecordRow key={item.key} item={item} showCategory={showCategory} />
        ))}
      </ol>
      {items.length > shown ? (
        <div className="more-row">
          <p className="muted">
            Showing {shown.toLocaleString()} of {plural(items.length, "record")}.
          </p>
          <button type="button" className="btn btn-secondary" onClick={() => setShown((n) => n + STEP)}>
            Show {Math.min(STEP, items.length - shown)} more
          </button>
        </div>
      ) : null}
    </>
  );
}
