/**
 * The patient's side of the audit transparency log: read a gatekeeper's anchored tree heads from
 * the AuditAnchor contract's `TreeHeadAnchored` events, and check the audit entries it served —
 * each entry's hash, the relationship's chain, each inclusion proof against an anchored head, and
 * the consistency of successive anchored heads — naming every problem found. Browser-safe.
 */
import {
  type Account,
  type Address,
  type Client,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  type Hex,
  http,
  webSocket,
  zeroAddress,
} from "viem";
import { getContractEvents } from "viem/actions";
import type { AuditEntry } from "./api.ts";
import { AUDIT_GENESIS_HASH, auditEntryHash } from "./audit.ts";
import { auditAnchorAbi, auditAnchorBytecode } from "./generated/abis.ts";
import { auditLeafHash, type TreeHead, verifyConsistency, verifyInclusion } from "./transparency-log.ts";

export { auditAnchorAbi, auditAnchorBytecode } from "./generated/abis.ts";

/** A tree head as anchored on chain. */
export type AnchoredHead = TreeHead & { blockNumber: bigint };

/** The heads `log` anchored in `anchor`, oldest first (`TreeHeadAnchored` events). */
export async function readAnchoredHeads({
  client,
  anchor,
  log,
  fromBlock = 0n,
}: {
  client: Client;
  anchor: Address;
  log: Address;
  fromBlock?: bigint;
}): Promise<AnchoredHead[]> {
  const events = await getContractEvents(client, {
    address: anchor,
    abi: auditAnchorAbi,
    eventName: "TreeHeadAnchored",
    args: { log },
    fromBlock,
    toBlock: "latest",
    strict: true,
  });
  return events.map((e) => ({
    size: Number(e.args.size),
    root: e.args.root.toLowerCase() as Hex,
    blockNumber: e.blockNumber,
  }));
}

/** What is wrong, by kind; `index` is the entry's position in the served list. */
export type AuditProblem = {
  kind:
    | "edited"
    | "removed"
    | "reordered"
    | "shortened"
    | "not-in-anchored-tree"
    | "rewritten"
    | "unanchored";
  index?: number;
  message: string;
};

export type AuditEntriesVerification = {
  ok: boolean;
  problems: AuditProblem[];
  /** Entries proven in an anchored head. */
  anchored: number;
  /** Entries newer than the latest anchored head (chain-checked only). */
  pending: number;
  /** The latest anchored head the check used (size 0 when none). */
  latest: TreeHead;
};

export type VerifyAuditEntriesParameters = {
  relationship: string;
  /** Every entry served for the relationship, in order (all pages). */
  entries: readonly AuditEntry[];
  /** The log's anchored heads, oldest first ({@link readAnchoredHeads}). */
  heads: readonly TreeHead[];
  /** Fetches RFC 9162 PROOF(from, to) from the gatekeeper (`GET /v1/audit/consistency`). */
  consistencyProof?: (from: number, to: number) => Promise<readonly string[]>;
};

const describeEntry = (index: number, entry: AuditEntry) =>
  `entry ${index} (${entry.action} by ${entry.actor} at ${entry.at})`;

/**
 * Checks a relationship's served audit entries against the heads anchored on chain. Finds an
 * edited entry (its hash does not match its content, or its leaf is not in the anchored tree),
 * removed entries (a broken chain, or an anchored log that has since shrunk), reordered entries
 * (an entry chained onto a later one, or leaf positions out of order), and a log rewritten between
 * two anchored heads (no consistency proof).
 *
 * @example
 * const heads = await readAnchoredHeads({ client, anchor, log })
 * const result = await verifyAuditEntries({ relationship, entries, heads, consistencyProof })
 */
