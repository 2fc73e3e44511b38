import assert from "node:assert/strict";
import { test } from "node:test";
import { type Address, getAddress, type Hex, zeroHash } from "viem";
import type { AgentRecord, RelationshipRecord } from "./view.repository.knex.ts";
import { permissionReads, relationshipRecordOf, viewStateOf } from "./view.ts";

const address = (n: number) => getAddress(`0x${n.toString(16).padStart(40, "0")}`);
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const NOW = 1_900_000_000;
const PROVIDER = address(0xfeed);
const PATIENT = address(0xa11ce);
const PATIENT_AGENT = address(0xa9e);
const VIEWER = address(0xb0b);
const STRANGER = address(0x5);

const relationship = (
  patientAgent: Address,
  grants: RelationshipRecord["grants"] = [],
): RelationshipRecord => ({
  patientAgent,
  provider: PROVIDER,
  ended: false,
  recordRoot: zeroHash,
  sequence: "1",
  grants,
});

/**
 * A provider holding `others` relationships of other patients, and five of ours: two of the
 * patient's, three the viewer was granted (one current, one expired, one revoked: in `granted` only).
 */
function provider(others: number) {
  const relationships: [Hex, RelationshipRecord][] = [];
  const agents: [Address, AgentRecord][] = [
    [PATIENT_AGENT, { owner: PATIENT, custodians: [], encryptionKey: zeroHash }],
  ];
  for (let i = 0; i < others; i++) {
    const agent = address(0x10_0000 + i);
    agents.push([agent, { owner: address(0x20_0000 + i), custodians: [], encryptionKey: zeroHash }]);
    relationships.push([
      id(0x30_0000 + i),
      relationship(agent, [[address(0x40_0000 + i), 1, String(NOW + 60)]]),
    ]);
  }
  relationships.push([id(1), relationship(PATIENT_AGENT)], [id(2), relationship(PATIENT_AGENT)]);
  const other = address(0x10_0000);
  relationships.push(
    [id(3), relationship(other, [[VIEWER, 1, String(NOW + 60)]])],
    [id(4), relationship(other, [[VIEWER, 1, String(NOW - 60)]])],
    [id(5), { ...relationship(other), granted: [VIEWER] }],
  );
  const state = viewStateOf({ relationships, agents });
  const ours = new Map(relationships.map(([key], i) => [key, i]));
  return {
    state,
    ours,
    reads: permissionReads(
      () => state,
      ours,
      () => true,
    ),
  };
}

/** The relationships `account` is in, and how many relationships the lookup looked at. */
function lookup(view: ReturnType<typeof provider>, account: Address) {
  let visited = 0;
  const found = permissionReads(
    () => view.state,
    new Proxy(view.ours, {
      get(target, key) {
        // Every relationship looked at is checked against `ours` or read from it: count both.
        if (key === "has")
          return (k: Hex) => {
            visited += 1;
            return target.has(k);
          };
        if (key === "keys" || key === "entries" || key === Symbol.iterator)
          return () => {
            const inner = (target[key as "keys"] as () => Iterator<unknown>).call(target);
            const counting: IterableIterator<unknown> = {
              [Symbol.iterator]: () => counting,
              next: () => {
                const step = inner.next();
                if (!step.done) visited += 1;
                return step;
              },
            };
            return counting;
          };
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }),
    () => true,
  ).relationshipsOf(account, NOW);
  return { found, visited };
}

test("behavior: relationshipsOf looks at the caller's own relationships only, whatever the provider's size", () => {
  for (const others of [10, 10_000]) {
    const view = provider(others);
    assert.deepEqual(
      lookup(view, STRANGER),
      { found: [], visited: 0 },
      `${others}: a stranger costs nothing`,
    );
    assert.deepEqual(
      lookup(view, PATIENT),
      {
        found: [
          { id: id(1), role: "patient" },
          { id: id(2), role: "patient" },
        ],
        visited: 2,
      },
      `${others}: the patient's two`,
    );
    // The viewer: looked at its three (current, expired, revoked), found in the current one only.
    assert.deepEqual(lookup(view, VIEWER), { found: [{ id: id(3), role: "viewer" }], visited: 3 });
  }
});

test("behavior: the grant history keeps revoked and expired viewers, survives a save and restore, and is the current viewers for an older snapshot", () => {
  const { state, reads } = provider(1);
  assert.equal(reads.everGranted(id(5), VIEWER), true, "revoked: once granted");
  assert.equal(reads.everGranted(id(4), VIEWER), true, "expired");
  assert.equal(reads.everGranted(id(3), VIEWER), true, "current");
  assert.equal(reads.everGranted(id(3), STRANGER), false);
  assert.equal(reads.everGranted(id(99), VIEWER), false, "not this provider's");
  const saved = relationshipRecordOf(state.relationships.get(id(5)));
  assert.deepEqual(saved?.granted, [VIEWER]);
  const restored = viewStateOf({ relationships: [[id(5), saved]], agents: [] });
  assert.deepEqual([...(restored.relationships.get(id(5))?.granted ?? [])], [VIEWER]);
  const { granted: _granted, ...older } = saved as RelationshipRecord;
  const fromOlder = viewStateOf({
    relationships: [[id(3), { ...older, grants: [[VIEWER, 1, String(NOW)]] }]],
    agents: [],
  });
  assert.deepEqual([...(fromOlder.relationships.get(id(3))?.granted ?? [])], [VIEWER]);
  // The relationship's public view carries neither the grants nor their history.
  assert.deepEqual(Object.keys(reads.relationship(id(3)) ?? {}).sort(), [
    "ended",
    "id",
    "patientAgent",
    "provider",
    "recordRoot",
    "sequence",
  ]);
});
