import { type FormEvent, useState } from "react";
import { Link } from "react-router";
import { Button } from "../../../components/button.tsx";
import { Field } from "../../../components/field.tsx";
import { Page } from "../../../components/page.tsx";
import { WrongPasswordError } from "../../../lib/vault.ts";
import { unlock, useWallet } from "../../../lib/wallet.ts";

export function UnlockForm() {
  const wallet = useWallet();
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await unlock(password);
    } catch (e) {
      setPassword("");
      setError(
        e instanceof WrongPasswordError
          ? e.message
          : e instanceof Error
            ? e.message
            : "The wallet could not be opened. Try again.",
      );
    } finally {
      setBusy(false);
    }
  };
  const reason = wallet.status === "locked" ? wallet.reason : undefined;
  return (
    <Page
      title="Welcome back"
      lead={
        reason === "idle"
          ? "MedRec locked itself after 15 minutes without activity. Enter your password to continue."
          : "Enter your password to open your records."
      }
      narrow
    >
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
          {busy ? "Unlocking…" : "Unlock"}
        </Button>
      </form>
      <p className="muted">
        Forgot your password? <Link to="/restore">Restore your wallet with your 12 words</Link> and choose a
        new one.
      </p>
    </Page>
  );
}