export async function verifyAuditEntries({
  relationship,
  entries,
  heads,
  consistencyProof,
}: VerifyAuditEntriesParameters): Promise<AuditEntriesVerification> {
  const problems: AuditProblem[] = [];
  const latest: TreeHead = heads.at(-1) ?? { size: 0, root: AUDIT_GENESIS_HASH };
  const bySize = new Map(heads.map((h) => [h.size, h.root.toLowerCase()]));
  const position = new Map(entries.map((e, i) => [e.hash.toLowerCase(), i]));

  // 1. Each entry's hash, and the relationship's chain.
  let previous: string = AUDIT_GENESIS_HASH;
  for (const [index, entry] of entries.entries()) {
    if (auditEntryHash(entry) !== entry.hash.toLowerCase())
      problems.push({
        kind: "edited",
        index,
        message: `${describeEntry(index, entry)} was edited: its hash does not match its content`,
      });
    const prev = entry.prevHash.toLowerCase();
    if (prev !== previous) {
      const chainedOnto = position.get(prev);
      problems.push(
        chainedOnto !== undefined && chainedOnto > index
          ? {
              kind: "reordered",
              index,
              message: `${describeEntry(index, entry)} was reordered: it follows entry ${chainedOnto}, which is served after it`,
            }
          : {
              kind: "removed",
              index,
              message: `${describeEntry(index, entry)} does not follow the entry served before it: an entry between them was removed or edited`,
            },
      );
    }
    previous = entry.hash.toLowerCase();
  }

  // 2. Leaf positions and inclusion in an anchored head.
  let anchored = 0;
  let pending = 0;
  let lastIndex = -1;
  for (const [index, entry] of entries.entries()) {
    const leafIndex = entry.leafIndex;
    if (leafIndex === undefined) {
      problems.push({
        kind: "unanchored",
        index,
        message: `${describeEntry(index, entry)} has no log position`,
      });
      continue;
    }
    if (leafIndex <= lastIndex)
      problems.push({
        kind: "reordered",
        index,
        message: `${describeEntry(index, entry)} was reordered: its log position ${leafIndex} is not after the previous entry's ${lastIndex}`,
      });
    lastIndex = Math.max(lastIndex, leafIndex);
    if (!entry.inclusion) {
      if (leafIndex < latest.size)
        problems.push({
          kind: "not-in-anchored-tree",
          index,
          message: `${describeEntry(index, entry)} sits at log position ${leafIndex}, inside the anchored head of ${latest.size} entries, but comes without a proof`,
        });
      else pending += 1;
      continue;
    }
    const { treeSize, path } = entry.inclusion;
    const root = bySize.get(treeSize);
    if (root === undefined) {
      problems.push(
        treeSize < latest.size
          ? {
              kind: "shortened",
              index,
              message: `the log was shortened: the gatekeeper proves entries against a tree of ${treeSize} entries, but it anchored ${latest.size} on chain (the newest entries were removed)`,
            }
          : {
              kind: "unanchored",
              index,
              message: `${describeEntry(index, entry)} is proven against a tree of ${treeSize} entries that was never anchored`,
            },
      );
      continue;
    }
    if (
      !verifyInclusion(auditLeafHash({ relationship, hash: entry.hash }), leafIndex, treeSize, path, root)
    ) {
      problems.push({
        kind: "not-in-anchored-tree",
        index,
        message: `${describeEntry(index, entry)} is not in the anchored tree of ${treeSize} entries: it was edited, moved or inserted after anchoring`,
      });
      continue;
    }
    anchored += 1;
  }

  // 3. Successive anchored heads: each a prefix of the next.
  if (consistencyProof)
    for (let i = 1; i < heads.length; i++) {
      const from = heads[i - 1] as TreeHead;
      const to = heads[i] as TreeHead;
      let proof: readonly string[] = [];
      try {
        proof = await consistencyProof(from.size, to.size);
      } catch {
        proof = [];
      }
      if (!verifyConsistency(from.size, to.size, from.root, to.root, proof))
        problems.push({
          kind: "rewritten",
          message: `the log was rewritten between its anchored heads of ${from.size} and ${to.size} entries (no valid consistency proof)`,
        });
    }

  // Proofs against an older head than the latest: one consistency check more would tie them;
  // the check of successive heads above already does.
  const dedup = problems.filter(
    (p, i) => problems.findIndex((q) => q.kind === p.kind && q.message === p.message) === i,
  );
  return { ok: dedup.length === 0, problems: dedup, anchored, pending, latest };
}

/** A viem chain for a MedRec network and a transport to its node (http(s) or ws(s)), no retries. */
export function medrecChain({
  chainId,
  rpcUrl,
  timeoutMs,
}: {
  chainId: number;
  rpcUrl: string;
  timeoutMs?: number;
}) {
  const chain = defineChain({
    id: chainId,
    name: "medrec",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const options = { retryCount: 0, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) };
  const transport = /^wss?:/.test(rpcUrl) ? webSocket(rpcUrl, options) : http(rpcUrl, options);
  return { chain, transport };
}

/**
 * Deploys AuditAnchor bound to `registry` (the AgentRegistry whose signers are the providers) and
 * trusting `forwarder` (the MedRecForwarder: relayed requests act for their signer) from
 * `deployer`, over the JSON-RPC at `rpcUrl`, and waits for the receipt.
 *
 * @example
 * const { address } = await deployAuditAnchor({
 *   rpcUrl, deployer, registry: contracts.AgentRegistry, forwarder: contracts.Forwarder,
 * })
 */
export async function deployAuditAnchor({
  rpcUrl,
  deployer,
  registry,
  forwarder = zeroAddress,
  receiptTimeoutMs = 60_000,
}: {
  rpcUrl: string;
  deployer: Account;
  registry: Address;
  /**
   * The trusted forwarder (`deployRegistry`'s `Forwarder`). Omitted: none (the zero address, which
   * never sends a transaction) — direct calls only.
   */
  forwarder?: Address;
  receiptTimeoutMs?: number;
}): Promise<{ address: Address; blockNumber: bigint }> {
  const chainId = await createPublicClient({ transport: http(rpcUrl, { retryCount: 0 }) }).getChainId();
  const { chain, transport } = medrecChain({ chainId, rpcUrl });
  const client = createPublicClient({ chain, transport });
  const wallet = createWalletClient({ account: deployer, chain, transport });
  const hash = await wallet.deployContract({
    abi: auditAnchorAbi,
    bytecode: auditAnchorBytecode,
    args: [getAddress(registry), getAddress(forwarder)],
  });
  const receipt = await client.waitForTransactionReceipt({
    hash,
    timeout: receiptTimeoutMs,
    pollingInterval: 250,
  });
  if (receipt.status !== "success" || !receipt.contractAddress)
    throw new Error(`AuditAnchor deployment ${hash} reverted`);
  return { address: getAddress(receipt.contractAddress), blockNumber: receipt.blockNumber };
}
