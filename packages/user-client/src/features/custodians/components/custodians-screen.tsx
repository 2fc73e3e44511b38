import { formatTimeLeft, type PatientContext, type RecoveryState } from "@medrec/protocol/patient";
import { type FormEvent, useId, useState } from "react";
import type { Address } from "viem";
import { AddressInput } from "../../../components/address-input.tsx";
import { Banner } from "../../../components/banner.tsx";
import { Button } from "../../../components/button.tsx";
import { ConfirmDialog } from "../../../components/confirm-dialog.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { ContactNameField } from "../../../components/field.tsx";
import { Card, Page } from "../../../components/page.tsx";
import { formatDate } from "../../../lib/categories.ts";
import { contactName, useContacts } from "../../../lib/contacts.ts";
import { usePatient } from "../../../lib/patient.tsx";
import { type RecoveryAction, useRecoveryAction, useRecoveryState } from "../api/recovery.ts";
import { pendingTitle, useName } from "./names.ts";
import "../custodians.css";

function Pending({
  ctx,
  state,
  onCancelled,
}: {
  ctx: PatientContext;
  state: RecoveryState;
  onCancelled: (newOwner: Address) => void;
}) {
  const action = useRecoveryAction(ctx);
  const name = useName();
  const pending = state.pending;
  if (!pending) return null;
  const ready = pending.secondsLeft <= 0;
  return (
    <Banner
      tone="alert"
      title={pendingTitle(pending, name)}
      action={
        <Button
          variant="danger"
          busy={action.isPending}
          onClick={() =>
            action.mutate({ kind: "cancel" }, { onSuccess: () => onCancelled(pending.newOwner) })
          }
        >
          Cancel this recovery
        </Button>
      }
    >
      {ready
        ? "The waiting period is over: anyone can now complete it. If you did not ask for this, cancel it right now."
        : `MedRec waits ${formatTimeLeft(state.delaySeconds)} before such a move, so that you can stop it: it can be completed from ${formatDate(pending.readyAt, true)} (in ${formatTimeLeft(pending.secondsLeft)}). If you did not lose your words, cancel it: this wallet stays yours.`}
      {action.isError ? <ErrorView error={action.error} /> : null}
    </Banner>
  );
}

/** After the patient cancelled: what that means, until they leave the page. */
function Cancelled({ newOwner, onClose }: { newOwner: Address; onClose: () => void }) {
  const name = useName();
  return (
    <Banner
      tone="success"
      title="Recovery cancelled."
      action={
        <Button variant="secondary" onClick={onClose}>
          OK
        </Button>
      }
    >
      {`Your records stay with this wallet; they will not move to ${name(newOwner)}. The approvals your custodians gave no longer count: a new recovery needs them to approve again.`}
    </Banner>
  );
}

