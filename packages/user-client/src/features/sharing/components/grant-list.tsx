import {
  type ActiveGrant,
  formatTimeLeft,
  type PatientContext,
  type PatientRelationship,
  shortAddress,
} from "@medrec/protocol/patient";
import { useState } from "react";
import type { Address } from "viem";
import { Button } from "../../../components/button.tsx";
import { ConfirmDialog } from "../../../components/confirm-dialog.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { ContactNameField } from "../../../components/field.tsx";
import { categoryList, formatDate, listInWords } from "../../../lib/categories.ts";
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
  const where = listInWords(target.relationships.map((r) => r.provider?.name ?? ""));
  return (
    <ConfirmDialog
      phase={batch.running ? "working" : finished ? "done" : "ask"}
      title={
        finished
          ? failed.length
            ? "Not stopped everywhere"
            : `Stopped sharing with ${target.who}`
          : `Stop sharing with ${target.who}?`
      }
      description={
        <>
          {target.who} will no longer be able to read your records from <strong>{where}</strong>, within a few
          seconds. This cannot be undone, but you can share again at any time.
        </>
      }
      confirmLabel="Stop sharing"
      workingLabel="Stopping…"
      cancelLabel="Keep sharing"
      danger
      onConfirm={() => batch.run(ctx, target.relationships, revokeAt(ctx, target.viewer))}
      onRetry={failed.length ? () => batch.run(ctx, failed, revokeAt(ctx, target.viewer)) : undefined}
      onClose={onClose}
    >
      {batch.steps.length > 0 ? (
        <ProgressList steps={batch.steps} working="stopping…" done="stopped" />
      ) : null}
    </ConfirmDialog>
  );
}

/** Gives a name to a person known only by their ID (saved encrypted on this device). */
function NameThem({ viewer }: { viewer: Address }) {
  const { save } = useContacts();
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  if (!open)
    return (
      <Button variant="link" onClick={() => setOpen(true)}>
        Give them a name
      </Button>
    );
  return (
    <form
      className="name-them"
      onSubmit={(event) => {
        event.preventDefault();
        if (name.trim())
          save.mutate({ address: viewer, name: name.trim() }, { onSuccess: () => setOpen(false) });
      }}
    >
      <ContactNameField value={name} onChange={setName} />
      <div className="actions">
        <Button type="submit" variant="secondary" busy={save.isPending}>
          Save name
        </Button>
        <Button variant="link" onClick={() => setOpen(false)}>
          Cancel
        </Button>
      </div>
    </form>
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
          const named = contactName(contacts, viewer);
          const who = named ?? `Someone with ID ${shortAddress(viewer)}`;
          return (
            <li key={viewer} className="grant-card">
              <div className="grant-head">
                <div>
                  <h3>{who}</h3>
                  {named ? null : <NameThem viewer={viewer} />}
                </div>
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
