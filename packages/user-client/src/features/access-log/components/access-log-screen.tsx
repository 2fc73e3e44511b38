import { type AccessLogEntry, AGGREGATE_ACTION, type ProviderAccessLog } from "@medrec/protocol/patient";
import { useId, useState } from "react";
import { Button } from "../../../components/button.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { Card, Page } from "../../../components/page.tsx";
import { categoryList } from "../../../lib/categories.ts";
import { useContacts } from "../../../lib/contacts.ts";
import { usePatient, usePatientRelationships } from "../../../lib/patient.tsx";
import { useAccessLog, useOlderAccessLog } from "../api/access-log.ts";
import "../access-log.css";

const STATUS: Record<ProviderAccessLog["status"], string> = {
  verified: "every entry checked against the network",
  "failed-verification":
    "some entries do not match what this provider published on the network — see the warnings below",
  unreachable: "could not be reached; its entries are missing. Try again in a few minutes.",
  refused:
    "refused to show its log. Lock and unlock MedRec to sign in again; if it persists, contact the provider.",
  unavailable: "could not be identified from the network, so its log cannot be read.",
};

function when(at: string): string {
  return new Date(at).toLocaleString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** An hour's refusals by accounts that never had access, logged as one entry (adr/0014). */
function aggregateSentence(entry: AccessLogEntry) {
  const count = entry.count ?? 0;
  const actors = entry.actors ?? 0;
  return (
    <>
      <strong>{plural(actors, "account", "accounts")} that never had access</strong> tried to read your
      records {plural(count, "time", "times")} in the hour before — all refused
    </>
  );
}

function Entry({ entry }: { entry: AccessLogEntry }) {
  const what = entry.categories.length ? `${entry.what}: ${categoryList(entry.categories)}` : entry.what;
  const denied = entry.decision === "denied";
  return (
    <li className={`log-entry${entry.proof === "failed" ? " log-entry-broken" : ""}`}>
      <div className="log-main">
        {entry.action === AGGREGATE_ACTION ? (
          <p className="log-sentence">{aggregateSentence(entry)}</p>
        ) : (
          <p className="log-sentence">
            <strong>{entry.who}</strong> {denied ? `tried to ${entry.what}` : what}
            {denied && entry.categories.length ? `: ${categoryList(entry.categories)}` : ""}
            {entry.count !== undefined ? ` (${plural(entry.count, "item", "items")})` : ""}
          </p>
        )}
        <p className="muted log-meta">
          <time dateTime={entry.at}>{when(entry.at)}</time> · {entry.provider}
        </p>
        {entry.proof === "failed" ? (
          <div className="log-problem" role="note">
            <strong>This entry's proof is broken.</strong> The provider's log does not match what it published
            on the network: {entry.problems.join("; ")}. Ask {entry.provider} to explain.
          </div>
        ) : null}
      </div>
      <div className="log-badges">
        <span className={`badge ${denied ? "badge-denied" : "badge-allowed"}`}>
          {denied ? "Refused" : "Allowed"}
        </span>
        <span className={`badge badge-proof-${entry.proof}`}>
          {entry.proof === "verified"
            ? "✓ Verified"
            : entry.proof === "pending"
              ? "Check pending"
              : "⚠ Proof broken"}
        </span>
      </div>
    </li>
  );
}

export function AccessLogScreen() {
  const id = useId();
  const patient = usePatient();
  const relationships = usePatientRelationships(patient.data);
  const { contacts, loading } = useContacts();
  const log = useAccessLog(patient.data, relationships.data, loading ? [] : contacts);
  const older = useOlderAccessLog(patient.data, loading ? [] : contacts);
  const hasOlder = log.data?.providers.some((p) => p.older) ?? false;
  const [provider, setProvider] = useState("");
  const [decision, setDecision] = useState("");
  const [ownViews, setOwnViews] = useState(false);
  const error = patient.error ?? relationships.error ?? log.error ?? older.error;
  const entries = (log.data?.entries ?? []).filter(
    (e) =>
      (!provider || e.provider === provider) &&
      (!decision || e.decision === decision) &&
      (ownViews || !(e.action === "audit.read" && e.who === "You")),
  );
  const pending = log.data?.entries.filter((e) => e.proof === "pending").length ?? 0;
  const broken = log.data?.entries.filter((e) => e.proof === "failed").length ?? 0;
  return (
    <Page
      title="Access log"
      lead="Every time anyone opened or changed your records, and whether it was allowed."
    >
      {error ? <ErrorView error={error} onRetry={() => log.refetch()} /> : null}
      {!log.data ? (
        error ? null : (
          <p role="status">Reading the logs of your providers and checking them against the network…</p>
        )
      ) : (
        <>
          <Card title="Your providers' logs">
            <ul className="plain-list">
              {log.data.providers.map((p) => (
                <li key={p.relationship}>
                  <strong>{p.provider}</strong>: {STATUS[p.status]}
                  {p.problems.length ? ` (${p.problems.map((x) => x.message).join("; ")})` : ""}
                </li>
              ))}
            </ul>
            <p className="muted">
              Each provider publishes a fingerprint of its whole log on the MedRec network at least once a
              minute. Every entry below was checked against those fingerprints: an entry that was edited or
              removed would show as broken.
              {pending
                ? ` ${pending === 1 ? "One entry is" : `${pending} entries are`} newer than the last fingerprint and will be checked within a minute.`
                : ""}
            </p>
            {broken ? (
              <p role="alert" className="log-problem">
                {broken === 1 ? "One entry does" : `${broken} entries do`} not match what the provider
                published.
              </p>
            ) : null}
            <div className="actions">
              <Button variant="secondary" busy={log.isFetching} onClick={() => log.refetch()}>
                Check again
              </Button>
            </div>
          </Card>
          <Card title="Entries">
            <div className="log-filters">
              <div className="field">
                <label htmlFor={`${id}-provider`}>Provider</label>
                <select id={`${id}-provider`} value={provider} onChange={(e) => setProvider(e.target.value)}>
                  <option value="">All providers</option>
                  {log.data.providers.map((p) => (
                    <option key={p.relationship} value={p.provider}>
                      {p.provider}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <label htmlFor={`${id}-decision`}>Decision</label>
                <select id={`${id}-decision`} value={decision} onChange={(e) => setDecision(e.target.value)}>
                  <option value="">Allowed and refused</option>
                  <option value="allowed">Allowed only</option>
                  <option value="denied">Refused only</option>
                </select>
              </div>
              <label className="checkbox log-own">
                <input type="checkbox" checked={ownViews} onChange={(e) => setOwnViews(e.target.checked)} />
                Show when you opened this log
              </label>
            </div>
            <p role="status" className="muted">
              {entries.length === log.data.entries.length
                ? `${entries.length} ${entries.length === 1 ? "entry" : "entries"}${hasOlder ? " shown" : ""}, newest first.`
                : `${entries.length} of ${log.data.entries.length} entries${hasOlder ? " shown" : ""}, newest first.`}
            </p>
            {entries.length ? (
              <ol className="log-list">
                {entries.map((entry) => (
                  <Entry key={`${entry.relationship}:${entry.entry.hash}`} entry={entry} />
                ))}
              </ol>
            ) : (
              <p>No entries match these filters.</p>
            )}
            {hasOlder ? (
              <div className="actions">
                <Button
                  variant="secondary"
                  busy={older.isPending}
                  onClick={() => log.data && older.mutate(log.data)}
                >
                  Show older entries
                </Button>
              </div>
            ) : null}
          </Card>
        </>
      )}
    </Page>
  );
}
