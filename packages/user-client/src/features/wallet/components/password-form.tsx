import { type FormEvent, useState } from "react";
import { Button } from "../../../components/button.tsx";
import { Field } from "../../../components/field.tsx";
import { passwordStrength } from "../../../lib/vault.ts";

/** Chooses the password that encrypts the words in this browser, with a strength hint. */
export function PasswordForm({
  onSubmit,
  busy,
  submitLabel = "Save and continue",
}: {
  onSubmit: (password: string) => void;
  busy?: boolean;
  submitLabel?: string;
}) {
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [tried, setTried] = useState(false);
  const strength = passwordStrength(password);
  const mismatch = repeat.length > 0 && repeat !== password;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setTried(true);
    if (strength.acceptable && password === repeat) onSubmit(password);
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <p>
        This password unlocks MedRec on this device only. It cannot recover your wallet — your 12 words can.
      </p>
      <Field
        label="New password"
        type="password"
        name="new-password"
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        hint={
          <span className={`strength strength-${strength.score}`}>
            <span className="strength-bar" aria-hidden="true">
              <span />
            </span>
            <span>
              {strength.label}. {strength.hint}
            </span>
          </span>
        }
        error={tried && !strength.acceptable ? "Choose a longer or less common password." : undefined}
      />
      <Field
        label="Type it again"
        type="password"
        name="repeat-password"
        autoComplete="new-password"
        value={repeat}
        onChange={(e) => setRepeat(e.target.value)}
        error={(tried || mismatch) && repeat !== password ? "The two passwords are not the same." : undefined}
      />
      <Button type="submit" busy={busy ?? false}>
        {submitLabel}
      </Button>
    </form>
  );
}
