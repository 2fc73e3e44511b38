import { exportFhirBundle, type TimelineFilter } from "@medrec/protocol/patient";
import { useId, useMemo, useState } from "react";
import { Link } from "react-router";
import { ErrorView } from "../../../components/error-view.tsx";
import { Page } from "../../../components/page.tsx";
import { plural, RECORD_CATEGORIES, type RecordCategory } from "../../../lib/record-words.ts";
import { useVerifiedRecords } from "../use-records.ts";
import "./export.css";

/** Saves `text` as a file in the browser's downloads. */
function download(name: string, text: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function ExportScreen() {
  const { records, error, noProviders } = useVerifiedRecords();
  const [choice, setChoice] = useState<"all" | "some">("all");
  const [categories, setCategories] = useState<Set<RecordCategory>>(new Set());
  const [providers, setProviders] = useState<Set<string>>(new Set());
  const [saved, setSaved] = useState<string | undefined>();
  const groupName = useId();

  const present = useMemo(
    () => RECORD_CATEGORIES.filter((c) => records.items.some((i) => i.categories.includes(c.code))),
    [records.items],
  );
  const bundle = useMemo(() => {
    const filter: TimelineFilter | undefined =
      choice === "all"
        ? undefined
        : {
            ...(categories.size ? { categories: [...categories] } : {}),
            ...(providers.size ? { providers: [...providers] } : {}),
          };
    return exportFhirBundle(records.items, filter ? { filter } : {});
  }, [records.items, choice, categories, providers]);
  const loading = records.phase !== "done";
  const left = records.providers.filter((p) => p.status !== "verified" && p.status !== "loading");

  const toggle = <T,>(set: Set<T>, value: T, update: (s: Set<T>) => void) => {
    const next = new Set(set);
    setSaved(undefined);
    if (next.has(value)) next.delete(value);
    else next.add(value);
    update(next);
  };

  const save = () => {
    const date = new Date().toISOString().slice(0, 10);
    const name = `medrec-records-${date}.json`;
    download(name, JSON.stringify(bundle, null, 2), "application/fhir+json");
    setSaved(`Saved ${plural(bundle.entry?.length ?? 0, "record")} as ${name} in your downloads.`);
  };

  return (
    <Page
      title="Take your records elsewhere"
      lead="Download your verified records as a file another app or doctor can read, or print a one-page summary."
    >
      {error ? <ErrorView error={error} /> : null}
      {noProviders ? (
        <p className="empty">No provider has linked your records yet, so there is nothing to download.</p>
      ) : null}

      <div className="card stack">
        <h2 className="card-title">Printable summary</h2>
        <p>
          Your current medications, allergies, conditions, immunizations and recent lab results on one page.
        </p>
        <div>
          <Link className="btn btn-secondary" to="/export/summary">
            Open the printable summary
          </Link>
        </div>
      </div>

      <form
        className="card stack"
        onSubmit={(e) => {
          e.preventDefault();
          save();
        }}
      >
        <h2 className="card-title">Download as a FHIR file</h2>
        <p>
          FHIR is the standard format health apps and providers use. The file holds each record as your
          provider sent it, and which provider it came from. Only records that passed the check are included.
        </p>
        <fieldset className="choice">
          <legend>What to include</legend>
          <label className="checkbox">
            <input
              type="radio"
              name={groupName}
              checked={choice === "all"}
              onChange={() => {
                setChoice("all");
                setSaved(undefined);
              }}
            />
            Everything
          </label>
          <label className="checkbox">
            <input
              type="radio"
              name={groupName}
              checked={choice === "some"}
              onChange={() => {
                setChoice("some");
                setSaved(undefined);
              }}
            />
            Only some categories or providers
          </label>
        </fieldset>
        {choice === "some" ? (
          <div className="export-choices">
            <fieldset className="choice">
              <legend>Categories (none ticked: all)</legend>
              {present.map((c) => (
                <label className="checkbox" key={c.code}>
                  <input
                    type="checkbox"
                    checked={categories.has(c.code)}
                    onChange={() => toggle(categories, c.code, setCategories)}
                  />
                  {c.label}
                </label>
              ))}
            </fieldset>
            <fieldset className="choice">
              <legend>Providers (none ticked: all)</legend>
              {records.providers.map((p) => (
                <label className="checkbox" key={p.relationship.id}>
                  <input
                    type="checkbox"
                    checked={providers.has(p.provider)}
                    onChange={() => toggle(providers, p.provider, setProviders)}
                  />
                  {p.provider}
                </label>
              ))}
            </fieldset>
          </div>
        ) : null}
        <p role="status" aria-live="polite">
          {loading
            ? "Still reading your records… the button is ready when every provider has answered."
            : `The file will hold ${plural(bundle.entry?.length ?? 0, "record")}.`}
        </p>
        {!loading && left.length > 0 ? (
          <p className="muted">
            Not included: {left.map((p) => p.provider).join(", ")} (not verified or not reachable — see{" "}
            <Link to="/records">Records</Link>).
          </p>
        ) : null}
        <div>
          <button
            type="submit"
            className="btn btn-primary"
            disabled={loading || (bundle.entry?.length ?? 0) === 0}
          >
            Download FHIR file
          </button>
        </div>
        {saved ? (
          <p className="success-text" role="status">
            {saved}
          </p>
        ) : null}
      </form>
    </Page>
  );
}
