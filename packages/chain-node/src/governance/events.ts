/** The registry's signer events: the `eth_getLogs` filter and the decoding of its output. */
import { type Address, getAddress, type Hex, toEventSelector } from "viem";
import { GovernanceParametersError } from "./errors.ts";
import { toHex } from "./shared.ts";

/** topic0 of `SignerAdded(address)`. */
export const SIGNER_ADDED_TOPIC: Hex = toEventSelector("SignerAdded(address)");
/** topic0 of `SignerRemoved(address)`. */
export const SIGNER_REMOVED_TOPIC: Hex = toEventSelector("SignerRemoved(address)");

/** One `SignerAdded` / `SignerRemoved` log of the registry. */
export type SignerEvent = {
  kind: "SignerAdded" | "SignerRemoved";
  signer: Address;
  blockNumber: bigint;
  blockHash: Hex;
  transactionHash: Hex;
  logIndex: number;
};

/** The raw log shape of `eth_getLogs`. */
export type RpcLog = {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
};

/**
 * The `eth_getLogs` filter the daemon uses: the registry's ADDRESS and exactly the two signer
 * topics, over a closed block range. (MedRec v2's daemon matched any contract's log.)
 */
export function signerLogFilter(
  registry: string,
  fromBlock: bigint,
  toBlock: bigint,
): { address: Address; fromBlock: Hex; toBlock: Hex; topics: [[Hex, Hex]] } {
  if (toBlock < fromBlock) throw new GovernanceParametersError(`empty block range ${fromBlock}…${toBlock}`);
  return {
    address: getAddress(registry),
    fromBlock: toHex(fromBlock),
    toBlock: toHex(toBlock),
    topics: [[SIGNER_ADDED_TOPIC, SIGNER_REMOVED_TOPIC]],
  };
}

/**
 * Decodes signer events from `eth_getLogs` output, in chain order. Checks the filter again (defence
 * in depth against a node or proxy that ignores it): a log of another contract, with another
 * topic, or malformed, is skipped and returned in `ignored`.
 */
export function parseSignerLogs(
  logs: readonly RpcLog[],
  registry: string,
): { events: SignerEvent[]; ignored: RpcLog[] } {
  const events: SignerEvent[] = [];
  const ignored: RpcLog[] = [];
  const reg = registry.toLowerCase();
  for (const log of logs) {
    const topic0 = log.topics[0]?.toLowerCase();
    const topic1 = log.topics[1];
    const kind =
      topic0 === SIGNER_ADDED_TOPIC
        ? "SignerAdded"
        : topic0 === SIGNER_REMOVED_TOPIC
          ? "SignerRemoved"
          : undefined;
    if (
      log.removed === true ||
      log.address.toLowerCase() !== reg ||
      !kind ||
      log.topics.length !== 2 ||
      !topic1 ||
      !/^0x0{24}[0-9a-fA-F]{40}$/.test(topic1)
    ) {
      ignored.push(log);
      continue;
    }
    events.push({
      kind,
      signer: getAddress(`0x${topic1.slice(26)}`),
      blockNumber: BigInt(log.blockNumber),
      blockHash: log.blockHash as Hex,
      transactionHash: log.transactionHash as Hex,
      logIndex: Number(log.logIndex),
    });
  }
  events.sort((a, b) =>
    a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
  );
  return { events, ignored };
}
