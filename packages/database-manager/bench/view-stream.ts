/**
 * `bench:view`'s synthetic log stream: a city's Agent and Relationship events as real viem `Log`
 * objects (topics and data built with `encodeEventTopics` / `encodeAbiParameters`), generated
 * deterministically from indices so that the generator holds nothing that would count against the
 * view's memory: relationship `r`, its patient, its delegate and its grants' viewers are all
 * functions of `r`.
 *
 * Order: every agent registers (patients, then viewers); then each relationship is created and gets
 * its first root; then the grants (grant `k` is on relationship `k mod R`, so each relationship's
 * grants are spread over the stream). Relationship `r` belongs to provider `r mod providers`.
 */
import {
  type AbiEvent,
  type Address,
  encodeAbiParameters,
  encodeEventTopics,
  type Hex,
  type Log,
} from "viem";
import { chainAbi } from "../src/chain/client.ts";

export type StreamShape = {
  relationships: number;
  grants: number;
  providers: number;
  patients: number;
  viewers: number;
  /** Logs per block (a 1 s Clique block of a busy city network). */
  logsPerBlock: number;
};

export const AGENT_CONTRACT: Address = "0x1000000000000000000000000000000000000001";
export const RELATIONSHIP_CONTRACT: Address = "0x2000000000000000000000000000000000000002";
/** A year after the stream's "now": grants are current. */
export const GRANT_EXPIRY = 2_000_000_000n;

/** 32-bit mix (splitmix-like): word `w` of the pseudo-random bytes of (`tag`, `i`). */
function mix(tag: number, i: number, w: number): number {
  let x = (Math.imul(i, 0x9e3779b1) ^ Math.imul(tag + 1, 0x85ebca6b) ^ Math.imul(w + 1, 0xc2b2ae35)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}
function hexOf(tag: number, i: number, words: number): string {
  let out = "";
  for (let w = 0; w < words; w++) out += mix(tag, i, w).toString(16).padStart(8, "0");
  return out;
}
const TAG = {
  id: 1,
  patientAgent: 2,
  patientOwner: 3,
  viewerAgent: 4,
  viewerOwner: 5,
  delegate: 6,
  tx: 7,
  block: 8,
};
export const relationshipId = (r: number): Hex => `0x${hexOf(TAG.id, r, 8)}`;
export const patientAgent = (p: number): Address => `0x${hexOf(TAG.patientAgent, p, 5)}`;
export const patientOwner = (p: number): Address => `0x${hexOf(TAG.patientOwner, p, 5)}`;
export const viewerAgent = (v: number): Address => `0x${hexOf(TAG.viewerAgent, v, 5)}`;
const viewerOwner = (v: number): Address => `0x${hexOf(TAG.viewerOwner, v, 5)}`;
const delegate = (r: number): Address => `0x${hexOf(TAG.delegate, r, 5)}`;
export const patientOf = (shape: StreamShape, r: number): number => mix(9, r, 0) % shape.patients;
export const viewerOfGrant = (shape: StreamShape, k: number): number => mix(10, k, 0) % shape.viewers;
export const providerOf = (shape: StreamShape, r: number): number => r % shape.providers;

const eventOf = (name: string) => chainAbi.find((x) => x.type === "event" && x.name === name) as AbiEvent;
const ev = {
  AgentRegistered: eventOf("AgentRegistered"),
  RelationshipCreated: eventOf("RelationshipCreated"),
  RootPublished: eventOf("RootPublished"),
  ViewerGranted: eventOf("ViewerGranted"),
};
const nonIndexed = (e: AbiEvent) => e.inputs.filter((x) => !x.indexed);
/** Encrypted details are opaque bytes on chain; 200 bytes each (a sealed box of a short JSON); 1,024 distinct. */
const DETAILS = Array.from({ length: 1024 }, (_, i): Hex => `0x${hexOf(13, i, 50)}`);
const details = (i: number): Hex => DETAILS[i & 1023] as Hex;

/** Yields the stream in slices of `sliceSize` logs (what one `eth_getLogs` chunk would return). */
export function* logStream(shape: StreamShape, sliceSize: number): Generator<Log[]> {
  let slice: Log[] = [];
  let n = 0;
  const push = (address: Address, topics: readonly unknown[], data: Hex) => {
    const block = Math.floor(n / shape.logsPerBlock);
    slice.push({
      address,
      topics: topics as [Hex, ...Hex[]],
      data,
      blockNumber: BigInt(block + 1),
      blockHash: `0x${hexOf(TAG.block, block, 8)}`,
      transactionHash: `0x${hexOf(TAG.tx, n, 8)}`,
      transactionIndex: n % shape.logsPerBlock,
      logIndex: n % shape.logsPerBlock,
      removed: false,
    } as Log);
    n++;
  };
  const flush = function* () {
    if (slice.length >= sliceSize) {
      yield slice;
      slice = [];
    }
  };
  const agent = (agentAddress: Address, owner: Address, key: Hex) =>
    push(
      AGENT_CONTRACT,
      encodeEventTopics({ abi: [ev.AgentRegistered], args: { agent: agentAddress, owner } } as never),
      encodeAbiParameters(nonIndexed(ev.AgentRegistered), [key]),
    );
  for (let p = 0; p < shape.patients; p++) {
    agent(patientAgent(p), patientOwner(p), `0x${hexOf(11, p, 8)}`);
    yield* flush();
  }
  for (let v = 0; v < shape.viewers; v++) {
    agent(viewerAgent(v), viewerOwner(v), `0x${hexOf(12, v, 8)}`);
    yield* flush();
  }
  for (let r = 0; r < shape.relationships; r++) {
    const id = relationshipId(r);
    push(
      RELATIONSHIP_CONTRACT,
      encodeEventTopics({
        abi: [ev.RelationshipCreated],
        args: { id, patient: patientAgent(patientOf(shape, r)), provider: delegate(r) },
      } as never),
      encodeAbiParameters(nonIndexed(ev.RelationshipCreated), [details(r)]),
    );
    push(
      RELATIONSHIP_CONTRACT,
      encodeEventTopics({ abi: [ev.RootPublished], args: { id } } as never),
      encodeAbiParameters(nonIndexed(ev.RootPublished), [`0x${hexOf(14, r, 8)}`, 1n]),
    );
    yield* flush();
  }
  for (let k = 0; k < shape.grants; k++) {
    push(
      RELATIONSHIP_CONTRACT,
      encodeEventTopics({
        abi: [ev.ViewerGranted],
        args: { id: relationshipId(k % shape.relationships), viewer: viewerAgent(viewerOfGrant(shape, k)) },
      } as never),
      encodeAbiParameters(nonIndexed(ev.ViewerGranted), [(k % 255) + 1, GRANT_EXPIRY, details(k + 7)]),
    );
    yield* flush();
  }
  if (slice.length > 0) yield slice;
}

/** Logs in the stream (agents + relationships × 2 + grants). */
export const logCount = (shape: StreamShape): number =>
  shape.patients + shape.viewers + 2 * shape.relationships + shape.grants;
