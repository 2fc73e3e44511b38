import { describe, expect, test } from "vitest";
import { frontDeskCode } from "./front-desk.ts";

describe("front desk code", () => {
  test("ten groups of four hex digits of the checksummed address, and a BIP-39 check word", () => {
    const code = frontDeskCode("0x9858effd232b4033e47d90003d41ec34ecaeda94");
    expect(code.groups).toEqual([
      "9858",
      "EfFD",
      "232B",
      "4033",
      "E47d",
      "9000",
      "3D41",
      "EC34",
      "EcaE",
      "da94",
    ]);
    expect(code.checkWord).toMatch(/^[a-z]{3,8}$/);
    expect(frontDeskCode(code.address).checkWord).toBe(code.checkWord);
  });
  test("a one-digit change gives another check word (for these two addresses)", () => {
    const a = frontDeskCode("0x9858EfFD232B4033E47d90003D41EC34EcaEda94").checkWord;
    const b = frontDeskCode("0x9858EfFD232B4033E47d90003D41EC34EcaEda95").checkWord;
    expect(a).not.toBe(b);
  });
});
