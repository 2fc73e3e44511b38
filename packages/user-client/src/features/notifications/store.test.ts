import type { PatientNotification } from "@medrec/protocol/patient";
import { describe, expect, test } from "vitest";
import { toAppNotification } from "./store.ts";

const viewer = "0x1234567890abcdef1234567890abcdef12345678" as const;
const relationship = `0x${"ab".repeat(32)}` as const;

describe("notifications in words", () => {
  test("new records keep the layer's count and provider", () => {
    const n: PatientNotification = {
      type: "new-records",
      provider: "Lakeside Clinic",
      relationship,
      added: 3,
      changed: 0,
      removed: 0,
      sequence: 2n,
      blockNumber: 10n,
      message: "3 new records from Lakeside Clinic",
    };
    expect(toAppNotification(n)?.title).toBe("3 new records from Lakeside Clinic");
  });
  test("behavior: a viewer is named from the contacts, else by a short form of the ID", () => {
    const used: PatientNotification = {
      type: "grant-first-use",
      provider: "Hilltop Medical",
      relationship,
      viewer,
      at: "2026-01-01T00:00:00Z",
      message: `${viewer} opened your shared records at Hilltop Medical`,
    };
    expect(toAppNotification(used, () => "Ana")?.title).toBe("Ana opened your records at Hilltop Medical");
    const unnamed = toAppNotification(used);
    expect(unnamed?.title).toBe("ID 0x1234…5678 opened your records at Hilltop Medical");
    const ended: PatientNotification = {
      type: "grant-expired",
      provider: "Hilltop Medical",
      relationship,
      viewer,
      expiresAt: new Date("2026-01-08T00:00:00Z"),
      message: "",
    };
    for (const words of [toAppNotification(ended), toAppNotification(ended, () => "Ana")])
      expect(`${words?.title} ${words?.detail}`).not.toMatch(/0x[0-9a-f]{8,}/i);
  });
  test("edge: a re-publication without changes and the watcher's own errors are not notifications", () => {
    expect(
      toAppNotification({
        type: "new-records",
        provider: "Lakeside Clinic",
        relationship,
        added: 0,
        changed: 0,
        removed: 0,
        sequence: 3n,
        blockNumber: 11n,
        message: "",
      }),
    ).toBeUndefined();
    expect(toAppNotification({ type: "error", message: "node down" })).toBeUndefined();
  });
});
