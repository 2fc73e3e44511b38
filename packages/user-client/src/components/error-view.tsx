import { explainError } from "../lib/problem.ts";

/** An error in sentences (never a stack trace or hex), with what to do next. */
export function ErrorView({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { title, detail } = explainError(error);
  return (
    <div className="error-view" role="alert">
      <h2>{title}</h2>
      <p>{detail}</p>
      {onRetry ? (
        <button type="button" className="btn btn-primary" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}
