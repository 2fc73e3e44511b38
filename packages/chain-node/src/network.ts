import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "@medrec/protocol/node";
import { BaseError } from "./errors.ts";
import { buildGenesis, DEFAULT_CHAIN_ID, DEFAULT_GAS_LIMIT, type Genesis } from "./genesis.ts";
import {
  defaultIpcPath,
  enodeUrl,
  type GethNode,
  type GethNodeParameters,
  type GethNodeStatus,
  type GethPorts,
  gethNode,
} from "./geth-node.ts";
import { adminPeers, anyRpc, cliqueGetSigners, ipcRpc } from "./ipc.ts";
import { createSealerKey, ensureNodeKey, makePrivateDir, type ScryptStrength } from "./keys.ts";
import { removeDirAtExit } from "./reaper.ts";
import type { RpcOptions } from "./rpc.ts";

/** Name of the state file in a network directory. */
export const STATE_FILE = "chain-node.json";

/**
 * A provider's non-signing RPC node, as stored in the state file: its own data directory (no
 * keystore), p2p key and ports; statically peered with the sealers; `eth,net,web3` over HTTP/WS.
 */
export type RpcNodeState = {
  dataDir: string;
  nodeKeyPath: string;
  enode: string;
  ipcPath: string;
  ports: Required<GethPorts>;
  /** Set while `medrec-chain start` has it running. */
  pid?: number;
};

/**
 * One provider of a local network, as stored in the state file: its sealer (IPC only; the fields
 * at the top level, as before) and its RPC node (`rpc`). No secrets: paths only.
 */
export type NetworkNodeState = {
  name: string;
  address: `0x${string}`;
  dataDir: string;
  keystoreDir: string;
  passwordPath: string;
  nodeKeyPath: string;
  enode: string;
  ipcPath: string;
  /** The sealer's ports: p2p and the loopback engine port. It has no HTTP or WS. */
  ports: GethPorts;
  /** Set while `medrec-chain start` has the sealer running. */
  pid?: number;
  rpc: RpcNodeState;
};

/** The state file `<dir>/chain-node.json`. Version 2: each provider = sealer + RPC node. */
export type NetworkState = {
  version: 2;
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
 * When it fails part-way, a directory it created (the temp dir, or a `dataDir` that did not exist)
 * is removed again; one that existed before is left as it is.
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
  const created = parameters.dataDir === undefined || !existsSync(parameters.dataDir);
  const dir = parameters.dataDir ?? (await mkdtemp(join(tmpdir(), "medrec-chain-")));
  // Until it is complete, the directory goes if this process ends (see reaper.ts).
  const forget = created ? removeDirAtExit(dir) : undefined;
  try {
    return await writeNetwork(dir, parameters, { n, chainId, periodSeconds, gasLimit });
  } catch (error) {
    if (created) await rm(dir, { recursive: true, force: true });
    throw error;
  } finally {
    forget?.();
  }
}

