import { type FormEvent, useState } from "react";
import { useNavigate } from "react-router";
import { Button } from "../../../components/button.tsx";
import { Field } from "../../../components/field.tsx";
import { Page } from "../../../components/page.tsx";
import { openVault, WrongPasswordError } from "../../../lib/vault.ts";
import { loadWallet } from "../../../lib/vault-store.ts";
import { markBackedUp, useUnlockedWallet } from "../../../lib/wallet.ts";
import { BackupCheck } from "./backup-check.tsx";
import { ShowWords } from "./show-words.tsx";

/** "Back up now": the password again, then the words, then the 3-word check. */
export function BackupFlow() {
  const wallet = useUnlockedWallet();
  const navigate = useNavigate();
  const [step, setStep] = useState<"password" | "words" | "check">("password");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const confirm = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const stored = await loadWallet();
      if (!stored) throw new Error("There is no wallet in this browser.");
      await openVault(stored.vault, password);
      setPassword("");
      setStep("words");
    } catch (e) {
      setError(e instanceof WrongPasswordError ? e.message : "The wallet could not be opened. Try again.");
    } finally {
      setBusy(false);
    }
  };
  if (step === "words")
    return (
      <Page title="Your 12 recovery words" narrow>
        <ShowWords mnemonic={wallet.mnemonic} onDone={() => setStep("check")} />
      </Page>
    );
  if (step === "check")
    return (
      <Page title="Check your backup" narrow>
        <BackupCheck
          mnemonic={wallet.mnemonic}
          onPassed={async () => {
            await markBackedUp();
            navigate("/account", { replace: true });
          }}
        />
      </Page>
    );
  return (
    <Page title="Back up your recovery words" lead="Enter your password to see your 12 words." narrow>
      <form className="stack" onSubmit={confirm} noValidate>
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
          Show my words
        </Button>
      </form>
    </Page>
  );
}
