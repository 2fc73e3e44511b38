/**
 * Where the values the patient relies on live in the contracts' storage (Solidity's layout:
 * a mapping's entry for `key` at keccak256(key ‖ slot), structs packed from the low-order bytes).
 * The slots follow the declaration order in `contracts/contracts/{Agent,Relationship}.sol`
 * (ERC2771Context's forwarder and the contracts' own references are immutables, not storage);
 * Checked against solc 0.8.28's `storageLayout` output, and against the contracts' own getters on a
 * running chain by `scripts/patient.int.test.ts`.
 */
import { type Address, encodeAbiParameters, getAddress, type Hex, keccak256, toHex } from "viem";

/** `Relationship`: `_relationships` (Entry, 3 slots) then `_grants`. */
export const RELATIONSHIP_SLOTS = { relationships: 0n, grants: 1n } as const;
/** `Agent`: `_accounts`, `_custodianAt`, `_custodianPosition`, `_approvals`, `_pending`, `_relationshipAt`, `_seen`. */
export const AGENT_SLOTS = { accounts: 0n, relationshipAt: 5n, seen: 6n } as const;

const entryOf = (type: "address" | "bytes32" | "uint256", key: Address | Hex | bigint, slot: bigint) =>
  BigInt(keccak256(encodeAbiParameters([{ type }, { type: "uint256" }], [key as never, slot])));

const bits = (word: bigint, offset: number, size: number) =>
  (word >> BigInt(offset * 8)) & ((1n << BigInt(size * 8)) - 1n);
const address = (word: bigint, offset = 0) => getAddress(toHex(bits(word, offset, 20), { size: 20 }));

/** The three slots of `Relationship._relationships[id]` (patient|sequence|ended, provider, recordRoot). */
export function relationshipEntrySlots(id: Hex): [bigint, bigint, bigint] {
  const base = entryOf("bytes32", id, RELATIONSHIP_SLOTS.relationships);
  return [base, base + 1n, base + 2n];
}

/** A relationship's entry from its three proven words. */
export function decodeRelationshipEntry([first, provider, root]: readonly bigint[]) {
  const word = first ?? 0n;
  return {
    patient: address(word),
    sequence: bits(word, 20, 8),
    ended: bits(word, 28, 1) !== 0n,
    provider: address(provider ?? 0n),
    recordRoot: toHex(root ?? 0n, { size: 32 }),
  };
}

/** The slot of `Relationship._grants[id][viewer]` (scopes uint16, expiresAt uint64). */
export function grantSlot(id: Hex, viewer: Address): bigint {
  return entryOf("address", viewer, entryOf("bytes32", id, RELATIONSHIP_SLOTS.grants));
}

export function decodeGrant(word: bigint): { scopes: number; expiresAt: bigint } {
  return { scopes: Number(bits(word, 0, 2)), expiresAt: bits(word, 2, 8) };
}

/** The slot of `Agent._accounts[account]`. */
export function agentAccountSlot(account: Address): bigint {
  return entryOf("address", account, AGENT_SLOTS.accounts);
}

/** `Agent.Account`: owner, relationshipCount u32, custodianCount u8, threshold u8, recoveryRound u32, isOwnerRecord. */
export function decodeAgentAccount(word: bigint) {
  return {
    owner: address(word),
    relationshipCount: Number(bits(word, 20, 4)),
    custodianCount: Number(bits(word, 24, 1)),
    threshold: Number(bits(word, 25, 1)),
    isOwnerRecord: bits(word, 30, 1) !== 0n,
  };
}

/** The slot of `Agent._relationshipAt[agent][index]`. */
export function relationshipAtSlot(agent: Address, index: number): bigint {
  return entryOf("uint256", BigInt(index), entryOf("address", agent, AGENT_SLOTS.relationshipAt));
}

/** The slot of `Agent._seen[agent][relationship]` (uint64). */
export function seenSlot(agent: Address, relationship: Hex): bigint {
  return entryOf("bytes32", relationship, entryOf("address", agent, AGENT_SLOTS.seen));
}
