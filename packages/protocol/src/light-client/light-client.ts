/**
 * The patient's light client: a value from the chain — a record root, a grant, a relationship — is
 * accepted only with an EIP-1186 proof against the state root of a header that (1) hashes to what it
 * says, (2) is sealed by one of the network's sealers, and (3) at least two providers' RPC nodes
 * agree on (`adr/0012-patient-light-client.md`). A node whose header or proof does not check is
 * remembered as at fault, with the reason; a node that does not answer is only skipped.
 */
import type { Address, Hex } from "viem";
import { type CheckedHeader, checkCliqueHeader, HeaderError, type RpcHeader } from "./header.ts";
import { ProofError, type RpcProof, slotKey, verifyStorageProof } from "./proof.ts";

/** One provider's RPC node, by the provider's name. */
export type LightNode = { name: string; rpcUrl: string };

export type LightClientParameters = {
  nodes: readonly LightNode[];
  /** The Clique signer set: the network's providers' sealer accounts. */
  signers: readonly Address[];
  /** Nodes that must agree on a header's hash. Default 2 (1 on a one-node network). */
  quorum?: number;
  /** How long an accepted header is reused. Default 1,000 ms. */
  maxAgeMs?: number;
  /** How long to wait for the quorum to reach a `minBlock` before reading at what it agrees on. Default 5,000 ms. */
  catchUpMs?: number;
  /** Per request. Default 10,000 ms. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
};

/** A header the nodes agreed on. */
export type AcceptedHeader = CheckedHeader & {
  /** The nodes that served exactly this header. */
  agreeing: string[];
};

/** Why a node is not believed, in words (its name is the provider's). */
export type NodeFault = { node: string; reason: string };

export type LightClientErrorCode = "node-at-fault" | "no-agreement" | "unreachable";

/** A value could not be proven: which node lied and how, or why no quorum was found. */
export class LightClientError extends Error {
  override name = "LightClientError" as const;
  readonly code: LightClientErrorCode;
  /** The node at fault (`node-at-fault`). */
  readonly node: string | undefined;
  constructor(code: LightClientErrorCode, message: string, node?: string) {
    super(message);
    this.code = code;
    this.node = node;
  }
}

export type ReadSlotsParameters = {
  address: Address;
  slots: readonly bigint[];
  /**
   * The node to ask first (a provider's own node, for its relationship): when its answer does not
   * check this throws `node-at-fault` instead of asking another; when it does not answer, the
   * others are asked. Without it, the agreeing nodes are asked in turn and a lying one is skipped.
   */
  via?: string | undefined;
  /** See {@link LightClient.header}. */
  minBlock?: bigint | undefined;
};

export type LightClient = {
  /**
   * The header values are read at (shared by concurrent callers for `maxAgeMs`). `minBlock`: a
   * block the caller knows of (an event's, the head its events were read to): an older header is
   * not reused, and the nodes get `catchUpMs` to reach it.
   */
  header(minBlock?: bigint): Promise<AcceptedHeader>;
  /** Proven values of `slots` of `address`, read with one `eth_getProof`. */
  readSlots(p: ReadSlotsParameters): Promise<Map<bigint, bigint>>;
  /** {@link LightClient.readSlots} with the header the values were proven against. */
  readProven(p: ReadSlotsParameters): Promise<{ values: Map<bigint, bigint>; header: AcceptedHeader }>;
  /** What the node did wrong, if it was caught (until it next serves the agreed header). */
  faultOf(node: string): NodeFault | undefined;
  readonly nodes: readonly LightNode[];
};

class Unreachable extends Error {}

/** Blocks tried below the agreed head when the nodes' headers there differ (a fork at the tip). */
const FORK_DEPTH = 3;

export function createLightClient({
  nodes,
  signers,
  quorum = Math.min(2, nodes.length),
  maxAgeMs = 1_000,
  catchUpMs = 5_000,
  timeoutMs = 10_000,
  fetch = globalThis.fetch.bind(globalThis),
}: LightClientParameters): LightClient {
  const faults = new Map<string, NodeFault>();
  type Current = { at: number; header: Promise<AcceptedHeader>; number?: bigint };
  let current: Current | undefined;
  let id = 0;

  async function rpc<T>(node: LightNode, method: string, params: unknown[]): Promise<T> {
    let response: Response;
    try {
      response = await fetch(node.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch {
      throw new Unreachable(`${node.name}'s network node did not answer`);
    }
    if (!response.ok) throw new Unreachable(`${node.name}'s network node answered HTTP ${response.status}`);
    const body = (await response.json().catch(() => undefined)) as
      | { result?: T; error?: unknown }
      | undefined;
    if (!body || body.error !== undefined || body.result === undefined || body.result === null)
      throw new Unreachable(`${node.name}'s network node gave no answer to ${method}`);
    return body.result;
  }

  const blame = (node: string, reason: string) => {
    faults.set(node, { node, reason });
  };

  /** The head a quorum of nodes has (the quorum-th highest), waiting up to `catchUpMs` for `minBlock`. */
  async function agreedHead(minBlock: bigint): Promise<bigint> {
    const until = Date.now() + catchUpMs;
    for (;;) {
      const heads = await Promise.all(
        nodes.map((n) => rpc<Hex>(n, "eth_blockNumber", []).then(BigInt, () => undefined)),
      );
      const answered = heads.filter((h): h is bigint => h !== undefined).sort((a, b) => (a > b ? -1 : 1));
      const head = answered[quorum - 1];
      if (head === undefined)
        throw new LightClientError(
          "unreachable",
          "Too few of the providers' network nodes answered to check the chain.",
        );
      if (head >= minBlock || Date.now() >= until) return head;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** The nodes' headers at `at`, each checked, grouped by hash (largest group first). */
  async function headersAt(at: bigint) {
    const tag = `0x${at.toString(16)}`;
    const byHash = new Map<string, { header: CheckedHeader; agreeing: string[] }>();
    await Promise.all(
      nodes.map(async (node) => {
        let raw: RpcHeader;
        try {
          raw = await rpc<RpcHeader>(node, "eth_getBlockByNumber", [tag, false]);
        } catch {
          return;
        }
        try {
          const header = checkCliqueHeader(raw, signers);
          const group = byHash.get(header.hash) ?? { header, agreeing: [] };
          group.agreeing.push(node.name);
          byHash.set(header.hash, group);
        } catch (error) {
          const why = error instanceof HeaderError ? error.message : "it is malformed";
          blame(node.name, `its block ${at} does not check: ${why}`);
        }
      }),
    );
    return [...byHash.values()].sort((a, b) => b.agreeing.length - a.agreeing.length)[0];
  }

  async function acceptHeader(minBlock: bigint): Promise<AcceptedHeader> {
    const head = await agreedHead(minBlock);
    // A validly sealed header that the others do not share is a fork at the tip, not a lie: an
    // older block is tried. Such a node is not counted; its proofs would not check against the
    // agreed root.
    for (let at = head; at >= 0n && at > head - BigInt(FORK_DEPTH); at--) {
      const best = await headersAt(at);
      if (best && best.agreeing.length >= quorum) {
        for (const name of best.agreeing) faults.delete(name);
        return { ...best.header, agreeing: best.agreeing };
      }
    }
    throw new LightClientError(
      "no-agreement",
      `The providers' network nodes do not agree on the chain near block ${head}: nothing read from it can be checked.`,
    );
  }

  function header(minBlock = 0n): Promise<AcceptedHeader> {
    if (!current || Date.now() - current.at > maxAgeMs || (current.number ?? -1n) < minBlock) {
      const next: Current = { at: Date.now(), header: acceptHeader(minBlock) };
      next.header.then(
        (h) => {
          next.number = h.number;
        },
        () => {
          if (current === next) current = undefined;
        },
      );
      current = next;
    }
    return current.header;
  }

  /**
   * Whether `node` serves the accepted header itself — waiting up to `catchUpMs` while it has not
   * reached that block (a node a block behind the two that agreed would otherwise never be asked,
   * and its lies never seen). Throws `node-at-fault` for a header that does not check; false for a
   * node that does not answer, or that is on another (validly sealed) branch: it is passed over.
   */
  async function servesAccepted(node: LightNode, accepted: AcceptedHeader): Promise<boolean> {
    if (accepted.agreeing.includes(node.name)) return true;
    const tag = `0x${accepted.number.toString(16)}`;
    const until = Date.now() + catchUpMs;
    for (;;) {
      let raw: RpcHeader | undefined;
      try {
        raw = await rpc<RpcHeader>(node, "eth_getBlockByNumber", [tag, false]);
      } catch (error) {
        // No such block yet (a null result) or no answer: wait for it, within the bound.
        if (!(error instanceof Unreachable) || Date.now() >= until) return false;
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      try {
        return checkCliqueHeader(raw, signers).hash === accepted.hash;
      } catch (error) {
        const why = error instanceof HeaderError ? error.message : "it is malformed";
        const reason = `its block ${accepted.number} does not check: ${why}`;
        blame(node.name, reason);
        throw new LightClientError("node-at-fault", reason, node.name);
      }
    }
  }

  async function readProven({ address, slots, via, minBlock }: ReadSlotsParameters) {
    const accepted = await header(minBlock);
    const faultOfVia = via ? faults.get(via) : undefined;
    if (faultOfVia) throw new LightClientError("node-at-fault", faultOfVia.reason, via);
    const named = nodes.find((n) => n.name === via);
    const first = named && (await servesAccepted(named, accepted)) ? named : undefined;
    const order = [
      ...(first ? [first] : []),
      ...nodes.filter((n) => n !== first && accepted.agreeing.includes(n.name)),
    ];
    const tag = `0x${accepted.number.toString(16)}`;
    for (const node of order) {
      let proof: RpcProof;
      try {
        proof = await rpc<RpcProof>(node, "eth_getProof", [address, slots.map(slotKey), tag]);
      } catch {
        continue;
      }
      try {
        return {
          values: await verifyStorageProof(accepted.stateRoot, address, slots, proof),
          header: accepted,
        };
      } catch (error) {
        const why = error instanceof ProofError ? error.message : "it is malformed";
        blame(node.name, `its proof for block ${accepted.number} does not check: ${why}`);
        if (node === first)
          throw new LightClientError("node-at-fault", `its proof does not check: ${why}`, node.name);
      }
    }
    throw new LightClientError("unreachable", "No provider's network node gave a proof that checks.");
  }

  return {
    header,
    readProven,
    readSlots: async (p) => (await readProven(p)).values,
    faultOf: (node) => faults.get(node),
    nodes,
  };
}
