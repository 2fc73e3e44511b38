import {
  type ActiveGrant,
  formatTimeLeft,
  type PatientContext,
  type PatientRelationship,
  shortAddress,
} from "@medrec/protocol/patient";
import * as Dialog from "@radix-ui/react-dialog";
import { useState } from "react";
import type { Address } from "viem";
import { Button } from "../../../components/button.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { categoryList, formatDate } from "../../../lib/categories.ts";
import { contactName, useContacts } from "../../../lib/contacts.ts";
import { revokeAt, useActiveGrants, useBatch } from "../api/grants.ts";
import { ProgressList } from "./progress-list.tsx";

type Target = { viewer: Address; who: string; relationships: PatientRelationship[] };

/** Stops sharing at the given providers after one confirmation that says exactly what stops. */
function RevokeDialog({
  ctx,
  target,
  onClose,
}: {
  ctx: PatientContext;
  target: Target;
  onClose: () => void;
}) {
  const batch = useBatch();
  const finished = batch.steps.length > 0 && !batch.running;
  const failed = batch.steps.filter((s) => s.state === "failed").map((s) => s.relationship);
  const where = target.relationships.map((r) => r.provider?.name ?? "").join(", ");
  return (
    <Dialog.Root
      open
      onOpenChange={(open) => {
        if (!open && !batch.running) onClose();
      }}
    >
      <Dialog.Portal>
        <Dialog.Overlay className="dialog-overlay" />
        <Dialog.Content className="dialog">
          <Dialog.Title>
            {finished
              ? failed.length
                ? "Not stopped everywhere"
                : `Stopped sharing with ${target.who}`
              : `Stop sharing with ${target.who}?`}
          </Dialog.Title>
          <Dialog.Description>
            {target.who} will no longer be able to read your records from <strong>{where}</strong>, within a
            few seconds. This cannot be undone, but you can share again at any time.
          </Dialog.Description>
          {batch.steps.length > 0 ? (
            <ProgressList steps={batch.steps} working="stopping…" done="stopped" />
          ) : null}
          <div className="actions">
            {!finished ? (
              <>
                <Dialog.Close asChild>
                  <Button variant="secondary" disabled={batch.running}>
                    Keep sharing
                  </Button>
                </Dialog.Close>
                <Button
                  variant="danger"
                  busy={batch.running}
                  onClick={() => batch.run(ctx, target.relationships, revokeAt(ctx, target.viewer))}
                >
                  {batch.running ? "Stopping…" : "Stop sharing"}
                </Button>
              </>
            ) : (
              <>
                {failed.length ? (
                  <Button onClick={() => batch.run(ctx, failed, revokeAt(ctx, target.viewer))}>
                    Try again where it failed
                  </Button>
                ) : null}
                <Dialog.Close asChild>
                  <Button variant={failed.length ? "secondary" : "primary"}>Done</Button>
                </Dialog.Close>
              </>
            )}
          </div>
        </Dialog.Content>
      </Dialog.Portal>
    </Dialog.Root>
  );
}

/** Who can read what, from which provider, for how long; stop per provider or everywhere. */
export function GrantList({
  ctx,
  relationships,
}: {
  ctx: PatientContext;
  relationships: PatientRelationship[];
}) {
  const grants = useActiveGrants(ctx, relationships);
  const { contacts } = useContacts();
  const [target, setTarget] = useState<Target>();
  if (grants.isPending) return <p role="status">Reading your sharing from the network…</p>;
  if (grants.isError) return <ErrorView error={grants.error} onRetry={() => grants.refetch()} />;
  if (grants.data.length === 0) return <p role="status">You are not sharing your records with anyone.</p>;
  const byViewer = new Map<Address, ActiveGrant[]>();
  for (const g of grants.data) byViewer.set(g.viewer, [...(byViewer.get(g.viewer) ?? []), g]);
  const relationshipOf = (g: ActiveGrant) => relationships.filter((r) => r.id === g.relationship);
  return (
    <>
      <ul className="grant-list">
        {[...byViewer.entries()].map(([viewer, list]) => {
          const who = contactName(contacts, viewer) ?? `Someone with ID ${shortAddress(viewer)}`;
          return (
            <li key={viewer} className="grant-card">
              <div className="grant-head">
                <h3>{who}</h3>
                {list.length > 1 ? (
                  <Button
                    variant="danger"
                    onClick={() => setTarget({ viewer, who, relationships: list.flatMap(relationshipOf) })}
                  >
                    Stop sharing everywhere
                  </Button>
                ) : null}
              </div>
              <ul className="grant-rows">
                {list.map((g) => (
                  <li key={g.relationship} className="grant-row">
                    <div>
                      <strong>{g.provider}</strong>: {categoryList(g.categories)}
                      {g.sensitive ? ", including sensitive records" : ""}
                      <br />
                      <span className="muted">
                        {formatTimeLeft(g.secondsLeft)} left — until{" "}
                        {formatDate(g.expiresAt, g.secondsLeft < 172_800)}
                      </span>
                    </div>
                    <Button
                      variant="secondary"
                      aria-label={`Stop sharing with ${who} at ${g.provider}`}
                      onClick={() => setTarget({ viewer, who, relationships: relationshipOf(g) })}
                    >
                      Stop
                    </Button>
                  </li>
                ))}
              </ul>
            </li>
          );
        })}
      </ul>
      {target ? <RevokeDialog ctx={ctx} target={target} onClose={() => setTarget(undefined)} /> : null}
    </>
  );
}
