import { createHash } from "node:crypto";
import {
  auditAnchorAbi,
  auditLeafHash,
  BaseError,
  MerkleTree,
  medrecChain,
  proofToHex,
  type TreeHead,
} from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import {
  type Address,
  bytesToHex,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hex,
  type PublicClient,
  type Transport,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { HealthCheck } from "../ops/health.ts";
import { type AuditRepository, auditAnchorsRepository } from "./audit.repository.knex.ts";

const LEAF_PAGE = 10_000;

/** Thrown when an anchoring transaction reverts. */
export class AuditAnchorError extends BaseError {
  override name = "AuditAnchorError";
}

const LEAF_PREFIX = Buffer.from([0]);
/**
 * An entry's leaf hash, as the protocol's `auditLeafHash` (SHA-256(0x00 ‖ JCS({hash, relationship})))
 * with node:crypto: a million of them are hashed when a gatekeeper starts on a large log. The JCS
 * of two lowercase hex strings is the JSON below (keys in code-unit order).
 */
function leafOf(row: { relationship: string; hash: string }): Uint8Array {
  const json = `{"hash":"${row.hash.toLowerCase()}","relationship":"${row.relationship.toLowerCase()}"}`;
  return createHash("sha256").update(LEAF_PREFIX).update(json, "utf8").digest();
}
/** Whether {@link leafOf} is the protocol's leaf hash (checked once per process, on the first row). */
let leafChecked = false;
function checkLeaf(row: { relationship: string; hash: string }): void {
  if (leafChecked) return;
  if (bytesToHex(leafOf(row)) !== auditLeafHash(row))
    throw new BaseError("audit tree: the leaf hash differs from the protocol's auditLeafHash");
  leafChecked = true;
}

/**
 * The audit log as an RFC 9162 Merkle tree, in memory (64 bytes per entry), following the table:
 * `sync()` appends the rows added since, and starts over if the table shrank.
 */
export function createAuditTree(repository: AuditRepository) {
  let tree = new MerkleTree();
  let lastId = 0;
  let syncing: Promise<MerkleTree> | undefined;
  let next: Promise<MerkleTree> | undefined;
  const sync = (): Promise<MerkleTree> => {
    if (!syncing) {
      syncing = load().finally(() => {
        syncing = undefined;
      });
      return syncing;
    }
    next ??= syncing
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return sync();
      });
    return next;
  };
  const load = async () => {
    const last = await repository.lastId();
    if (last < lastId) {
      tree = new MerkleTree();
      lastId = 0;
    }
    while (lastId < last) {
      const rows = await repository.leaves(lastId, LEAF_PAGE);
      if (rows.length === 0) break;
      checkLeaf(rows[0] as { relationship: string; hash: string });
      for (const row of rows) tree.append(leafOf(row));
      lastId = Number((rows.at(-1) as { id: string }).id);
    }
    return tree;
  };
  return {
    /**
     * The tree over every row committed so far. A load already in flight may have read the table
     * before the caller's rows were committed: the caller then gets the next load, which starts
     * once that one is done (callers meanwhile share it).
     */
    sync,
  };
}
export type AuditTree = ReturnType<typeof createAuditTree>;

/** Where and as whom the tree heads are anchored. */
export type AnchorSettings = {
  rpcUrl: string;
  chainId: number;
  /** The AuditAnchor contract. */
  address: Address;
  /** The log account's key: anchoring only (never a delegate or the relayer). */
  privateKey: Hex;
  receiptTimeoutMs?: number;
};

/**
 * Anchors the tree's head on chain — every `intervalMs` while there are new entries, and on
 * `kick()` (e.g. with every record-root publication) — and records each anchored head in
 * `audit_anchors`. Without settings it anchors nothing, and its health check says so.
 */
