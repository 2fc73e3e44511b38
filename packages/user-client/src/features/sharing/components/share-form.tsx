import type { ScopeCode } from "@medrec/protocol";
import {
  type GrantExpiry,
  type PatientContext,
  type PatientRelationship,
  relationshipLabel,
  SHAREABLE_CATEGORIES,
} from "@medrec/protocol/patient";
import { type FormEvent, useId, useState } from "react";
import type { Address } from "viem";
import { AddressInput } from "../../../components/address-input.tsx";
import { Button } from "../../../components/button.tsx";
import { ConfirmDialog } from "../../../components/confirm-dialog.tsx";
import { ContactNameField, Field } from "../../../components/field.tsx";
import { CATEGORY_LABELS, categoryList, formatDate, listInWords } from "../../../lib/categories.ts";
import { contactName, useContacts } from "../../../lib/contacts.ts";
import { type ShareChoice, shareAt, useBatch } from "../api/grants.ts";
import { ProgressList } from "./progress-list.tsx";

const EXPIRIES = [
  { id: "1", label: "1 day", days: 1 },
  { id: "7", label: "1 week", days: 7 },
  { id: "30", label: "30 days", days: 30 },
] as const;

function expiryOf(choice: string, date: string): GrantExpiry | undefined {
  const preset = EXPIRIES.find((e) => e.id === choice);
  if (preset) return { days: preset.days };
  if (!date) return undefined;
  const until = new Date(`${date}T23:59:59`);
  return until.getTime() > Date.now() ? { until } : undefined;
}

function endOf(expiry: GrantExpiry): Date {
  return "until" in expiry ? expiry.until : new Date(Date.now() + expiry.days * 86_400_000);
}

