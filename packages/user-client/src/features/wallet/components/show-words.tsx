import { useState } from "react";
import { Button } from "../../../components/button.tsx";

/** The 12 words, numbered, with the advice a person needs to keep them. */
export function ShowWords({ mnemonic, onDone }: { mnemonic: string; onDone: () => void }) {
  const [confirmed, setConfirmed] = useState(false);
  const words = mnemonic.split(" ");
  return (
    <div className="stack">
      <div className="callout">
        <p>
          <strong>Write these 12 words on paper, in order, and keep them somewhere safe.</strong> They are the
          only way to get your records back if you lose this device. Anyone who has them can read your records
          — MedRec staff will never ask for them.
        </p>
      </div>
      <ol className="words" aria-label="Your 12 recovery words">
        {words.map((word, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: a word may repeat; its position is its identity
          <li key={i}>
            <span className="word-number" aria-hidden="true">
              {i + 1}
            </span>
            <span className="word">{word}</span>
          </li>
        ))}
      </ol>
      <p className="muted">
        Do not take a screenshot or copy them into a note app: anything that syncs or backs up this device
        could leak them.
      </p>
      <label className="checkbox">
        <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />I wrote
        down all 12 words in order
      </label>
      <Button disabled={!confirmed} onClick={onDone}>
        Continue
      </Button>
    </div>
  );
}
