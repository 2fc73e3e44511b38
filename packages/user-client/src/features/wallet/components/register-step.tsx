import { useEffect, useRef } from "react";
import { Button } from "../../../components/button.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { useRegisterAgent } from "../../../lib/agent.ts";
import { useUnlockedWallet } from "../../../lib/wallet.ts";

/**
 * Puts the patient on the network: registers the wallet's entry in the `Agent` contract through a
 * provider's relay (no ether needed), or finds it already there after a restore.
 */
export function RegisterStep({
  onDone,
}: {
  onDone: (outcome: "registered" | "already" | "handed-over") => void;
}) {
  const wallet = useUnlockedWallet();
  const register = useRegisterAgent();
  const started = useRef(false);
  const { mutate } = register;
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    mutate({ account: wallet.account, mnemonic: wallet.mnemonic });
  }, [mutate, wallet.account, wallet.mnemonic]);
  if (register.isError)
    return (
      <ErrorView
        error={register.error}
        onRetry={() => mutate({ account: wallet.account, mnemonic: wallet.mnemonic })}
      />
    );
  if (register.isSuccess)
    return (
      <div className="stack" role="status">
        <p className="success-text">
          {register.data === "already"
            ? "Welcome back. Your wallet is already on the MedRec network."
            : register.data === "handed-over"
              ? "These words no longer open your records: they were moved to another wallet. The next page explains."
              : "Your wallet is now on the MedRec network. Providers can link your records to it."}
        </p>
        <Button onClick={() => onDone(register.data)}>Continue</Button>
      </div>
    );
  return (
    <div className="stack" role="status" aria-live="polite">
      <p>
        <span className="spinner" aria-hidden="true" /> Adding your wallet to the MedRec network. This takes a
        few seconds and costs you nothing.
      </p>
    </div>
  );
}