export function createAuditAnchorer({
  db,
  tree,
  settings,
  intervalMs = 60_000,
  logger,
}: {
  db: Knex;
  tree: AuditTree;
  settings?: AnchorSettings | undefined;
  intervalMs?: number;
  logger?: Logger | undefined;
}) {
  const account = settings ? privateKeyToAccount(settings.privateKey) : undefined;
  let chainClients:
    | { publicClient: PublicClient<Transport, Chain>; wallet: ReturnType<typeof createWalletClient> }
    | undefined;
  if (settings && account) {
    const { chain, transport } = medrecChain({ chainId: settings.chainId, rpcUrl: settings.rpcUrl });
    chainClients = {
      publicClient: createPublicClient({ chain, transport }) as unknown as PublicClient<Transport, Chain>,
      wallet: createWalletClient({ account, chain, transport }),
    };
  }
  const anchors = auditAnchorsRepository(db);
  let lastError: string | undefined;
  let reconciled = false;
  let running: Promise<TreeHead | undefined> | undefined;
  let rerun: Promise<TreeHead | undefined> | undefined;
  let stopped = false;

  const latest = async (): Promise<TreeHead & { blockNumber: bigint }> => {
    return (await anchors.latest()) ?? { size: 0, root: `0x${"00".repeat(32)}`, blockNumber: 0n };
  };

  /** Records heads anchored on chain but not in the table (a crash between the two). */
  const reconcile = async () => {
    if (!chainClients || !settings || !account) return;
    const from = await latest();
    const events = await chainClients.publicClient.getContractEvents({
      address: settings.address,
      abi: auditAnchorAbi,
      eventName: "TreeHeadAnchored",
      args: { log: account.address },
      fromBlock: from.blockNumber,
      toBlock: "latest",
      strict: true,
    });
    for (const e of events)
      if (Number(e.args.size) > from.size)
        await anchors.insert({
          size: Number(e.args.size),
          root: e.args.root,
          anchor: settings.address,
          log: account.address,
          txHash: e.transactionHash,
          blockNumber: e.blockNumber,
        });
    reconciled = true;
  };

  const anchorOnce = async (): Promise<TreeHead | undefined> => {
    if (!chainClients || !settings || !account) return undefined;
    if (!reconciled) await reconcile();
    const current = await tree.sync();
    const head = await latest();
    if (current.size <= head.size) return undefined;
    // AuditAnchor.MAX_ANCHOR_GROWTH (adr/0016): a log further ahead is anchored in steps.
    const size = Math.min(current.size, head.size + 1_000_000);
    const root = bytesToHex(current.root(size));
    const hash = await chainClients.wallet.writeContract({
      address: settings.address,
      abi: auditAnchorAbi,
      functionName: "anchor",
      args: [BigInt(size), root],
      account,
      chain: chainClients.wallet.chain,
    });
    const receipt = await chainClients.publicClient.waitForTransactionReceipt({
      hash,
      timeout: settings.receiptTimeoutMs ?? 60_000,
      pollingInterval: 250,
    });
    if (receipt.status !== "success") {
      reconciled = false;
      throw new AuditAnchorError(`anchor transaction ${hash} reverted`);
    }
    await anchors.insert({
      size,
      root,
      anchor: settings.address,
      log: account.address,
      txHash: hash,
      blockNumber: receipt.blockNumber,
    });
    logger?.info({ size, block: receipt.blockNumber.toString() }, "audit tree head anchored");
    return { size, root };
  };

  /**
   * Anchors the entries committed so far. An attempt already in flight may have read the tree
   * before the caller's entries: the caller then gets the next attempt, made once that one is done
   * (callers meanwhile share it), or — when that finds nothing new — the head the first anchored.
   */
  const anchorNow = (): Promise<TreeHead | undefined> => {
    if (stopped) return Promise.resolve(undefined);
    if (running) {
      rerun ??= running.then((prior) => {
        rerun = undefined;
        return anchorNow().then((head) => head ?? prior);
      });
      return rerun;
    }
    running = anchorOnce()
      .then(
        (head) => {
          lastError = undefined;
          return head;
        },
        (error: unknown) => {
          lastError = error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : "failed";
          logger?.warn({ err: { name: (error as Error)?.name } }, "audit anchoring failed; retrying later");
          return undefined;
        },
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  const timer = settings ? setInterval(() => void anchorNow(), intervalMs) : undefined;
  timer?.unref();

  const health: HealthCheck = {
    name: "audit-anchor",
    check: async () => {
      if (!settings || !account)
        return "not anchoring: AUDIT_ANCHOR_ADDRESS or AUDIT_ANCHOR_PRIVATE_KEY unset";
      const head = await latest();
      return `anchoring to ${settings.address} as ${account.address}; anchored ${head.size} entries${lastError ? `; last attempt failed: ${lastError}` : ""}`;
    },
  };

  return {
    /** The AuditAnchor contract and log account, or nulls without settings. */
    info: { anchor: settings?.address ?? null, log: account?.address ?? null },
    latest,
    anchorNow,
    /** Anchors soon (without waiting). */
    kick() {
      void anchorNow();
    },
    health,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
export type AuditAnchorer = ReturnType<typeof createAuditAnchorer>;

/** A served inclusion proof: up to the latest anchored head (or what is left of the tree). */
export function inclusionOf(tree: MerkleTree, anchoredSize: number, leafIndex: number) {
  const treeSize = Math.min(anchoredSize, tree.size);
  if (leafIndex < 0 || leafIndex >= treeSize) return undefined;
  return { treeSize, path: proofToHex(tree.inclusionProof(leafIndex, treeSize)) };
}
