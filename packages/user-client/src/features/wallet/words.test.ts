import { describe, expect, test } from "vitest";
import { isBip39Word, pickCheckPositions, suggestWords } from "./words.ts";

describe("recovery words", () => {
  test("a misspelt word gets suggestions from the BIP-39 list", () => {
    expect(isBip39Word("abandon")).toBe(true);
    expect(isBip39Word("abandn")).toBe(false);
    expect(suggestWords("abandn")).toContain("abandon");
    expect(suggestWords("zzzzzzzz")).toEqual([]);
  });
  test("the backup check asks for 3 distinct positions in order", () => {
    const positions = pickCheckPositions();
    expect(positions).toHaveLength(3);
    expect(new Set(positions).size).toBe(3);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    for (const p of positions) expect(p >= 0 && p < 12).toBe(true);
  });
});
