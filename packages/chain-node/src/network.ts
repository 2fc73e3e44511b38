import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BaseError } from "./errors.ts";
import { buildGenesis, DEFAULT_CHAIN_ID, DEFAULT_GAS_LIMIT, type Genesis } from "./genesis.ts";
import { defaultIpcPath, enodeUrl, type GethNode, type GethPorts, gethNode } from "./geth-node.ts";
import { cliqueGetSigners } from "./ipc.ts";
import { createSealerKey, ensureNodeKey, makePrivateDir, type ScryptStrength } from "./keys.ts";
import { freePorts } from "./ports.ts";
import { httpRpc, type RpcOptions } from "./rpc.ts";

/** Name of the state file in a network directory. */
export const STATE_FILE = "chain-node.json";

/** One sealer of a local network, as stored in the state file. No secrets: paths only. */
export type NetworkNodeState = {
  name: string;
  address: `0x${string}`;
  dataDir: string;
  keystoreDir: string;
  passwordPath: string;
  nodeKeyPath: string;
  enode: string;
  ipcPath: string;
  ports: GethPorts;
  /** Set while `medrec-chain start` has it running. */
  pid?: number;
};

/** The state file `<dir>/chain-node.json`. */
export type NetworkState = {
  version: 1;
  chainId: number;
  periodSeconds: number;
  gasLimit: string;
  genesisPath: string;
  nodes: NetworkNodeState[];
};

/** Thrown for a missing or malformed network directory, or a network that does not come up. */
export class NetworkError extends BaseError {
  override name = "NetworkError" as const;
}

/** Parameters of {@link initNetwork}. */
export type InitNetworkParameters = {
  /** Network directory (created 0700). Default: a new directory under the OS temp dir. */
  dataDir?: string;
  /** How many sealers (1…32). */
  sealers: number;
  /** Seconds between blocks. Default 5. */
  periodSeconds?: number;
  /** Default 633732. */
  chainId?: number;
  /** Block gas limit. Default 30 000 000. */
  gasLimit?: bigint;
  /** Prefunded accounts: address → wei (decimal/hex string or bigint). */
  prefund?: Readonly<Record<string, string | bigint>>;
  /** Keystore scrypt cost. Default `standard`; tests use `light`. */
  scrypt?: ScryptStrength;
};

/**
 * Creates a local network directory: one sealer account + p2p key + data dir per sealer, the
 * genesis naming them all as Clique signers, loopback ports, and the state file. Starts nothing.
 */
export async function initNetwork(
  parameters: InitNetworkParameters,
): Promise<{ dir: string; state: NetworkState }> {
  const n = parameters.sealers;
  if (!Number.isInteger(n) || n < 1 || n > 32)
    throw new NetworkError(`sealers must be an integer from 1 to 32, got ${String(n)}.`);
  const chainId = parameters.chainId ?? DEFAULT_CHAIN_ID;
  const periodSeconds = parameters.periodSeconds ?? 5;
  const gasLimit = parameters.gasLimit ?? DEFAULT_GAS_LIMIT;

  // Validate chain parameters before any key or file is created (placeholder sealers).
  buildGenesis({
    chainId,
    periodSeconds,
    gasLimit,
    sealers: Array.from({ length: n }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}`),
    ...(parameters.prefund ? { alloc: parameters.prefund } : {}),
  });
  const dir = parameters.dataDir ?? (await mkdtemp(join(tmpdir(), "medrec-chain-")));
  await makePrivateDir(dir);
  if (await readState(dir).catch(() => undefined))
    throw new NetworkError(`${dir} already holds a network (${STATE_FILE}).`);
  const ports = await freePorts(4 * n);
  const nodes: NetworkNodeState[] = [];
  for (let i = 0; i < n; i++) {
    const name = `sealer-${i}`;
    const dataDir = join(dir, "nodes", name);
    const key = await createSealerKey({ dir: dataDir, scrypt: parameters.scrypt ?? "standard" });
    const nodeKeyPath = join(dataDir, "nodekey");
    const { nodeId } = await ensureNodeKey(nodeKeyPath);
    const [p2p, http, ws, authrpc] = ports.slice(4 * i, 4 * i + 4) as [number, number, number, number];
    nodes.push({
      name,
      address: key.address,
      dataDir,
      keystoreDir: key.keystoreDir,
      passwordPath: key.passwordPath,
      nodeKeyPath,
      enode: enodeUrl(nodeId, "127.0.0.1", p2p),
      ipcPath: defaultIpcPath(dataDir),
      ports: { p2p, http, ws, authrpc },
    });
  }
  // Validates everything (throws GenesisParametersError) before anything else is written.
  const genesis = buildGenesis({
    chainId,
    periodSeconds,
    gasLimit,
    sealers: nodes.map((x) => x.address),
    ...(parameters.prefund ? { alloc: parameters.prefund } : {}),
  });
  const genesisPath = join(dir, "genesis.json");
  await writeFile(genesisPath, `${JSON.stringify(genesis, null, 2)}\n`);
  const state: NetworkState = {
    version: 1,
    chainId,
    periodSeconds,
    gasLimit: gasLimit.toString(),
    genesisPath,
    nodes,
  };
  await writeState(dir, state);
  return { dir, state };
}

/** Reads `<dir>/chain-node.json`. @throws {NetworkError} */
export async function readState(dir: string): Promise<NetworkState> {
  let text: string;
  try {
    text = await readFile(join(dir, STATE_FILE), "utf8");
  } catch (cause) {
    throw new NetworkError(
      `No network in ${dir}: ${STATE_FILE} is missing. Run \`medrec-chain init\` first.`,
      { cause },
    );
  }
  try {
    const state = JSON.parse(text) as NetworkState;
    if (state.version !== 1 || !Array.isArray(state.nodes)) throw new Error("unknown version or no nodes");
    return state;
  } catch (cause) {
    throw new NetworkError(`${join(dir, STATE_FILE)} is not a valid network state file.`, { cause });
  }
}

