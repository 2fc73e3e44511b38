import { type InputHTMLAttributes, type ReactNode, useId } from "react";

/**
 * A labelled input with an optional hint and error, wired for screen readers. `autoComplete` is
 * `off` unless given (passwords say `current-password` / `new-password`): Chromium then keeps the
 * typed value out of its autofill database and its saved session (adr/0017).
 */
export function Field({
  label,
  hint,
  error,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: ReactNode; hint?: ReactNode; error?: ReactNode }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        autoComplete="off"
        aria-describedby={[hintId, errorId].filter(Boolean).join(" ") || undefined}
        aria-invalid={error ? true : undefined}
        {...input}
      />
      {hint ? (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p className="field-error" id={errorId} role="alert">
          {error}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The name a patient gives a person known by ID (a viewer, a custodian): kept only in this
 * browser's encrypted contacts. `optional` when the surrounding form works without it.
 */
export function ContactNameField({
  value,
  onChange,
  optional = false,
  hint = "Saved only on this device, encrypted.",
}: {
  value: string;
  onChange: (name: string) => void;
  optional?: boolean;
  hint?: ReactNode;
}) {
  return (
    <Field
      label={optional ? "Their name (optional)" : "Their name"}
      hint={hint}
      value={value}
      onChange={(event) => onChange(event.target.value)}
      maxLength={80}
    />
  );
}
