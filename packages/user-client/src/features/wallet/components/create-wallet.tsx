import { generatePatientMnemonic } from "@medrec/protocol";
import { useState } from "react";
import { useNavigate } from "react-router";
import { ErrorView } from "../../../components/error-view.tsx";
import { Page } from "../../../components/page.tsx";
import { saveAndUnlock } from "../../../lib/wallet.ts";
import { BackupCheck } from "./backup-check.tsx";
import { PasswordForm } from "./password-form.tsx";
import { RegisterStep } from "./register-step.tsx";
import { ShowWords } from "./show-words.tsx";

type Step = "words" | "check" | "password" | "register";

const TITLES: Record<Step, string> = {
  words: "Your 12 recovery words",
  check: "Check your backup",
  password: "Choose a password",
  register: "Joining the network",
};

/** Create a wallet: words (shown once) → backup check (or later) → password → on chain. */
export function CreateWallet() {
  const navigate = useNavigate();
  // The words live in this component's memory only, until they are encrypted.
  const [mnemonic] = useState(generatePatientMnemonic);
  const [step, setStep] = useState<Step>("words");
  const [backedUp, setBackedUp] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>();
  const stepNumber = ["words", "check", "password", "register"].indexOf(step) + 1;
  const save = async (password: string) => {
    setSaving(true);
    setError(undefined);
    try {
      await saveAndUnlock({ mnemonic, password, backedUp });
      setStep("register");
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };
  return (
    <Page title={TITLES[step]} lead={`Step ${stepNumber} of 4`} narrow>
      {step === "words" ? <ShowWords mnemonic={mnemonic} onDone={() => setStep("check")} /> : null}
      {step === "check" ? (
        <BackupCheck
          mnemonic={mnemonic}
          onPassed={() => {
            setBackedUp(true);
            setStep("password");
          }}
          onLater={() => setStep("password")}
        />
      ) : null}
      {step === "password" ? (
        <>
          {error ? <ErrorView error={error} /> : null}
          <PasswordForm onSubmit={save} busy={saving} />
        </>
      ) : null}
      {step === "register" ? <RegisterStep onDone={() => navigate("/account", { replace: true })} /> : null}
    </Page>
  );
}
