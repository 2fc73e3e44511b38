import type { ProviderRecordsState } from "../../../lib/patient-records.ts";
import { plural } from "../../../lib/record-words.ts";

/** What a provider's status means, in a sentence, with what to do next. */
function describe(p: ProviderRecordsState): { label: string; detail: string; tone: string } {
  switch (p.status) {
    case "loading":
      return {
        label: "Checking…",
        detail:
          p.total > 0
            ? `${p.loaded.toLocaleString()} of ${plural(p.total, "record")} checked so far.`
            : "Signing in and reading your records.",
        tone: "loading",
      };
    case "verified":
      return {
        label: "Verified",
        detail: `${plural(p.loaded, "record")}, each matching what ${p.provider} published on the network.`,
        tone: "ok",
      };
    case "failed-verification":
      return {
        label: "Some records failed the check",
        detail:
          p.unverified.length > 0
            ? `${plural(p.unverified.length, "record")} did not match what ${p.provider} published on the network. They are listed apart below and are not in your records. Contact ${p.provider} about them.`
            : `Not all of ${p.provider}'s records could be checked against the network, so only the ${plural(p.loaded, "record")} that could are shown. Try again; if it keeps happening, contact ${p.provider}.`,
        tone: "bad",
      };
    case "unreachable":
      return {
        label: "Could not be reached",
        detail: `${p.provider} did not answer. Your other providers' records are shown. Try again in a moment.`,
        tone: "warn",
      };
    case "not-verifiable":
      return {
        label: "Not verifiable",
        detail: `${p.provider}'s network node gave an answer that does not match the network; these records are not shown as verified. Your other providers' records are checked without it. Try again later; if it keeps happening, tell ${p.provider}.`,
        tone: "bad",
      };
    case "refused":
      return {
        label: "Refused",
        detail: `${p.provider} did not let this wallet read your records. If you think it should, contact ${p.provider}.`,
        tone: "bad",
      };
    default:
      return {
        label: "Not identified",
        detail: "This provider's details could not be read with your key, so its records are not shown.",
        tone: "warn",
      };
  }
}

export function ProviderStatusList({
  providers,
  onRetry,
}: {
  providers: readonly ProviderRecordsState[];
  onRetry: (p: ProviderRecordsState) => void;
}) {
  return (
    <ul className="provider-status" aria-label="Your providers">
      {providers.map((p) => {
        const { label, detail, tone } = describe(p);
        return (
          <li key={p.relationship.id} className={`provider-status-item tone-${tone}`}>
            <div className="provider-status-head">
              <h3>{p.provider}</h3>
              <span className={`status-pill tone-${tone}`}>
                <StatusIcon tone={tone} />
                {label}
              </span>
            </div>
            <p>{detail}</p>
            {p.status === "unreachable" ||
            p.status === "refused" ||
            p.status === "failed-verification" ||
            p.status === "not-verifiable" ? (
              <button type="button" className="btn btn-secondary" onClick={() => onRetry(p)}>
                Try again<span className="visually-hidden"> with {p.provider}</span>
              </button>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}

function StatusIcon({ tone }: { tone: string }) {
  if (tone === "loading") return <span className="spinner" aria-hidden="true" />;
  const d =
    tone === "ok"
      ? "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z"
      : tone === "bad"
        ? "M12 2 1 21h22zm1 15h-2v-2h2zm0-4h-2V9h2z"
        : "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-2h2zm0-4h-2V7h2z";
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
      <path d={d} fill="currentColor" />
    </svg>
  );
}
