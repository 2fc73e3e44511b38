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
  hexToBytes,
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

/**
 * The audit log as an RFC 9162 Merkle tree, in memory (64 bytes per entry), following the table:
 * `sync()` appends the rows added since, and starts over if the table shrank.
 */
export function createAuditTree(repository: AuditRepository) {
  let tree = new MerkleTree();
  let lastId = 0;
  let syncing: Promise<MerkleTree> | undefined;
  const load = async () => {
    const last = await repository.lastId();
    if (last < lastId) {
      tree = new MerkleTree();
      lastId = 0;
    }
    while (lastId < last) {
      const rows = await repository.leaves(lastId, LEAF_PAGE);
      if (rows.length === 0) break;
      for (const row of rows) tree.append(hexToBytes(auditLeafHash(row)));
      lastId = Number((rows.at(-1) as { id: string }).id);
    }
    return tree;
  };
  return {
    /** The tree over every row committed so far. */
    sync(): Promise<MerkleTree> {
      syncing ??= load().finally(() => {
        syncing = undefined;
      });
      return syncing;
    },
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
  let again = false;
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

  const anchorNow = (): Promise<TreeHead | undefined> => {
    if (stopped) return Promise.resolve(undefined);
    if (running) {
      again = true;
      return running;
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
        if (again) {
          again = false;
          void anchorNow();
        }
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
