import { GatekeeperRequestError, RELAY_DEPENDENCY_CHECKS } from "@medrec/protocol";
import { describe, expect, test } from "vitest";
import { explainError } from "./problem.ts";

const refusal = (status: number, check: string) =>
  new GatekeeperRequestError(
    status,
    { type: `https://medrec.dev/problems/${check}`, title: "Refused", status, detail: "raw detail", check },
    "POST /v1/relay",
  );

describe("explainError", () => {
  test("behavior: every refusal of a relay waiting for its dependency is told in words, saying nothing changed", () => {
    for (const check of RELAY_DEPENDENCY_CHECKS) {
      const explained = explainError(refusal(check === "dependency-too-far" ? 422 : 503, check));
      expect(explained.title).toBe("The change was not saved");
      expect(explained.detail).toMatch(/Nothing was changed: try again in a minute\./);
      expect(explained.detail).not.toContain("raw detail");
    }
  });

  test("behavior: a relay full right now (adr/0013) is told in words that say nothing changed", () => {
    for (const [status, check] of [
      [429, "open-lane-limit"],
      [503, "relayer-busy"],
      [429, "protective-in-flight"],
    ] as const) {
      const explained = explainError(refusal(status, check));
      expect(explained.title).toBe("The change was not saved");
      expect(explained.detail).toMatch(/Nothing was changed|still being saved/);
      expect(explained.detail).not.toContain("raw detail");
    }
  });

  test("error: an unknown check falls back to the status's words", () => {
    expect(explainError(refusal(503, "something-new")).title).toBe("The provider is catching up");
  });
});
