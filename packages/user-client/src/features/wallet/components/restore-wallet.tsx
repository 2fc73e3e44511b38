import { normalizeMnemonic } from "@medrec/protocol";
import { type ClipboardEvent, type FormEvent, useId, useState } from "react";
import { useNavigate } from "react-router";
import { Button } from "../../../components/button.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { Page } from "../../../components/page.tsx";
import { saveAndUnlock } from "../../../lib/wallet.ts";
import { isBip39Word, ordinal, suggestWords } from "../words.ts";
import { PasswordForm } from "./password-form.tsx";
import { RegisterStep } from "./register-step.tsx";

const EMPTY = Array.from({ length: 12 }, () => "");

function WordInput({
  index,
  value,
  onChange,
  onPaste,
  error,
  suggestions,
  onPick,
}: {
  index: number;
  value: string;
  onChange: (value: string) => void;
  onPaste: (event: ClipboardEvent<HTMLInputElement>) => void;
  error: string | undefined;
  suggestions: string[];
  onPick: (word: string) => void;
}) {
  const id = useId();
  return (
    <li className="word-input">
      <span className="word-number" aria-hidden="true">
        {index + 1}
      </span>
      <label htmlFor={id} className="visually-hidden">
        {ordinal(index + 1)} word
      </label>
      <input
        id={id}
        name={`word-${index + 1}`}
        value={value}
        autoComplete="off"
        autoCapitalize="none"
        spellCheck={false}
        list="bip39-suggestions"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
        onPaste={onPaste}
      />
      {error ? (
        <span className="field-error word-error" id={`${id}-error`}>
          {error}
          {suggestions.map((word) => (
            <button key={word} type="button" className="suggestion" onClick={() => onPick(word)}>
              <span className="visually-hidden">Use </span>
              {word}
            </button>
          ))}
        </span>
      ) : null}
    </li>
  );
}

/** Restore from the 12 words: each word checked against the BIP-39 list, with suggestions. */
export function RestoreWallet() {
  const navigate = useNavigate();
  const [words, setWords] = useState<string[]>(EMPTY);
  const [checked, setChecked] = useState(false);
  const [phraseError, setPhraseError] = useState<string>();
  const [mnemonic, setMnemonic] = useState<string>();
  const [step, setStep] = useState<"words" | "password" | "register">("words");
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>();

  const wordError = (word: string) => {
    if (!checked && word.trim() === "") return undefined;
    if (word.trim() === "") return "Missing word.";
    if (isBip39Word(word)) return undefined;
    return suggestWords(word).length > 0
      ? "Not a recovery word. Did you mean:"
      : "Not a recovery word. Check the spelling on your paper.";
  };
  const typedSuggestions = words.flatMap((w) => (w.trim().length >= 2 ? suggestWords(w, 6) : []));

  const paste = (index: number) => (event: ClipboardEvent<HTMLInputElement>) => {
    const parts = event.clipboardData.getData("text").trim().toLowerCase().split(/\s+/);
    if (parts.length <= 1) return;
    event.preventDefault();
    const next = [...words];
    parts.slice(0, 12 - index).forEach((part, i) => {
      next[index + i] = part;
    });
    setWords(next);
  };

  const submitWords = (event: FormEvent) => {
    event.preventDefault();
    setChecked(true);
    setPhraseError(undefined);
    if (words.some((w) => wordError(w) !== undefined || w.trim() === "")) return;
    try {
      setMnemonic(normalizeMnemonic(words.join(" ")));
      setStep("password");
    } catch {
      setPhraseError(
        "Every word is a recovery word, but together they are not a valid set: one may be in the wrong place or misread. Compare each word with your paper, in order.",
      );
    }
  };

  const save = async (password: string) => {
    if (!mnemonic) return;
    setSaving(true);
    setError(undefined);
    try {
      await saveAndUnlock({ mnemonic, password, backedUp: true });
      setWords(EMPTY);
      setMnemonic(undefined);
      setStep("register");
    } catch (e) {
      setError(e);
    } finally {
      setSaving(false);
    }
  };

  if (step === "password")
    return (
      <Page title="Choose a password" lead="Your words are correct. Now protect them on this device." narrow>
        {error ? <ErrorView error={error} /> : null}
        <PasswordForm onSubmit={save} busy={saving} />
      </Page>
    );
  if (step === "register")
    return (
      <Page title="Finding your wallet" narrow>
        <RegisterStep onDone={() => navigate("/records", { replace: true })} />
      </Page>
    );
  return (
    <Page
      title="Restore your wallet"
      lead="Type your 12 recovery words in order. You can paste all of them into the first box."
      narrow
    >
      <form className="stack" onSubmit={submitWords} noValidate>
        <ol className="word-inputs" aria-label="Recovery words">
          {words.map((word, i) => (
            <WordInput
              // biome-ignore lint/suspicious/noArrayIndexKey: the position is the identity of each box
              key={i}
              index={i}
              value={word}
              error={wordError(word)}
              suggestions={wordError(word) && word.trim() ? suggestWords(word) : []}
              onPick={(picked) => {
                const next = [...words];
                next[i] = picked;
                setWords(next);
              }}
              onPaste={paste(i)}
              onChange={(value) => {
                const next = [...words];
                next[i] = value;
                setWords(next);
              }}
            />
          ))}
        </ol>
        <datalist id="bip39-suggestions">
          {[...new Set(typedSuggestions)].map((w) => (
            <option key={w} value={w} />
          ))}
        </datalist>
        {phraseError ? (
          <p className="field-error" role="alert">
            {phraseError}
          </p>
        ) : null}
        <Button type="submit">Continue</Button>
      </form>
    </Page>
  );
}
