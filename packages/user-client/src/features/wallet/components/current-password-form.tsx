import { type FormEvent, useState } from "react";
import { Button } from "../../../components/button.tsx";
import { Field } from "../../../components/field.tsx";
import { WrongPasswordError } from "../../../lib/vault.ts";

/**
 * Asks for the wallet's current password and hands it to `onPassword`. A wrong password shows its
 * message under the field; other errors show theirs when `showErrors`, else a generic one. The
 * field empties after success, and after a failure when `clearOnError`.
 */
export function CurrentPasswordForm({
  onPassword,
  submitLabel,
  busyLabel = submitLabel,
  showErrors = false,
  clearOnError = false,
}: {
  onPassword: (password: string) => Promise<void>;
  submitLabel: string;
  busyLabel?: string;
  showErrors?: boolean;
  clearOnError?: boolean;
}) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await onPassword(password);
      setPassword("");
    } catch (e) {
      if (clearOnError) setPassword("");
      setError(
        e instanceof WrongPasswordError || (showErrors && e instanceof Error)
          ? e.message
          : "The wallet could not be opened. Try again.",
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <Field
        label="Password"
        type="password"
        name="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        error={error}
      />
      <Button type="submit" busy={busy} disabled={password.length === 0}>
        {busy ? busyLabel : submitLabel}
      </Button>
    </form>
  );
}