function CustodianList({ ctx, state }: { ctx: PatientContext; state: RecoveryState }) {
  const action = useRecoveryAction(ctx);
  const name = useName();
  const [removing, setRemoving] = useState<Address>();
  if (state.custodians.length === 0)
    return (
      <p role="status">
        You have no custodians. If you lose your 12 words, nobody can help you get your records back.
      </p>
    );
  const remaining = state.custodians.length - 1;
  return (
    <>
      <ul className="custodian-list">
        {state.custodians.map((c) => (
          <li key={c}>
            <strong>{name(c)}</strong>
            <Button
              variant="secondary"
              aria-label={`Remove ${name(c)} as custodian`}
              onClick={() => setRemoving(c)}
            >
              Remove
            </Button>
          </li>
        ))}
      </ul>
      {removing ? (
        <ConfirmDialog
          phase={action.isPending ? "working" : action.isSuccess ? "done" : "ask"}
          title={
            action.isSuccess ? `${name(removing)} is no longer a custodian` : `Remove ${name(removing)}?`
          }
          description={
            <>
              They will no longer be able to read or share your records, nor help you recover your wallet.
              {state.threshold > remaining
                ? remaining === 0
                  ? " Recovery will then be off."
                  : ` Recovery will then need ${remaining} of ${remaining}.`
                : ""}{" "}
              You can add them again later.
            </>
          }
          confirmLabel="Remove"
          workingLabel="Removing…"
          cancelLabel="Keep them"
          danger
          onConfirm={() =>
            action.mutate({ kind: "remove", custodian: removing, threshold: state.threshold, remaining })
          }
          onClose={() => {
            setRemoving(undefined);
            action.reset();
          }}
        >
          {action.isError ? <ErrorView error={action.error} /> : null}
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function AddCustodian({ ctx, state }: { ctx: PatientContext; state: RecoveryState }) {
  const { contacts, save } = useContacts();
  const action = useRecoveryAction(ctx);
  const [address, setAddress] = useState<Address>();
  const [name, setName] = useState("");
  const [submitted, setSubmitted] = useState(false);
  const [formKey, setFormKey] = useState(0);
  const known = address ? contactName(contacts, address) : undefined;
  const problem = !address
    ? "Choose who: a saved contact, or their MedRec ID."
    : address.toLowerCase() === state.owner.toLowerCase()
      ? "That is your own ID. Choose someone else."
      : state.custodians.some((c) => c.toLowerCase() === address.toLowerCase())
        ? "They are already a custodian."
        : undefined;
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (problem || !address) return;
    if (!known && name.trim()) await save.mutateAsync({ address, name: name.trim() });
    action.mutate(
      { kind: "add", custodian: address },
      {
        // Added: an empty form for the next one (the confirmation stays).
        onSuccess: () => {
          setSubmitted(false);
          setAddress(undefined);
          setName("");
          setFormKey((k) => k + 1);
        },
      },
    );
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <AddressInput key={formKey} label="Who" contacts={contacts} value={address} onChange={setAddress} />
      {address && !known ? <ContactNameField optional value={name} onChange={setName} /> : null}
      {submitted && problem ? <p className="field-error">{problem}</p> : null}
      {action.isError ? <ErrorView error={action.error} /> : null}
      {action.isSuccess ? (
        <p role="status" className="success-text">
          Added. They are now listed above.
        </p>
      ) : null}
      <div className="actions">
        <Button type="submit" busy={action.isPending}>
          Add custodian
        </Button>
      </div>
    </form>
  );
}

function Threshold({ ctx, state }: { ctx: PatientContext; state: RecoveryState }) {
  const id = useId();
  const action = useRecoveryAction(ctx);
  const [value, setValue] = useState(String(state.threshold));
  const n = state.custodians.length;
  if (n === 0)
    return (
      <p>
        Add at least one custodian to turn recovery on. When enough of them agree on a new wallet for you,
        MedRec waits <strong>{formatTimeLeft(state.delaySeconds)}</strong> before the move can be completed,
        and you can cancel it during that time.
      </p>
    );
  return (
    <div className="stack">
      <p>
        {state.threshold === 0
          ? "Recovery is off: your custodians cannot move your records to a new wallet."
          : `Recovery is on: ${state.threshold} of your ${n} custodian${n === 1 ? "" : "s"} must agree on the same new wallet.`}{" "}
        Then MedRec waits <strong>{formatTimeLeft(state.delaySeconds)}</strong> before the move can be
        completed. During that time this page warns you and you can cancel it; your wallet keeps working.
      </p>
      <div className="actions threshold-row">
        <div className="field">
          <label htmlFor={id}>Custodians who must agree</label>
          <select id={id} value={value} onChange={(event) => setValue(event.target.value)}>
            <option value="0">Nobody — recovery off</option>
            {Array.from({ length: n }, (_, i) => i + 1).map((k) => (
              <option key={k} value={k}>
                {k} of {n}
              </option>
            ))}
          </select>
        </div>
        <Button
          variant="secondary"
          busy={action.isPending}
          disabled={Number(value) === state.threshold}
          onClick={() =>
            action.mutate({ kind: "threshold", threshold: Number(value) } satisfies RecoveryAction)
          }
        >
          Save
        </Button>
      </div>
      {action.isError ? <ErrorView error={action.error} /> : null}
    </div>
  );
}

function HelpRecover({ ctx }: { ctx: PatientContext }) {
  const { contacts } = useContacts();
  const action = useRecoveryAction(ctx);
  const [agent, setAgent] = useState<Address>();
  const [newOwner, setNewOwner] = useState<Address>();
  return (
    <div className="stack">
      <p>
        If someone made you their custodian and lost their 12 words, they create a new wallet and give you its
        MedRec ID. Approve it here; when enough custodians have approved, and after the waiting period, the
        move can be completed.
      </p>
      <AddressInput
        label="The person who lost their words"
        contacts={contacts}
        value={agent}
        onChange={setAgent}
      />
      <AddressInput label="Their new wallet" contacts={contacts} value={newOwner} onChange={setNewOwner} />
      {action.isError ? <ErrorView error={action.error} /> : null}
      {action.isSuccess ? (
        <p role="status" className="success-text">
          Done. Your approval is on the network.
        </p>
      ) : null}
      <div className="actions">
        <Button
          variant="secondary"
          disabled={!agent || !newOwner}
          busy={action.isPending}
          onClick={() => agent && newOwner && action.mutate({ kind: "approve", agent, newOwner })}
        >
          Approve the new wallet
        </Button>
        <Button
          variant="secondary"
          disabled={!agent}
          busy={action.isPending}
          onClick={() => agent && action.mutate({ kind: "execute", agent })}
        >
          Complete the move (after the wait)
        </Button>
      </div>
    </div>
  );
}

export function CustodiansScreen() {
  const patient = usePatient();
  const ctx = patient.data?.ctx;
  const state = useRecoveryState(ctx);
  const [cancelled, setCancelled] = useState<Address>();
  const error = patient.error ?? state.error;
  return (
    <Page
      title="Custodians"
      lead="People you trust — a parent, a guardian — who can look after your records and help you if you lose your 12 words."
    >
      {error ? <ErrorView error={error} onRetry={() => state.refetch()} /> : null}
      {!ctx || !state.data ? (
        error ? null : (
          <p role="status">Reading your custodians from the network…</p>
        )
      ) : (
        <>
          {cancelled && !state.data.pending ? (
            <Cancelled newOwner={cancelled} onClose={() => setCancelled(undefined)} />
          ) : null}
          <Pending ctx={ctx} state={state.data} onCancelled={setCancelled} />
          <Card title="Your custodians">
            <p className="callout">
              A custodian can do what you can with your records: read them, share them and stop sharing.
              Choose only people you would trust with your health.
            </p>
            <CustodianList ctx={ctx} state={state.data} />
          </Card>
          <Card title="Add a custodian">
            <AddCustodian ctx={ctx} state={state.data} />
          </Card>
          <Card title="Recovery if you lose your words">
            <Threshold key={state.data.threshold} ctx={ctx} state={state.data} />
          </Card>
          <Card title="Help someone else recover">
            <details className="disclosure">
              <summary>I am someone's custodian and they lost their words</summary>
              <HelpRecover ctx={ctx} />
            </details>
          </Card>
        </>
      )}
    </Page>
  );
}
