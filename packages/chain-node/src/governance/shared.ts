/** Small helpers the governance modules share (not part of the package API). */
import type { Hex } from "viem";

/** Lower-cased addresses as a set: address comparison ignores checksum case. */
export function lowerSet(addresses: readonly string[]): Set<string> {
  return new Set(addresses.map((a) => a.toLowerCase()));
}

/** A block number as a JSON-RPC quantity. */
export function toHex(n: bigint): Hex {
  return `0x${n.toString(16)}`;
}
