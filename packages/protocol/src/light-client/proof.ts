/**
 * EIP-1186 proofs (`eth_getProof`) checked against a state root with the maintained
 * Merkle–Patricia implementation (`@ethereumjs/mpt`): the account proof gives the contract's
 * storage root, each storage proof gives a slot's value. Values come out of the proven trie; the
 * `value` and `storageHash` fields the node states are compared with them, never used.
 */
import { verifyMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { bytesToBigInt, createAccountFromRLP, hexToBytes, KECCAK256_RLP } from "@ethereumjs/util";
import { type Address, bytesToHex, type Hex, pad, toHex } from "viem";

/** An `eth_getProof` answer (EIP-1186). */
export type RpcProof = {
  address: Hex;
  storageHash: Hex;
  accountProof: Hex[];
  storageProof: { key: Hex; value: Hex; proof: Hex[] }[];
};

/** A proof that does not hold against the root it must hold against. */
export class ProofError extends Error {
  override name = "ProofError" as const;
}

async function provenValue(root: Uint8Array, key: Uint8Array, proof: Hex[], what: string) {
  try {
    return await verifyMerkleProof(key, proof.map(hexToBytes), { root, useKeyHashing: true });
  } catch {
    throw new ProofError(`the proof of ${what} does not lead to the proven root`);
  }
}

/** A 32-byte storage slot as a key of `eth_getProof` and of the storage trie. */
export const slotKey = (slot: bigint): Hex => pad(toHex(slot), { size: 32 });

/**
 * The values of `slots` of `address` at the state `stateRoot`, from `proof`.
 *
 * @throws {ProofError} when any part of the proof does not hold, names another account or slot, or
 * states a value the proof does not give.
 */
export async function verifyStorageProof(
  stateRoot: Hex,
  address: Address,
  slots: readonly bigint[],
  proof: RpcProof,
): Promise<Map<bigint, bigint>> {
  if (proof.address.toLowerCase() !== address.toLowerCase())
    throw new ProofError(`the proof is of ${proof.address}, not of ${address}`);
  const account = await provenValue(
    hexToBytes(stateRoot),
    hexToBytes(address),
    proof.accountProof,
    "the account",
  );
  // A contract always exists: a proof of absence for it is a lie about the state.
  if (!account) throw new ProofError(`the proof says ${address} does not exist`);
  const storageRoot = createAccountFromRLP(account).storageRoot;
  if (bytesToHex(storageRoot) !== proof.storageHash.toLowerCase())
    throw new ProofError("the stated storage root is not the proven one");
  const values = new Map<bigint, bigint>();
  for (const slot of slots) {
    const entry = proof.storageProof.find((p) => BigInt(p.key) === slot);
    if (!entry) throw new ProofError(`no proof for slot ${slotKey(slot)}`);
    let value = 0n;
    if (bytesToHex(storageRoot) !== bytesToHex(KECCAK256_RLP)) {
      const leaf = await provenValue(
        storageRoot,
        hexToBytes(slotKey(slot)),
        entry.proof,
        `slot ${slotKey(slot)}`,
      );
      value = leaf ? bytesToBigInt(RLP.decode(leaf) as Uint8Array) : 0n;
    }
    if (BigInt(entry.value) !== value)
      throw new ProofError(`the stated value of slot ${slotKey(slot)} is not the proven one`);
    values.set(slot, value);
  }
  return values;
}
