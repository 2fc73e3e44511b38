import { relationshipLabel } from "@medrec/protocol/patient";
import type { Step } from "../api/grants.ts";

/** What to do when one provider's change failed, in words. */
export function adviceFor(code: string, provider: string): string {
  switch (code) {
    case "unreachable":
      return `${provider} could not be reached, so nothing changed there. Try again: another provider's relay will be used.`;
    case "relay-refused":
      return `The change at ${provider} was not accepted for relaying (too many changes at once). Wait a minute, then try again.`;
    case "transaction-reverted":
      return `The network refused the change at ${provider}; nothing changed there. Reload the page to see the current state.`;
    default:
      return `Nothing changed at ${provider}. Try again; if it keeps failing, contact ${provider}.`;
  }
}

/** One line per provider: waiting, in progress, done, or failed with what to do next. Announced politely. */
export function ProgressList({ steps, done, working }: { steps: Step[]; done: string; working: string }) {
  return (
    <ol className="progress-list" aria-live="polite">
      {steps.map((step) => {
        const provider = relationshipLabel(step.relationship);
        return (
          <li key={step.relationship.id} className={`progress-${step.state}`}>
            <span className="progress-icon" aria-hidden="true">
              {step.state === "done"
                ? "✓"
                : step.state === "failed"
                  ? "!"
                  : step.state === "working"
                    ? "…"
                    : "○"}
            </span>
            <span>
              <strong>{provider}</strong>:{" "}
              {!("result" in step)
                ? step.state === "working"
                  ? working
                  : "waiting"
                : step.result.ok
                  ? done
                  : adviceFor(step.result.code, provider)}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
