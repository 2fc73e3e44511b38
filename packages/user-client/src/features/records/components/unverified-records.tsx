import { resourceDate, resourceTitle } from "@medrec/protocol/patient";
import type { ProviderRecordsState } from "../../../lib/patient-records.ts";
import { formatDate, plainTitle, plural } from "../../../lib/record-words.ts";

const REASONS: Record<string, string> = {
  "root-mismatch": "The provider's copy does not match what it published on the network.",
  "root-changed": "The records changed while they were being read.",
  "missing-proof": "It came without the proof that it is unchanged.",
  "malformed-proof": "Its proof is damaged.",
  "invalid-proof": "Its content was changed after the provider published it.",
  "missing-resource": "Part of it is missing.",
};

/** Entries that failed verification: apart from the records, marked, never shown as trusted. */
export function UnverifiedRecords({ providers }: { providers: readonly ProviderRecordsState[] }) {
  const withFailures = providers.filter((p) => p.unverified.length > 0);
  if (withFailures.length === 0) return null;
  const count = withFailures.reduce((n, p) => n + p.unverified.length, 0);
  const lists = withFailures.map((p) => (
    <div key={p.relationship.id}>
      <h3>From {p.provider}</h3>
      <ul className="records unverified-list">
        {p.unverified.map((u, i) => (
          <li className="record record-unverified" key={`${u.resource.resourceType}/${u.resource.id ?? i}`}>
            <div className="record-date">{formatDate(resourceDate(u.resource))}</div>
            <div className="record-body">
              <div className="record-title">
                <span className="tag tag-bad">Not verified</span>{" "}
                <strong>{plainTitle(resourceTitle(u.resource))}</strong>
              </div>
              <div className="muted">{REASONS[u.reason] ?? "It failed the check."}</div>
            </div>
          </li>
        ))}
      </ul>
    </div>
  ));
  return (
    <section className="unverified" aria-labelledby="unverified-title">
      <h2 id="unverified-title">
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
          <path d="M12 2 1 21h22zm1 15h-2v-2h2zm0-4h-2V9h2z" fill="currentColor" />
        </svg>{" "}
        Not verified: {plural(count, "record")}
      </h2>
      <p>
        These did not pass the check against the network, so MedRec cannot tell whether they are genuine. They
        are not in your timeline, categories, export or summary. Do not rely on them: ask the provider for a
        corrected copy.
      </p>
      {count > 5 ? (
        <details>
          <summary>See the {plural(count, "record")}</summary>
          {lists}
        </details>
      ) : (
        lists
      )}
    </section>
  );
}
