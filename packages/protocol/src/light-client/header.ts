/**
 * A geth Clique block header as an RPC node serves it (`eth_getBlockByNumber`), checked without
 * trusting the node: its hash is recomputed from its fields (keccak of the header RLP), and its
 * seal — the last 65 bytes of `extraData`, a signature over the header RLP without them (geth
 * 1.13 `clique.SealHash` / `encodeSigHeader`) — is recovered to the signer's address.
 */
import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, hexToBytes } from "@ethereumjs/util";
import { secp256k1 } from "@noble/curves/secp256k1";
import { keccak_256 } from "@noble/hashes/sha3";
import { type Address, bytesToHex, getAddress, type Hex } from "viem";

/** Bytes of a Clique seal at the end of `extraData`: r ‖ s ‖ recovery id (0 or 1). */
export const CLIQUE_SEAL_LENGTH = 65;

/** The header fields of an `eth_getBlockByNumber` answer (the rest is ignored). */
export type RpcHeader = {
  hash: Hex;
  parentHash: Hex;
  sha3Uncles: Hex;
  miner: Hex;
  stateRoot: Hex;
  transactionsRoot: Hex;
  receiptsRoot: Hex;
  logsBloom: Hex;
  difficulty: Hex;
  number: Hex;
  gasLimit: Hex;
  gasUsed: Hex;
  timestamp: Hex;
  extraData: Hex;
  mixHash: Hex;
  nonce: Hex;
  baseFeePerGas?: Hex;
  withdrawalsRoot?: Hex;
};

/** A header whose hash was recomputed and whose seal was recovered. */
export type CheckedHeader = {
  hash: Hex;
  number: bigint;
  timestamp: bigint;
  stateRoot: Hex;
  /** Who sealed it (recovered from the seal, not the `miner` field, which Clique leaves zero). */
  signer: Address;
};

/** Why a header was refused. */
export class HeaderError extends Error {
  override name = "HeaderError" as const;
}

const quantity = (value: Hex) => bigIntToUnpaddedBytes(BigInt(value));

function fields(header: RpcHeader, extra: Uint8Array): Uint8Array[] {
  const list = [
    hexToBytes(header.parentHash),
    hexToBytes(header.sha3Uncles),
    hexToBytes(header.miner),
    hexToBytes(header.stateRoot),
    hexToBytes(header.transactionsRoot),
    hexToBytes(header.receiptsRoot),
    hexToBytes(header.logsBloom),
    quantity(header.difficulty),
    quantity(header.number),
    quantity(header.gasLimit),
    quantity(header.gasUsed),
    quantity(header.timestamp),
    extra,
    hexToBytes(header.mixHash),
    hexToBytes(header.nonce),
  ];
  if (header.baseFeePerGas !== undefined) list.push(quantity(header.baseFeePerGas));
  return list;
}

/** keccak256 of the header's RLP: what its hash must be. */
export function headerHash(header: RpcHeader): Hex {
  // Clique refuses Shanghai and later: a header with a withdrawals root is not of this chain.
  if (header.withdrawalsRoot !== undefined) throw new HeaderError("a Clique header has no withdrawals root");
  return bytesToHex(keccak_256(RLP.encode(fields(header, hexToBytes(header.extraData)))));
}

/** The hash a Clique sealer signs: the header RLP with `extraData` minus its 65-byte seal. */
export function cliqueSealHash(header: RpcHeader): Uint8Array {
  const extra = hexToBytes(header.extraData);
  if (extra.length < CLIQUE_SEAL_LENGTH) throw new HeaderError("extraData is too short to hold a seal");
  return keccak_256(RLP.encode(fields(header, extra.subarray(0, extra.length - CLIQUE_SEAL_LENGTH))));
}

/** The address whose key made the header's seal. */
export function cliqueSigner(header: RpcHeader): Address {
  const extra = hexToBytes(header.extraData);
  if (extra.length < CLIQUE_SEAL_LENGTH) throw new HeaderError("extraData is too short to hold a seal");
  const seal = extra.subarray(extra.length - CLIQUE_SEAL_LENGTH);
  const recovery = seal[64] ?? 255;
  if (recovery > 1) throw new HeaderError("the seal's recovery id is not 0 or 1");
  const publicKey = secp256k1.Signature.fromCompact(seal.subarray(0, 64))
    .addRecoveryBit(recovery)
    .recoverPublicKey(cliqueSealHash(header))
    .toRawBytes(false);
  return getAddress(bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12)));
}

/**
 * Checks a header against nothing but itself and the signer set: its stated hash is the keccak of
 * its RLP, and its seal recovers to one of `signers`.
 *
 * @throws {HeaderError} naming what does not hold.
 */
export function checkCliqueHeader(header: RpcHeader, signers: readonly Address[]): CheckedHeader {
  const hash = headerHash(header);
  if (hash.toLowerCase() !== header.hash.toLowerCase())
    throw new HeaderError(`the header's fields hash to ${hash}, not to the hash it states`);
  let signer: Address;
  try {
    signer = cliqueSigner(header);
  } catch (cause) {
    throw cause instanceof HeaderError ? cause : new HeaderError("the seal is not a valid signature");
  }
  if (!signers.some((s) => s.toLowerCase() === signer.toLowerCase()))
    throw new HeaderError(`sealed by ${signer}, who is not one of the network's sealers`);
  return {
    hash,
    number: BigInt(header.number),
    timestamp: BigInt(header.timestamp),
    stateRoot: header.stateRoot,
    signer,
  };
}