async function writeNetwork(
  dir: string,
  parameters: InitNetworkParameters,
  {
    n,
    chainId,
    periodSeconds,
    gasLimit,
  }: { n: number; chainId: number; periodSeconds: number; gasLimit: bigint },
): Promise<{ dir: string; state: NetworkState }> {
  await makePrivateDir(dir);
  if (await readState(dir).catch(() => undefined))
    throw new NetworkError(`${dir} already holds a network (${STATE_FILE}).`);
  const ports = await freePorts(6 * n);
  const nodes: NetworkNodeState[] = [];
  for (let i = 0; i < n; i++) {
    const name = `sealer-${i}`;
    const dataDir = join(dir, "nodes", name);
    const key = await createSealerKey({ dir: dataDir, scrypt: parameters.scrypt ?? "standard" });
    const nodeKeyPath = join(dataDir, "nodekey");
    const { nodeId } = await ensureNodeKey(nodeKeyPath);
    const [p2p, authrpc, rpcP2p, http, ws, rpcAuthrpc] = ports.slice(6 * i, 6 * i + 6) as number[];
    // The RPC node: its own directory beside the sealer's, no keystore in it.
    const rpcDir = join(dir, "nodes", `rpc-${i}`);
    const rpcNodeKeyPath = join(rpcDir, "nodekey");
    await makePrivateDir(rpcDir);
    const rpcNode = await ensureNodeKey(rpcNodeKeyPath);
    nodes.push({
      name,
      address: key.address,
      dataDir,
      keystoreDir: key.keystoreDir,
      passwordPath: key.passwordPath,
      nodeKeyPath,
      enode: enodeUrl(nodeId, "127.0.0.1", p2p as number),
      ipcPath: defaultIpcPath(dataDir),
      ports: { p2p: p2p as number, authrpc: authrpc as number },
      rpc: {
        dataDir: rpcDir,
        nodeKeyPath: rpcNodeKeyPath,
        enode: enodeUrl(rpcNode.nodeId, "127.0.0.1", rpcP2p as number),
        ipcPath: defaultIpcPath(rpcDir),
        ports: {
          p2p: rpcP2p as number,
          http: http as number,
          ws: ws as number,
          authrpc: rpcAuthrpc as number,
        },
      },
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
    version: 2,
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
  const invalid = (parameters: { cause?: unknown; details?: string }) =>
    new NetworkError(`${join(dir, STATE_FILE)} is not a valid network state file.`, parameters);
  let state: NetworkState;
  try {
    state = JSON.parse(text) as NetworkState;
  } catch (cause) {
    throw invalid({ cause });
  }
  if ((state?.version as number) === 1)
    throw invalid({
      details:
        "version 1 (sealers serving HTTP with an unlocked key) is no longer supported: create the network again with `init`",
    });
  if (state?.version !== 2 || !Array.isArray(state.nodes))
    throw invalid({ details: "unknown version or no nodes" });
  return state;
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
  const dirs = state.nodes.flatMap((n) => [n.dataDir, n.rpc.dataDir]);
  if (dirs.some((d) => existsSync(join(d, "geth", "chaindata")))) return false;
  const genesis = JSON.parse(await readFile(state.genesisPath, "utf8")) as Genesis;
  genesis.timestamp = `0x${(Math.floor(Date.now() / 1000) + leadSeconds).toString(16)}`;
  await writeFile(state.genesisPath, `${JSON.stringify(genesis, null, 2)}\n`);
  return true;
}

/** Options of {@link nodeFor}. */
export type NodeForOptions = {
  binary?: string;
  background?: boolean;
  /** Extra geth flags for both the sealer and the RPC node (see `GethNodeParameters.extraArgs`). */
  extraArgs?: readonly string[];
  /** Extra geth flags for the RPC node only, after `extraArgs` (experiments: bench:chain's `--rpc-arg`). */
  rpcExtraArgs?: readonly string[];
  /** How long each geth may take to start. */
  startTimeoutMs?: number;
  /** Browser origins (a dapp's) the RPC node accepts over HTTP (CORS) and WebSocket; the sealer serves neither. */
  corsOrigins?: readonly string[];
};

/**
 * A provider of a running network: a sealer that exposes nothing but its IPC socket, and a
 * non-signing RPC node for everyone else. `rpcUrl`/`wsUrl` are the RPC node's; `ipcPath` is the
 * sealer's (clique_* and admin_* live there). `start()`/`stop()` act on both.
 */
export type ProviderNode = {
  readonly name: string;
  /** The sealer's account. */
  readonly address: `0x${string}`;
  /** The sealer: `--mine --unlock`, IPC only. */
  readonly sealer: GethNode;
  /** The RPC node: no key; eth,net,web3 over HTTP and WS on 127.0.0.1. */
  readonly rpc: GethNode;
  /** The RPC node's `http://127.0.0.1:<port>`. */
  readonly rpcUrl: string;
  /** The RPC node's `ws://127.0.0.1:<port>`. */
  readonly wsUrl: string;
  /** The sealer's IPC socket. */
  readonly ipcPath: string;
  /** "started" once both are; otherwise the sealer's status. */
  readonly status: GethNodeStatus;
  /** Starts the sealer and the RPC node and waits until the RPC node is peered with the sealer and has its head. */
  start(): Promise<void>;
  /** Stops both (see `GethNode.stop`). */
  stop(timeoutMs?: number): Promise<void>;
};

/**
 * The public key in an `enode://<key>@host:port` URL — what `admin_peers[].enode` carries too
 * (`admin_peers[].id` is its keccak hash instead).
 */
export function nodeIdOf(enode: string): string {
  return enode.slice("enode://".length).split("@")[0] ?? "";
}

/**
 * The {@link gethNode} parameters of a stored provider's sealer and RPC node — pure. Sealers are
 * statically peered with every other sealer; each RPC node with every sealer (its own first), so
 * it syncs and relays transactions even while its own sealer is down. (`toArgs()` of these is what
 * the compose file is checked against.)
 */
export function providerParameters(
  state: NetworkState,
  node: NetworkNodeState,
  options: NodeForOptions = {},
): { sealer: GethNodeParameters; rpc: GethNodeParameters } {
  const common = {
    genesisPath: state.genesisPath,
    chainId: state.chainId,
    ...(options.binary ? { binary: options.binary } : {}),
    ...(options.background ? { background: true } : {}),
    ...(options.extraArgs ? { extraArgs: options.extraArgs } : {}),
    ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
  };
  const sealer: GethNodeParameters = {
    ...common,
    dataDir: node.dataDir,
    nodeKeyPath: node.nodeKeyPath,
    sealer: { address: node.address, keystoreDir: node.keystoreDir, passwordPath: node.passwordPath },
    ports: { p2p: node.ports.p2p, authrpc: node.ports.authrpc },
    ipcPath: node.ipcPath,
    staticNodes: state.nodes.filter((o) => o.name !== node.name).map((o) => o.enode),
    gasLimit: BigInt(state.gasLimit),
  };
  const rpc: GethNodeParameters = {
    ...common,
    ...(options.rpcExtraArgs?.length
      ? { extraArgs: [...(options.extraArgs ?? []), ...options.rpcExtraArgs] }
      : {}),
    dataDir: node.rpc.dataDir,
    nodeKeyPath: node.rpc.nodeKeyPath,
    ports: node.rpc.ports,
    ipcPath: node.rpc.ipcPath,
    ...(options.corsOrigins?.length ? { corsOrigins: options.corsOrigins } : {}),
    staticNodes: [node.enode, ...state.nodes.filter((o) => o.name !== node.name).map((o) => o.enode)],
  };
  return { sealer, rpc };
}

/** The sealer and RPC node of a stored provider (see {@link providerParameters}), as one {@link ProviderNode}. */
export function nodeFor(
  state: NetworkState,
  node: NetworkNodeState,
  options: NodeForOptions = {},
): ProviderNode {
  const parameters = providerParameters(state, node, options);
  const sealer = gethNode(parameters.sealer);
  const rpc = gethNode(parameters.rpc);
  const rpcUrl = `http://127.0.0.1:${node.rpc.ports.http}`;
  const wsUrl = `ws://127.0.0.1:${node.rpc.ports.ws}`;
  return {
    name: node.name,
    address: node.address,
    sealer,
    rpc,
    rpcUrl,
    wsUrl,
    ipcPath: node.ipcPath,
    get status() {
      return sealer.status === "started" && rpc.status !== "started" ? rpc.status : sealer.status;
    },
    async start() {
      try {
        // The sealer first: geth waits ~35 s before it redials a static peer whose first dial
        // failed, and nothing dials an RPC node, so it must find its sealers already listening.
        await sealer.start();
        await rpc.start();
        await waitForProvider(node, { timeoutMs: options.startTimeoutMs ?? 60_000 });
      } catch (error) {
        await Promise.allSettled([sealer.stop(), rpc.stop()]);
        throw error;
      }
    },
    async stop(timeoutMs?: number) {
      await Promise.allSettled([sealer.stop(timeoutMs), rpc.stop(timeoutMs)]);
    },
  };
}

/** Resolves once a provider's RPC node is peered with its sealer and has at least the sealer's head. */
async function waitForProvider(node: NetworkNodeState, { timeoutMs }: { timeoutMs: number }): Promise<void> {
  const sealerId = nodeIdOf(node.enode);
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const sealerHead = await blockNumber(node.ipcPath);
      const [peers, rpcHead] = await Promise.all([
        adminPeers(node.rpc.ipcPath),
        blockNumber(node.rpc.ipcPath),
      ]);
      const peered = peers.some((p) => nodeIdOf(p.enode) === sealerId);
      if (peered && rpcHead >= sealerHead) return;
      last = `RPC node ${peered ? "peered" : "not peered"} with its sealer, block ${rpcHead} (sealer ${sealerHead})`;
    } catch (error) {
      last = String((error as Error).message);
    }
    if (Date.now() > deadline)
      throw new NetworkError(`${node.name}'s RPC node did not sync with its sealer within ${timeoutMs} ms.`, {
        details: last,
      });
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A running local network. */
export type Network = {
  dir: string;
  state: NetworkState;
  /** One provider (sealer + RPC node) per sealer, in `state.nodes` order. */
  nodes: ProviderNode[];
  /**
   * {@link startNetwork} made `dir` itself (no `dataDir` given): {@link stopNetwork} removes it
   * unless told `removeDir: false`, and it is removed if the process ends first.
   */
  temporary?: boolean;
};

/** Forgets a temporary network's directory in the reaper once it is removed (or kept on purpose). */
const forgetDir = new WeakMap<Network, () => void>();

/** Parameters of {@link startNetwork}. */
export type StartNetworkParameters = InitNetworkParameters & {
  /** geth binary (default `findGeth()`). */
  binary?: string;
  /** Extra geth flags for every sealer and RPC node (see `GethNodeParameters.extraArgs`). */
  extraArgs?: readonly string[];
  /** Extra geth flags for every RPC node only (see `NodeForOptions.rpcExtraArgs`). */
  rpcExtraArgs?: readonly string[];
  /** How long to wait for all peers and advancing blocks. Default 90 s. */
  readyTimeoutMs?: number;
  /** Browser origins every RPC node accepts (see `NodeForOptions.corsOrigins`). */
  corsOrigins?: readonly string[];
};

/**
 * Creates a network (see {@link initNetwork}), starts every provider's sealer and RPC node, and
 * resolves once each sealer is peered with all the other sealers, each RPC node with every
 * sealer, and blocks advance everywhere. On failure it stops what started (and removes the
 * directory if it made it). Without `dataDir` the network lives in a new temp directory that
 * {@link stopNetwork} removes, as does the end of this process if it comes first.
 */
export async function startNetwork(parameters: StartNetworkParameters): Promise<Network> {
  const { dir, state } = await initNetwork(parameters);
  const temporary = parameters.dataDir === undefined;
  const forget = temporary ? removeDirAtExit(dir) : undefined;
  const nodes = state.nodes.map((n) =>
    nodeFor(state, n, {
      ...(parameters.binary ? { binary: parameters.binary } : {}),
      ...(parameters.extraArgs ? { extraArgs: parameters.extraArgs } : {}),
      ...(parameters.rpcExtraArgs ? { rpcExtraArgs: parameters.rpcExtraArgs } : {}),
      ...(parameters.corsOrigins ? { corsOrigins: parameters.corsOrigins } : {}),
    }),
  );
  const network: Network = { dir, state, nodes, ...(temporary ? { temporary } : {}) };
  if (forget) forgetDir.set(network, forget);
  try {
    await startProviders(network, { timeoutMs: parameters.readyTimeoutMs ?? 90_000 });
    return network;
  } catch (error) {
    await stopNetwork(network, { removeDir: temporary });
    throw error;
  }
}

/**
 * Starts the providers of a network that is not running: every sealer (in parallel), then every
 * RPC node — geth waits ~35 s before it redials a static peer whose first dial failed, and no one
 * dials an RPC node, so the sealers must already listen — then {@link waitForNetwork}. The
 * genesis is stamped first if no node was ever initialised. Stops nothing on failure.
 */
export async function startProviders(
  network: Pick<Network, "state" | "nodes">,
  {
    timeoutMs = 90_000,
    onStarted,
  }: {
    timeoutMs?: number;
    /** Called once every process runs, before the wait (the CLI records the pids here). */
    onStarted?: () => Promise<void>;
  } = {},
): Promise<void> {
  await stampGenesisForFirstStart(network.state);
  await Promise.all(network.nodes.map((n) => n.sealer.start()));
  await Promise.all(network.nodes.map((n) => n.rpc.start()));
  await onStarted?.();
  await waitForNetwork(network, { timeoutMs });
}

/**
 * Resolves when, among the running providers, every sealer has every other sealer as a peer,
 * every RPC node has every sealer as a peer, and each has seen at least `blocks` (default 2) new
 * blocks. Everything is read over the nodes' IPC sockets. @throws {NetworkError} on timeout, with
 * each node's status.
 */
export async function waitForNetwork(
  network: Pick<Network, "state" | "nodes">,
  { timeoutMs = 90_000, blocks = 2 }: { timeoutMs?: number; blocks?: number } = {},
): Promise<void> {
  const live = network.state.nodes.filter((_, i) => network.nodes[i]?.status === "started");
  const sealerIds = live.map((n) => nodeIdOf(n.enode));
  const ipcs = live.flatMap((n) => [n.ipcPath, n.rpc.ipcPath]);
  const start = await Promise.all(ipcs.map((p) => blockNumber(p)));
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const now = await Promise.all(
      live.flatMap((n, i) =>
        [n.ipcPath, n.rpc.ipcPath].map(async (ipc, k) => {
          const [height, peers] = await Promise.all([blockNumber(ipc), adminPeers(ipc)]);
          const ids = new Set(peers.map((p) => nodeIdOf(p.enode)));
          const want = sealerIds.filter((id) => k === 1 || id !== sealerIds[i]);
          const missing = want.filter((id) => !ids.has(id)).length;
          return {
            ok: missing === 0 && height >= (start[2 * i + k] ?? 0n) + BigInt(blocks),
            text: `${k === 0 ? n.name : `${n.name} rpc`}: block ${height}, ${peers.length} peers${missing ? `, ${missing} sealer(s) missing` : ""}`,
          };
        }),
      ),
    ).catch((e: unknown) => [{ ok: false, text: String((e as Error).message) }]);
    last = now.map((x) => x.text).join("; ");
    if (now.every((x) => x.ok)) return;
    if (Date.now() > deadline) {
      throw new NetworkError(
        `The network did not come up within ${timeoutMs} ms (want every sealer peered with the others and each RPC node with every sealer, and ${blocks} new blocks).`,
        { details: last },
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Stops every node of a network (in parallel) and deletes its directory when `removeDir` (default:
 * when {@link startNetwork} made it, `network.temporary`).
 */
export async function stopNetwork(
  network: Network,
  { removeDir = network.temporary === true }: { removeDir?: boolean } = {},
): Promise<void> {
  await Promise.allSettled(network.nodes.map((n) => n.stop()));
  if (removeDir) await rm(network.dir, { recursive: true, force: true });
  forgetDir.get(network)?.();
  forgetDir.delete(network);
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
 * Block height, peers, signers and turn of one node, all over its IPC socket (a sealer has no
 * other endpoint). Never hangs: each call has `timeoutMs` (default 5 s).
 */
export async function nodeStatus(
  node: { ipcPath: string },
  { sealer, ...options }: RpcOptions & { sealer?: `0x${string}` } = {},
): Promise<NodeStatus> {
  const [height, peerCount, signers] = await Promise.all([
    blockNumber(node.ipcPath, options),
    ipcRpc<string>(node.ipcPath, "net_peerCount", [], options).then(Number),
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

/** `eth_blockNumber` as a bigint, over an HTTP(S) URL or an IPC socket path. */
export async function blockNumber(endpoint: string, options?: RpcOptions): Promise<bigint> {
  return BigInt(await anyRpc<string>(endpoint, "eth_blockNumber", [], options));
}
