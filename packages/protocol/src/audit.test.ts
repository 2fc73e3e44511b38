import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { AUDIT_GENESIS_HASH, type AuditEntryFields, auditEntryHash, findAuditChainBreak } from "./audit.ts";

type AuditEntry = AuditEntryFields & { hash: string };

const ADDRESS = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";

function chain(n: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prevHash = AUDIT_GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const body = {
      at: `2025-06-01T12:00:0${i}Z`,
      actor: ADDRESS,
      action: "read-records",
      categories: ["labs" as const],
      decision: "allowed" as const,
      prevHash,
    };
    const hash = auditEntryHash(body);
    entries.push({ ...body, hash });
    prevHash = hash;
  }
  return entries;
}

describe("audit chain", () => {
  test("default: hash is SHA-256 of the canonical entry without hash", () => {
    const body = {
      at: "2025-06-01T12:00:00Z",
      actor: ADDRESS.toLowerCase(),
      action: "read-audit",
      categories: [],
      decision: "allowed" as const,
      prevHash: AUDIT_GENESIS_HASH,
    };
    const json = `{"action":"read-audit","actor":"${ADDRESS}","at":"2025-06-01T12:00:00Z","categories":[],"decision":"allowed","prevHash":"${AUDIT_GENESIS_HASH}"}`;
    assert.equal(auditEntryHash(body), `0x${createHash("sha256").update(json).digest("hex")}`);
  });

  test("behavior: an intact chain has no break", () => {
    assert.equal(findAuditChainBreak(chain(5)), -1);
    assert.equal(findAuditChainBreak([]), -1);
  });

  test("error: edits and deletions are detected", () => {
    const edited = chain(5);
    (edited[2] as AuditEntry).decision = "denied";
    assert.equal(findAuditChainBreak(edited), 2);
    const deleted = chain(5);
    deleted.splice(1, 1);
    assert.equal(findAuditChainBreak(deleted), 1);
    const truncatedHead = chain(3).slice(1);
    assert.equal(findAuditChainBreak(truncatedHead), 0);
  });
});