/** Writes the state file atomically. */
export async function writeState(dir: string, state: NetworkState): Promise<void> {
  const tmp = join(dir, `${STATE_FILE}.tmp`);
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, join(dir, STATE_FILE));
}

/**
 * Before a local network's very first start (no node initialised yet), moves the genesis timestamp
 * to `leadSeconds` from now. Otherwise every sealer finds block 1 overdue (genesis time 0), seals
 * its own block 1 before it has peers, and the network spends seconds reorganising those forks.
 * Once any node has run `geth init`, the genesis is fixed and this does nothing.
 * @returns whether the genesis was rewritten.
 */
export async function stampGenesisForFirstStart(state: NetworkState, leadSeconds = 2): Promise<boolean> {
  if (state.nodes.some((n) => existsSync(join(n.dataDir, "geth", "chaindata")))) return false;
  const genesis = JSON.parse(await readFile(state.genesisPath, "utf8")) as Genesis;
  genesis.timestamp = `0x${(Math.floor(Date.now() / 1000) + leadSeconds).toString(16)}`;
  await writeFile(state.genesisPath, `${JSON.stringify(genesis, null, 2)}\n`);
  return true;
}

/** A {@link gethNode} for a stored sealer, statically peered with every other sealer (full mesh). */
export function nodeFor(
  state: NetworkState,
  node: NetworkNodeState,
  options: { binary?: string; background?: boolean; extraArgs?: readonly string[] } = {},
): GethNode {
  return gethNode({
    dataDir: node.dataDir,
    genesisPath: state.genesisPath,
    chainId: state.chainId,
    nodeKeyPath: node.nodeKeyPath,
    sealer: { address: node.address, keystoreDir: node.keystoreDir, passwordPath: node.passwordPath },
    ports: node.ports,
    ipcPath: node.ipcPath,
    staticNodes: state.nodes.filter((o) => o.name !== node.name).map((o) => o.enode),
    gasLimit: BigInt(state.gasLimit),
    ...(options.binary ? { binary: options.binary } : {}),
    ...(options.background ? { background: true } : {}),
    ...(options.extraArgs ? { extraArgs: options.extraArgs } : {}),
  });
}

/** A running local network. */
export type Network = {
  dir: string;
  state: NetworkState;
  /** One node per sealer, in `state.nodes` order. */
  nodes: GethNode[];
};

/** Parameters of {@link startNetwork}. */
export type StartNetworkParameters = InitNetworkParameters & {
  /** geth binary (default `findGeth()`). */
  binary?: string;
  /** Extra geth flags for every sealer (see `GethNodeParameters.extraArgs`). */
  extraArgs?: readonly string[];
  /** How long to wait for all peers and advancing blocks. Default 90 s. */
  readyTimeoutMs?: number;
};

/**
 * Creates a network (see {@link initNetwork}), starts every sealer, and resolves once each node
 * has all the others as peers and blocks advance on all of them. On failure it stops what started.
 */
