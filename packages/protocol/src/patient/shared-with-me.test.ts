import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generateEncryptionKeyPair, sealJson } from "../sealed-box.ts";
import { openViewerDetails, sharedGrantStatus } from "./shared-with-me.ts";

describe("shared with me", () => {
  test("a grant's state: revoked when deleted, expired when no scope is active, else active", () => {
    assert.equal(sharedGrantStatus({ scopes: 0, expiresAt: 0n }, 0), "revoked");
    assert.equal(sharedGrantStatus({ scopes: 64, expiresAt: 1_700_000_000n }, 0), "expired");
    assert.equal(sharedGrantStatus({ scopes: 64, expiresAt: 2_000_000_000n }, 64), "active");
  });

  test("details sealed to the viewer open with its key only, and keep only known fields", () => {
    const viewer = generateEncryptionKeyPair();
    const other = generateEncryptionKeyPair();
    const sealed = sealJson(
      {
        v: 1,
        from: "  Maria  ",
        provider: { name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7001" },
        extra: "ignored",
      },
      viewer.publicKey,
    );
    assert.deepEqual(openViewerDetails(sealed, viewer.secretKey), {
      v: 1,
      from: "Maria",
      provider: { name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7001" },
    });
    assert.equal(openViewerDetails(sealed, other.secretKey), undefined);
    assert.equal(openViewerDetails("0x", viewer.secretKey), undefined);
    assert.equal(
      openViewerDetails(sealJson({ v: 2, from: "x" }, viewer.publicKey), viewer.secretKey),
      undefined,
    );
  });
});
