import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { Address, Hex } from "viem";
import { checkCliqueHeader, type RpcHeader } from "./header.ts";
import { decodeRelationshipEntry, relationshipEntrySlots } from "./layout.ts";
import { type RpcProof, verifyStorageProof } from "./proof.ts";

/** A header and an `eth_getProof` of the demo patient's relationships, recorded from real geth 1.13.15. */
const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/geth-1.13.15-clique.json", import.meta.url), "utf8"),
) as {
  signers: Address[];
  relationship: Address;
  ids: Hex[];
  header: RpcHeader;
  proof: RpcProof;
  expected: { recordRoot: Hex; sequence: string; ended: boolean }[];
};
const slots = fixture.ids.flatMap((id) => relationshipEntrySlots(id));
const copy = <T>(value: T): T => structuredClone(value);

describe("a real geth 1.13.15 Clique header and proof", () => {
  test("default: the header hashes to its hash, its seal recovers to a sealer; the proof gives each relationship's root", async () => {
    const header = checkCliqueHeader(fixture.header, fixture.signers);
    assert.ok(fixture.signers.includes(header.signer));
    const values = await verifyStorageProof(header.stateRoot, fixture.relationship, slots, fixture.proof);
    for (const [i, id] of fixture.ids.entries()) {
      const entry = decodeRelationshipEntry(relationshipEntrySlots(id).map((s) => values.get(s) ?? 0n));
      const expected = fixture.expected[i];
      assert.equal(entry.recordRoot, expected?.recordRoot);
      assert.equal(entry.sequence.toString(), expected?.sequence);
      assert.equal(entry.ended, expected?.ended);
    }
  });

  test("error: a wrong value (another root)", async () => {
    const proof = copy(fixture.proof);
    const root = proof.storageProof.find((p) => BigInt(p.value) > 1n << 200n) as { value: Hex };
    root.value = `0x${"5e".repeat(32)}`;
    await assert.rejects(
      verifyStorageProof(fixture.header.stateRoot, fixture.relationship, slots, proof),
      /stated value/,
    );
  });

  test("error: a missing node", async () => {
    const proof = copy(fixture.proof);
    const entry = proof.storageProof[0] as { proof: Hex[] };
    entry.proof.splice(Math.max(0, entry.proof.length - 2), 1);
    await assert.rejects(
      verifyStorageProof(fixture.header.stateRoot, fixture.relationship, slots, proof),
      /does not lead/,
    );
  });

  test("error: a wrong state root (another block's)", async () => {
    await assert.rejects(
      verifyStorageProof(fixture.header.parentHash, fixture.relationship, slots, fixture.proof),
      /the account/,
    );
  });

  test("error: a forged seal", () => {
    const extra = fixture.header.extraData;
    // Flip a bit of the seal's s: it recovers to someone else (or to nothing).
    const forged =
      `${extra.slice(0, -4)}${((Number.parseInt(extra.slice(-4, -2), 16) ^ 1) & 0xff).toString(16).padStart(2, "0")}${extra.slice(-2)}` as Hex;
    assert.throws(
      () => checkCliqueHeader({ ...fixture.header, extraData: forged }, fixture.signers),
      /hash to|sealers|seal/,
    );
  });

  test("error: a seal by a key outside the signer set", () => {
    assert.throws(
      () => checkCliqueHeader(fixture.header, ["0x0000000000000000000000000000000000000001"]),
      /not one of the network's sealers/,
    );
  });

  test("error: the state root changed under the same hash", () => {
    assert.throws(
      () => checkCliqueHeader({ ...fixture.header, stateRoot: fixture.header.parentHash }, fixture.signers),
      /hash to/,
    );
  });
});