export async function startNetwork(parameters: StartNetworkParameters): Promise<Network> {
  const { dir, state } = await initNetwork(parameters);
  const nodes = state.nodes.map((n) =>
    nodeFor(state, n, {
      ...(parameters.binary ? { binary: parameters.binary } : {}),
      ...(parameters.extraArgs ? { extraArgs: parameters.extraArgs } : {}),
    }),
  );
  const network = { dir, state, nodes };
  try {
    await stampGenesisForFirstStart(state);
    await Promise.all(nodes.map((n) => n.start()));
    await waitForNetwork(network, { timeoutMs: parameters.readyTimeoutMs ?? 90_000 });
    return network;
  } catch (error) {
    await stopNetwork(network, { removeDir: parameters.dataDir === undefined });
    throw error;
  }
}

/**
 * Resolves when every running node has `peers` peers (default: all the others) and has seen at
 * least `blocks` (default 2) new blocks. @throws {NetworkError} on timeout, with each node's status.
 */
export async function waitForNetwork(
  network: Network,
  { timeoutMs = 90_000, peers, blocks = 2 }: { timeoutMs?: number; peers?: number; blocks?: number } = {},
): Promise<void> {
  const live = network.nodes.filter((n) => n.status === "started");
  const wantPeers = peers ?? live.length - 1;
  const start = await Promise.all(live.map((n) => blockNumber(n.rpcUrl)));
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const now = await Promise.all(
      live.map(async (n, i) => {
        const [height, peerCount] = await Promise.all([blockNumber(n.rpcUrl), peerCountOf(n.rpcUrl)]);
        return {
          ok: peerCount >= wantPeers && height >= (start[i] ?? 0n) + BigInt(blocks),
          text: `${n.rpcUrl}: block ${height}, ${peerCount} peers`,
        };
      }),
    ).catch((e: unknown) => [{ ok: false, text: String((e as Error).message) }]);
    last = now.map((x) => x.text).join("; ");
    if (now.every((x) => x.ok)) return;
    if (Date.now() > deadline) {
      throw new NetworkError(
        `The network did not come up within ${timeoutMs} ms (want ${wantPeers} peers each and ${blocks} new blocks).`,
        {
          details: last,
        },
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Stops every node of a network (in parallel); optionally deletes its directory. */
export async function stopNetwork(
  network: Network,
  { removeDir = false }: { removeDir?: boolean } = {},
): Promise<void> {
  await Promise.allSettled(network.nodes.map((n) => n.stop()));
  if (removeDir) await rm(network.dir, { recursive: true, force: true });
}

/** A node's health as {@link nodeStatus} reports it. */
export type NodeStatus = {
  blockNumber: bigint;
  peerCount: number;
  /** Authorised Clique signers at the head, ascending. */
  signers: `0x${string}`[];
  /** This node's sealer account, if known. */
  sealer?: `0x${string}`;
  /** Whether this node's sealer is in turn for the next block (`signers[(head+1) % n]`). */
  inTurn?: boolean;
};

/**
 * Block height, peers, signers and turn of one node: eth/net over HTTP, `clique_getSigners` over IPC.
 * Never hangs: each call has `timeoutMs` (default 5 s).
 */
export async function nodeStatus(
  node: { rpcUrl: string; ipcPath: string },
  { sealer, ...options }: RpcOptions & { sealer?: `0x${string}` } = {},
): Promise<NodeStatus> {
  const [height, peerCount, signers] = await Promise.all([
    blockNumber(node.rpcUrl, options),
    peerCountOf(node.rpcUrl, options),
    cliqueGetSigners(node.ipcPath, "latest", options),
  ]);
  const result: NodeStatus = { blockNumber: height, peerCount, signers };
  if (sealer) {
    result.sealer = sealer;
    result.inTurn = inTurnSigner(signers, height + 1n)?.toLowerCase() === sealer.toLowerCase();
  }
  return result;
}

/**
 * Clique's in-turn signer for block `number`: the signers sorted ascending, index `number % n`.
 * (An in-turn block has difficulty 2; others wait a random delay and seal with difficulty 1.)
 */
export function inTurnSigner(signers: readonly string[], number: bigint): string | undefined {
  if (signers.length === 0) return undefined;
  const sorted = [...signers].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  return sorted[Number(number % BigInt(sorted.length))];
}

/** `eth_blockNumber` as a bigint. */
export async function blockNumber(rpcUrl: string, options?: RpcOptions): Promise<bigint> {
  return BigInt(await httpRpc<string>(rpcUrl, "eth_blockNumber", [], options));
}

async function peerCountOf(rpcUrl: string, options?: RpcOptions): Promise<number> {
  return Number(await httpRpc<string>(rpcUrl, "net_peerCount", [], options));
}
