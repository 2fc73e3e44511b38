import * as Dialog from "@radix-ui/react-dialog";
import { useState } from "react";
import { Button } from "../../../components/button.tsx";
import { forgetWallet } from "../../../lib/wallet.ts";

/** Removes the wallet from this browser, after saying plainly what that means. */
export function ForgetDialog({ backedUp }: { backedUp: boolean }) {
  const [busy, setBusy] = useState(false);
  return (
    <Dialog.Root>
      <Dialog.Trigger asChild>
        <Button variant="danger">Remove wallet from this browser</Button>
      </Dialog.Trigger>
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog">
          <Dialog.Title>Remove the wallet from this browser?</Dialog.Title>
          <Dialog.Description>
            {backedUp
              ? "You can restore it on any device with your 12 recovery words. Your records and sharing stay as they are."
              : "You have not backed up your 12 words. Without them you will lose access to your records for good. Back up first."}
          </Dialog.Description>
          <div className="actions">
            <Dialog.Close asChild>
              <Button variant="secondary">Keep it</Button>
            </Dialog.Close>
            <Button
              variant="danger"
              busy={busy}
              onClick={async () => {
                setBusy(true);
                await forgetWallet();
              }}
            >
              Remove
            </Button>
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
