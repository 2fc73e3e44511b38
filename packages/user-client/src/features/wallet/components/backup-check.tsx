import { type FormEvent, useMemo, useState } from "react";
import { Button } from "../../../components/button.tsx";
import { Field } from "../../../components/field.tsx";
import { ordinal, pickCheckPositions } from "../words.ts";

/** Asks for 3 of the 12 words chosen at random (as MetaMask does). "Later" is allowed. */
export function BackupCheck({
  mnemonic,
  onPassed,
  onLater,
}: {
  mnemonic: string;
  onPassed: () => void;
  onLater?: () => void;
}) {
  const words = mnemonic.split(" ");
  const positions = useMemo(() => pickCheckPositions(3, words.length), [words.length]);
  const [answers, setAnswers] = useState<Record<number, string>>({});
  const [wrong, setWrong] = useState<number[]>([]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const mistakes = positions.filter((p) => (answers[p] ?? "").trim().toLowerCase() !== words[p]);
    setWrong(mistakes);
    if (mistakes.length === 0) onPassed();
  };
  return (
    <form className="stack" onSubmit={submit} noValidate>
      <p>Type the words from your paper to show you wrote them down correctly.</p>
      {positions.map((p) => (
        <Field
          key={p}
          label={`${ordinal(p + 1)} word`}
          name={`word-${p + 1}`}
          autoComplete="off"
          autoCapitalize="none"
          spellCheck={false}
          value={answers[p] ?? ""}
          onChange={(e) => setAnswers({ ...answers, [p]: e.target.value })}
          error={
            !wrong.includes(p)
              ? undefined
              : (answers[p] ?? "").trim() === ""
                ? `Type your ${ordinal(p + 1)} word.`
                : `This is not your ${ordinal(p + 1)} word. Check your paper.`
          }
        />
      ))}
      <div className="actions">
        <Button type="submit">Check my words</Button>
        {onLater ? (
          <Button variant="link" onClick={onLater}>
            Remind me later
          </Button>
        ) : null}
      </div>
    </form>
  );
}
