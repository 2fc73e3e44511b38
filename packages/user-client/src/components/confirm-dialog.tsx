import * as Dialog from "@radix-ui/react-dialog";
import type { ReactNode } from "react";
import { Button } from "./button.tsx";

/**
 * A confirmation before a change on the network, that stays open while it is saved and then says
 * how it went: `ask` (cancel or confirm), `working` (cannot be closed), `done` (Done, and "Try
 * again" when `onRetry` is given because something failed). Radix traps focus and restores it.
 */
export function ConfirmDialog({
  title,
  description,
  children,
  phase,
  confirmLabel,
  workingLabel,
  cancelLabel = "Cancel",
  danger = false,
  onConfirm,
  onRetry,
  onClose,
}: {
  title: ReactNode;
  description: ReactNode;
  children?: ReactNode;
  phase: "ask" | "working" | "done";
  confirmLabel: string;
  workingLabel: string;
  cancelLabel?: string;
  danger?: boolean;
  onConfirm: () => void;
  onRetry?: (() => void) | undefined;
  onClose: () => void;
}) {
  return (
    <Dialog.Root
      open
      onOpenChange={(open) => {
        if (!open && phase !== "working") onClose();
      }}
    >
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog">
          <Dialog.Title>{title}</Dialog.Title>
          <Dialog.Description>{description}</Dialog.Description>
          {children}
          <div className="actions">
            {phase === "done" ? (
              <>
                {onRetry ? <Button onClick={onRetry}>Try again where it failed</Button> : null}
                <Dialog.Close asChild>
                  <Button variant={onRetry ? "secondary" : "primary"}>Done</Button>
                </Dialog.Close>
              </>
            ) : (
              <>
                <Dialog.Close asChild>
                  <Button variant="secondary" disabled={phase === "working"}>
                    {cancelLabel}
                  </Button>
                </Dialog.Close>
                <Button
                  variant={danger ? "danger" : "primary"}
                  busy={phase === "working"}
                  onClick={onConfirm}
                >
                  {phase === "working" ? workingLabel : confirmLabel}
                </Button>
              </>
            )}
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}
