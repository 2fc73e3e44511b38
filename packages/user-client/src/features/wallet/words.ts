import { wordlist } from "@scure/bip39/wordlists/english";

const WORDS = new Set(wordlist);

export function isBip39Word(word: string): boolean {
  return WORDS.has(word.trim().toLowerCase());
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

/** Up to `limit` words of the BIP-39 list close to `typed`: same beginning first, then by edit distance. */
export function suggestWords(typed: string, limit = 3): string[] {
  const word = typed.trim().toLowerCase();
  if (!word) return [];
  const prefixed = wordlist.filter((w) => w.startsWith(word));
  if (prefixed.length > 0 && prefixed.length <= limit) return prefixed;
  return wordlist
    .map((w) => ({ w, d: distance(word, w) - (w.startsWith(word.slice(0, 2)) ? 0.5 : 0) }))
    .filter((x) => x.d <= 2.5)
    .sort((a, b) => a.d - b.d)
    .slice(0, limit)
    .map((x) => x.w);
}

/** `count` distinct positions (0–11) chosen at random, in order: the words the backup check asks for. */
export function pickCheckPositions(count = 3, total = 12): number[] {
  const chosen = new Set<number>();
  const random = new Uint32Array(1);
  while (chosen.size < count) {
    crypto.getRandomValues(random);
    chosen.add((random[0] ?? 0) % total);
  }
  return [...chosen].sort((a, b) => a - b);
}

export const ordinal = (n: number) => {
  const names = ["1st", "2nd", "3rd"];
  return names[n - 1] ?? `${n}th`;
};
