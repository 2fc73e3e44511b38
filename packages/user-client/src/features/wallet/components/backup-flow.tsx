import { useState } from "react";
import { useNavigate } from "react-router";
import { Page } from "../../../components/page.tsx";
import { openVault } from "../../../lib/vault.ts";
import { loadWallet } from "../../../lib/vault-store.ts";
import { markBackedUp, useUnlockedWallet } from "../../../lib/wallet.ts";
import { BackupCheck } from "./backup-check.tsx";
import { CurrentPasswordForm } from "./current-password-form.tsx";
import { ShowWords } from "./show-words.tsx";

/** "Back up now": the password again, then the words, then the 3-word check. */
export function BackupFlow() {
  const wallet = useUnlockedWallet();
  const navigate = useNavigate();
  const [step, setStep] = useState<"password" | "words" | "check">("password");
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
      <CurrentPasswordForm
        submitLabel="Show my words"
        onPassword={async (password) => {
          const stored = await loadWallet();
          if (!stored) throw new Error("There is no wallet in this browser.");
          await openVault(stored.vault, password);
          setStep("words");
        }}
      />
    </Page>
  );
}
