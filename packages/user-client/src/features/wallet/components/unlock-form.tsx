import { Link } from "react-router";
import { Page } from "../../../components/page.tsx";
import { usePrefetchPatient } from "../../../lib/patient.tsx";
import { unlock, useWallet } from "../../../lib/wallet.ts";
import { CurrentPasswordForm } from "./current-password-form.tsx";

export function UnlockForm() {
  const wallet = useWallet();
  const reason = wallet.status === "locked" ? wallet.reason : undefined;
  const prefetch = usePrefetchPatient();
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
      <CurrentPasswordForm
        submitLabel="Unlock"
        busyLabel="Unlocking…"
        onPassword={(password) => {
          // The chain reads that need no key run while the password is stretched.
          if (wallet.status === "locked") prefetch(wallet.address);
          return unlock(password);
        }}
        showErrors
        clearOnError
      />
      <p className="muted">
        Forgot your password? <Link to="/restore">Restore your wallet with your 12 words</Link> and choose a
        new one.
      </p>
    </Page>
  );
}
