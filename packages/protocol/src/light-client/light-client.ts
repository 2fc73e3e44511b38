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
  /** Blocks behind the quorum's head to read at (a fresh tip may still be reorganised). Default 2. */
  depth?: number;
  /** How long an accepted header is reused. Default 2,000 ms. */
  maxAgeMs?: number;
  /** Per request. Default 10,000 ms. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
};

/** A header the nodes agreed on, with what each dissenting node did wrong. */
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

export type LightClient = {
  /** The header values are read at (shared by concurrent callers for `maxAgeMs`). */
  header(): Promise<AcceptedHeader>;
  /**
   * Proven values of `slots` of `address`, read with one `eth_getProof`. `via`: the node to ask
   * (a provider's own node for its relationship): when its answer does not check, this throws
   * `node-at-fault` instead of asking another; when it does not answer, the others are asked.
   */
  readSlots(p: { address: Address; slots: readonly bigint[]; via?: string }): Promise<Map<bigint, bigint>>;
  /** What the node did wrong, if it was caught (until a later header check clears it). */
  faultOf(node: string): NodeFault | undefined;
  readonly nodes: readonly LightNode[];
};

class Unreachable extends Error {}

export function createLightClient({
  nodes,
  signers,
  quorum = Math.min(2, nodes.length),
  depth = 2,
  maxAgeMs = 2_000,
  timeoutMs = 10_000,
  fetch = globalThis.fetch.bind(globalThis),
}: LightClientParameters): LightClient {
  const faults = new Map<string, NodeFault>();
  let current: { at: number; header: Promise<AcceptedHeader> } | undefined;
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

  async function acceptHeader(): Promise<AcceptedHeader> {
    const heads = await Promise.all(
      nodes.map((n) => rpc<Hex>(n, "eth_blockNumber", []).then(BigInt, () => undefined)),
    );
    const answered = heads.filter((h): h is bigint => h !== undefined).sort((a, b) => (a > b ? -1 : 1));
    const agreedHead = answered[quorum - 1];
    if (agreedHead === undefined)
      throw new LightClientError(
        "unreachable",
        "Too few of the providers' network nodes answered to check the chain.",
      );
    const at = agreedHead > BigInt(depth) ? agreedHead - BigInt(depth) : 0n;
    const tag = `0x${at.toString(16)}`;
    const checked = await Promise.all(
      nodes.map(async (node) => {
        let raw: RpcHeader;
        try {
          raw = await rpc<RpcHeader>(node, "eth_getBlockByNumber", [tag, false]);
        } catch {
          return undefined;
        }
        try {
          return { node, header: checkCliqueHeader(raw, signers) };
        } catch (error) {
          const why = error instanceof HeaderError ? error.message : "it is malformed";
          blame(node.name, `its block ${at} does not check: ${why}`);
          return undefined;
        }
      }),
    );
    const byHash = new Map<string, { header: CheckedHeader; agreeing: string[] }>();
    for (const c of checked) {
      if (!c) continue;
      const group = byHash.get(c.header.hash) ?? { header: c.header, agreeing: [] };
      group.agreeing.push(c.node.name);
      byHash.set(c.header.hash, group);
    }
    const best = [...byHash.values()].sort((a, b) => b.agreeing.length - a.agreeing.length)[0];
    if (!best || best.agreeing.length < quorum)
      throw new LightClientError(
        "no-agreement",
        `The providers' network nodes do not agree on block ${at}: nothing read from the chain can be checked.`,
      );
    for (const group of byHash.values())
      if (group !== best)
        for (const name of group.agreeing)
          blame(name, `its block ${at} is not the one the other providers' nodes agree on`);
    for (const name of best.agreeing) faults.delete(name);
    return { ...best.header, agreeing: best.agreeing };
  }

  function header(): Promise<AcceptedHeader> {
    if (!current || Date.now() - current.at > maxAgeMs) {
      const next = { at: Date.now(), header: acceptHeader() };
      next.header.catch(() => {
        if (current === next) current = undefined;
      });
      current = next;
    }
    return current.header;
  }

  async function readSlots({
    address,
    slots,
    via,
  }: {
    address: Address;
    slots: readonly bigint[];
    via?: string;
  }) {
    const accepted = await header();
    const faultOfVia = via ? faults.get(via) : undefined;
    if (faultOfVia) throw new LightClientError("node-at-fault", faultOfVia.reason, via);
    const first = nodes.find((n) => n.name === via);
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
        return await verifyStorageProof(accepted.stateRoot, address, slots, proof);
      } catch (error) {
        const why = error instanceof ProofError ? error.message : "it is malformed";
        blame(node.name, `its proof for block ${accepted.number} does not check: ${why}`);
        if (node === first)
          throw new LightClientError("node-at-fault", `its proof does not check: ${why}`, node.name);
      }
    }
    throw new LightClientError("unreachable", "No provider's network node gave a proof that checks.");
  }

  return { header, readSlots, faultOf: (node) => faults.get(node), nodes };
}