/** Choose a person, providers, categories and an end; one confirmation shares at every chosen provider. */
export function ShareForm({
  ctx,
  relationships,
}: {
  ctx: PatientContext;
  relationships: PatientRelationship[];
}) {
  const id = useId();
  const { contacts, save } = useContacts();
  const usable = relationships
    .filter((r) => r.provider && !r.ended)
    .sort((a, b) => relationshipLabel(a).localeCompare(relationshipLabel(b)));
  const [viewer, setViewer] = useState<Address>();
  const [name, setName] = useState("");
  const [from, setFrom] = useState("");
  const [chosen, setChosen] = useState<Set<string>>(() => new Set(usable.map((r) => r.id)));
  const [categories, setCategories] = useState<Set<ScopeCode>>(new Set());
  const [sensitive, setSensitive] = useState(false);
  const [expiryChoice, setExpiryChoice] = useState("7");
  const [date, setDate] = useState("");
  const [submitted, setSubmitted] = useState(false);
  const [open, setOpen] = useState(false);
  const [formKey, setFormKey] = useState(0);
  const batch = useBatch();

  const expiry = expiryOf(expiryChoice, date);
  const providers = usable.filter((r) => chosen.has(r.id));
  const known = viewer ? contactName(contacts, viewer) : undefined;
  const viewerName = known ?? (name.trim() || undefined);
  const problems = {
    viewer: viewer ? undefined : "Choose who to share with: a saved contact, or their MedRec ID.",
    providers: providers.length ? undefined : "Choose at least one provider.",
    categories: categories.size ? undefined : "Choose at least one kind of record.",
    expiry: expiry ? undefined : "Choose a date after today.",
  };
  const valid = Object.values(problems).every((p) => p === undefined);

  const toggle = <T,>(set: Set<T>, value: T, on: boolean) => {
    const next = new Set(set);
    if (on) next.add(value);
    else next.delete(value);
    return next;
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    if (valid) {
      batch.reset();
      setOpen(true);
    }
  };

  const choice = (): ShareChoice | undefined =>
    viewer && expiry
      ? {
          viewer,
          categories: [...categories],
          sensitive,
          expiry,
          ...(from.trim() ? { details: { from: from.trim() } } : {}),
        }
      : undefined;

  const confirm = async () => {
    const chosenShare = choice();
    if (!chosenShare) return;
    if (!known && name.trim()) await save.mutateAsync({ address: chosenShare.viewer, name: name.trim() });
    await batch.run(ctx, providers, shareAt(ctx, chosenShare));
  };

  const retry = async () => {
    const chosenShare = choice();
    if (!chosenShare) return;
    const failed = batch.steps.filter((s) => s.state === "failed").map((s) => s.relationship);
    await batch.run(ctx, failed, shareAt(ctx, chosenShare));
  };

  const finished = batch.steps.length > 0 && !batch.running;
  const failures = batch.steps.filter((s) => s.state === "failed").length;
  const who = viewerName ?? "this person";

  const close = () => {
    setOpen(false);
    // Shared everywhere: start again from an empty form.
    if (finished && !failures) {
      setViewer(undefined);
      setName("");
      setCategories(new Set());
      setSensitive(false);
      setSubmitted(false);
      setFormKey((k) => k + 1);
      batch.reset();
    }
  };

  if (usable.length === 0)
    return (
      <p>You can share once a provider has linked your records. Show your MedRec ID at your next visit.</p>
    );

  return (
    <form className="stack" onSubmit={submit} noValidate aria-describedby={`${id}-lead`}>
      <p id={`${id}-lead`} className="muted">
        Four choices, then one confirmation. Nothing is shared until you confirm.
      </p>
      <AddressInput
        key={formKey}
        label="1. Who"
        hint="They find their MedRec ID under Account in their own MedRec app."
        contacts={contacts}
        value={viewer}
        onChange={setViewer}
      />
      {submitted && problems.viewer ? <p className="field-error">{problems.viewer}</p> : null}
      {viewer && !known ? (
        <ContactNameField
          optional
          hint="Saved only on this device, encrypted, so that your lists show a name instead of an ID."
          value={name}
          onChange={setName}
        />
      ) : null}

      <fieldset aria-describedby={submitted && problems.providers ? `${id}-providers-error` : undefined}>
        <legend>2. From which providers</legend>
        <div className="choice-grid">
          {usable.map((r) => (
            <label key={r.id} className="checkbox">
              <input
                type="checkbox"
                checked={chosen.has(r.id)}
                onChange={(event) => setChosen(toggle(chosen, r.id, event.target.checked))}
              />
              {relationshipLabel(r)}
            </label>
          ))}
        </div>
        {submitted && problems.providers ? (
          <p className="field-error" id={`${id}-providers-error`}>
            {problems.providers}
          </p>
        ) : null}
      </fieldset>

      <fieldset aria-describedby={submitted && problems.categories ? `${id}-categories-error` : undefined}>
        <legend>3. Which kinds of records</legend>
        <div className="choice-grid">
          {SHAREABLE_CATEGORIES.map((code) => (
            <label key={code} className="checkbox">
              <input
                type="checkbox"
                checked={categories.has(code)}
                onChange={(event) => setCategories(toggle(categories, code, event.target.checked))}
              />
              <span>
                {CATEGORY_LABELS[code].name}
                <span className="choice-hint">{CATEGORY_LABELS[code].example}</span>
              </span>
            </label>
          ))}
        </div>
        {submitted && problems.categories ? (
          <p className="field-error" id={`${id}-categories-error`}>
            {problems.categories}
          </p>
        ) : null}
        <div className="sensitive-choice">
          <label className="checkbox">
            <input
              type="checkbox"
              checked={sensitive}
              onChange={(event) => setSensitive(event.target.checked)}
            />
            Also share sensitive records
          </label>
          <p className="field-hint">
            Records your providers marked as sensitive — such as mental health or substance use — stay hidden
            unless you tick this, even within the kinds chosen above. Only tick it if you are sure.
          </p>
        </div>
      </fieldset>

      <fieldset>
        <legend>4. Until when</legend>
        <div className="choice-grid">
          {EXPIRIES.map((e) => (
            <label key={e.id} className="checkbox">
              <input
                type="radio"
                name={`${id}-expiry`}
                checked={expiryChoice === e.id}
                onChange={() => setExpiryChoice(e.id)}
              />
              {e.label}
            </label>
          ))}
          <label className="checkbox">
            <input
              type="radio"
              name={`${id}-expiry`}
              checked={expiryChoice === "date"}
              onChange={() => setExpiryChoice("date")}
            />
            Until a date
          </label>
        </div>
        {expiryChoice === "date" ? (
          <Field
            label="Last day of sharing"
            type="date"
            value={date}
            min={new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}
            onChange={(event) => setDate(event.target.value)}
            error={submitted ? problems.expiry : undefined}
          />
        ) : null}
      </fieldset>

      <Field
        label="Your name, as they will see it (optional)"
        hint="Sent encrypted to them only, so they know who shared."
        value={from}
        onChange={(event) => setFrom(event.target.value)}
        maxLength={80}
      />

      {submitted && !valid ? (
        <p className="field-error" role="alert">
          Not ready yet: {Object.values(problems).filter(Boolean).join(" ")}
        </p>
      ) : null}
      <div className="actions">
        <Button type="submit">Review and share</Button>
      </div>

      {open ? (
        <ConfirmDialog
          phase={batch.running ? "working" : finished ? "done" : "ask"}
          title={finished ? (failures ? "Not shared everywhere" : "Shared") : `Share with ${who}?`}
          description={
            <>
              {who} {finished && !failures ? "can now read" : "will be able to read"} your{" "}
              <strong>{categoryList([...categories])}</strong>
              {sensitive ? ", including sensitive records," : ""} from{" "}
              <strong>{listInWords(providers.map(relationshipLabel))}</strong> until{" "}
              <strong>{expiry ? formatDate(endOf(expiry)) : "—"}</strong>. You can stop sharing at any time.
            </>
          }
          confirmLabel="Share"
          workingLabel="Sharing…"
          onConfirm={confirm}
          onRetry={failures ? retry : undefined}
          onClose={close}
        >
          {batch.steps.length > 0 ? (
            <ProgressList steps={batch.steps} working="sharing…" done="shared" />
          ) : null}
          {finished && failures ? (
            <p role="alert">
              {failures === 1 ? "One provider" : `${failures} providers`} did not save the change; the others
              did.
            </p>
          ) : null}
        </ConfirmDialog>
      ) : null}
    </form>
  );
}
