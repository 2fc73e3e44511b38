import { filterTimeline, searchTimeline, type TimelineFilter } from "@medrec/protocol/patient";
import { useDeferredValue, useId, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { ErrorView } from "../../../components/error-view.tsx";
import { Page } from "../../../components/page.tsx";
import { usePatient, usePatientRelationships, useStrangerRelationships } from "../../../lib/patient.tsx";
import { reloadProvider, usePatientRecords } from "../../../lib/patient-records.ts";
import { plural, RECORD_CATEGORIES } from "../../../lib/record-words.ts";
import { LabsView } from "./labs-view.tsx";
import { ProviderStatusList } from "./provider-status.tsx";
import { RecordList } from "./record-list.tsx";
import { StrangerLinks } from "./stranger-links.tsx";
import { UnverifiedRecords } from "./unverified-records.tsx";
import "./records.css";

/** The views: everything by date, then one per category. */
const VIEWS = [
  { code: "all", label: "Timeline" },
  ...RECORD_CATEGORIES.filter((c) =>
    [
      "conditions",
      "medications",
      "allergies",
      "immunizations",
      "labs",
      "vitals",
      "procedures",
      "documents",
    ].includes(c.code),
  ),
] as const;

const TIMELINE_CATEGORIES = RECORD_CATEGORIES.map((c) => c.code).filter((c) => c !== "demographics");

export function RecordsScreen() {
  const patient = usePatient();
  const relationships = usePatientRelationships(patient.data);
  const strangers = useStrangerRelationships(patient.data);
  const records = usePatientRecords(patient.data, relationships.data);
  const [params, setParams] = useSearchParams();
  const view = VIEWS.find((v) => v.code === params.get("view")) ?? VIEWS[0];
  // Not in the address bar: a URL lands in the browser's history and session files, and a search
  // names health matters (adr/0017).
  const [query, setQuery] = useState("");
  const provider = params.get("provider") ?? "";
  const outOfRange = params.get("out") === "1";
  const deferredQuery = useDeferredValue(query);
  const searchId = useId();
  const providerId = useId();

  const shown = useMemo(() => {
    const filter: TimelineFilter = {
      // The timeline is what happened; personal details (name, address) are not an event.
      categories: view.code === "all" ? TIMELINE_CATEGORIES : [view.code],
      ...(provider ? { providers: [provider] } : {}),
      ...(outOfRange ? { outOfRange: true } : {}),
    };
    return searchTimeline(filterTimeline(records.items, filter), deferredQuery);
  }, [records.items, view.code, provider, outOfRange, deferredQuery]);

  // Built on the address bar, not on this render's params: a view chosen a moment ago may still be
  // rendering (navigations are transitions), and typing then must not put the old view back.
  const setParam = (name: string, value: string | undefined) =>
    setParams(
      () => {
        const next = new URLSearchParams(window.location.search);
        if (value) next.set(name, value);
        else next.delete(name);
        return next;
      },
      { replace: true },
    );

  const error = patient.error ?? relationships.error;
  const noProviders = relationships.data?.length === 0;
  const starting = !error && (patient.isPending || relationships.isPending || records.phase === "idle");
  const loading = records.phase === "loading";
  const empty = records.items.length === 0;
  const filtered = Boolean(query || provider || outOfRange);
  const noun = view.code === "labs" ? "result" : "record";

  return (
    <Page
      title="Records"
      lead="Your health records from every provider that linked you, checked against the MedRec network."
    >
      {error ? (
        <ErrorView
          error={error}
          onRetry={() => (patient.error ? patient.refetch() : relationships.refetch())}
        />
      ) : null}
      {noProviders ? (
        <div className="card stack">
          <h2 className="card-title">No records yet</h2>
          <p>No provider has linked your records to this wallet yet.</p>
          <p>
            At your next visit, show your MedRec ID at the front desk.{" "}
            <Link to="/account">Show my MedRec ID</Link>
          </p>
        </div>
      ) : null}
      {starting ? (
        <p className="loading" role="status">
          <span className="spinner" aria-hidden="true" /> Finding your providers on the network…
        </p>
      ) : null}
      {records.providers.length > 0 ? (
        <section aria-labelledby="providers-title" className="records-section">
          <h2 id="providers-title" className="section-title">
            Providers
          </h2>
          <p className="muted">
            {records.providers.length === 1
              ? "One provider has"
              : `${records.providers.length} providers have`}{" "}
            linked your records to your wallet.
          </p>
          <ProviderStatusList
            providers={records.providers}
            onRetry={(p) => patient.data && void reloadProvider(patient.data, p.relationship)}
          />
        </section>
      ) : null}

      <StrangerLinks links={strangers.data ?? []} providers={patient.data?.ctx.network.providers ?? []} />
      <UnverifiedRecords providers={records.providers} />
      {records.providers.length > 0 ? (
        <section aria-labelledby="records-title" className="records-section">
          <h2 id="records-title" className="section-title">
            {view.code === "all" ? "All records, newest first" : view.label}
          </h2>
          <nav aria-label="Record categories" className="views">
            <ul>
              {VIEWS.map((v) => {
                const next = new URLSearchParams(params);
                if (v.code === "all") next.delete("view");
                else next.set("view", v.code);
                if (v.code !== "labs") next.delete("out");
                return (
                  <li key={v.code}>
                    <Link
                      to={{ search: next.toString() ? `?${next}` : "" }}
                      replace
                      className="view-link"
                      aria-current={v.code === view.code ? "page" : undefined}
                    >
                      {v.label}
                    </Link>
                  </li>
                );
              })}
            </ul>
          </nav>
          <search className="filters">
            <div className="field">
              <label htmlFor={searchId}>Search</label>
              <input
                id={searchId}
                type="search"
                value={query}
                placeholder="e.g. cholesterol, Lakeside, insulin"
                autoComplete="off"
                onChange={(e) => setQuery(e.target.value)}
              />
            </div>
            <div className="field">
              <label htmlFor={providerId}>Provider</label>
              <select id={providerId} value={provider} onChange={(e) => setParam("provider", e.target.value)}>
                <option value="">All providers</option>
                {records.providers.map((p) => (
                  <option key={p.relationship.id} value={p.provider}>
                    {p.provider}
                  </option>
                ))}
              </select>
            </div>
            {view.code === "labs" || view.code === "vitals" || view.code === "all" ? (
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={outOfRange}
                  onChange={(e) => setParam("out", e.target.checked ? "1" : undefined)}
                />
                Only results out of range
              </label>
            ) : null}
          </search>
          <p className="result-count" role="status" aria-live="polite">
            {loading ? (
              <>
                <span className="spinner" aria-hidden="true" /> {plural(shown.length, noun)} so far — more are
                being checked.
              </>
            ) : filtered ? (
              `${plural(shown.length, noun)} match.`
            ) : (
              `${plural(shown.length, noun)}.`
            )}
          </p>
          {view.code === "labs" ? (
            <LabsView items={shown} empty={emptyText(filtered, loading, empty, "lab results")} />
          ) : (
            <RecordList
              key={`${view.code}|${deferredQuery}|${provider}|${outOfRange}`}
              items={shown}
              label={view.code === "all" ? "Timeline" : view.label}
              showCategory={view.code === "all"}
              empty={emptyText(
                filtered,
                loading,
                empty,
                view.code === "all" ? "records" : view.label.toLowerCase(),
              )}
            />
          )}
          {filtered ? (
            <button
              type="button"
              className="btn btn-link"
              onClick={() => setParams(view.code === "all" ? {} : { view: view.code }, { replace: true })}
            >
              Clear search and filters
            </button>
          ) : null}
        </section>
      ) : null}
    </Page>
  );
}

function emptyText(filtered: boolean, loading: boolean, none: boolean, what: string): string {
  if (filtered) return `No ${what} match your search. Try other words or clear the filters.`;
  if (loading) return `No ${what} yet — your providers are still being read.`;
  if (none) return "Your providers hold no records for you yet, or none could be read.";
  return `Your providers hold no ${what} for you.`;
}
