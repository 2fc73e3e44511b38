import { connect } from "node:net";
import {
  DEFAULT_RPC_TIMEOUT_MS,
  httpRpc,
  type RpcOptions,
  RpcTimeoutError,
  RpcUnreachableError,
  rpcBody,
  rpcResult,
  wsRpc,
} from "./rpc.ts";

/**
 * One JSON-RPC call over geth's IPC socket — the only transport on which MedRec exposes the
 * `clique` and `admin` namespaces (the socket is a file readable only by the node's user).
 * Fails after `timeoutMs` (default 5 s) instead of hanging.
 */
export function ipcRpc<T = unknown>(
  ipcPath: string,
  method: string,
  params: readonly unknown[] = [],
  { timeoutMs = DEFAULT_RPC_TIMEOUT_MS }: RpcOptions = {},
): Promise<T> {
  const endpoint = `ipc:${ipcPath}`;
  return new Promise<T>((resolve, reject) => {
    const socket = connect(ipcPath);
    let buffer = "";
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new RpcTimeoutError({ endpoint, method, timeoutMs }))),
      timeoutMs,
    );
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`${JSON.stringify(rpcBody(method, params))}\n`));
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      // geth ends each reply with a newline; a reply may arrive in several chunks.
      const end = buffer.indexOf("\n");
      if (end < 0) return;
      finish(() => {
        try {
          resolve(rpcResult<T>(endpoint, method, JSON.parse(buffer.slice(0, end))));
        } catch (error) {
          reject(error);
        }
      });
    });
    socket.on("error", (cause) => finish(() => reject(new RpcUnreachableError({ endpoint, method, cause }))));
    socket.on("close", () =>
      finish(() =>
        reject(new RpcUnreachableError({ endpoint, method, reason: "socket closed before a reply" })),
      ),
    );
  });
}

/** `clique_getSigners`: the authorised signers at a block (default latest), sorted ascending. */
export function cliqueGetSigners(
  ipcPath: string,
  block: bigint | "latest" = "latest",
  options?: RpcOptions,
): Promise<`0x${string}`[]> {
  return ipcRpc(ipcPath, "clique_getSigners", [toBlockTag(block)], options);
}

/** `clique_getSigner`: the account that sealed a block (recovered from its extraData seal). */
export function cliqueGetSigner(
  ipcPath: string,
  block: bigint,
  options?: RpcOptions,
): Promise<`0x${string}`> {
  return ipcRpc(ipcPath, "clique_getSigner", [toBlockTag(block)], options);
}

/** `clique_propose`: this sealer votes to add (`auth` true) or remove (false) a signer. */
export function cliquePropose(
  ipcPath: string,
  address: string,
  auth: boolean,
  options?: RpcOptions,
): Promise<null> {
  return ipcRpc(ipcPath, "clique_propose", [address, auth], options);
}

/** `clique_discard`: withdraw this sealer's pending vote about `address`. */
export function cliqueDiscard(ipcPath: string, address: string, options?: RpcOptions): Promise<null> {
  return ipcRpc(ipcPath, "clique_discard", [address], options);
}

/** `clique_proposals`: this sealer's pending votes (address → auth). */
export function cliqueProposals(ipcPath: string, options?: RpcOptions): Promise<Record<string, boolean>> {
  return ipcRpc(ipcPath, "clique_proposals", [], options);
}

/** What `clique_status` reports over the last 64 blocks. */
export type CliqueStatus = {
  inturnPercent: number;
  /** Signer → number of the recent blocks it sealed. */
  sealerActivity: Record<string, number>;
  numBlocks: number;
};

/** `clique_status`: in-turn percentage and per-signer activity over recent blocks. */
export function cliqueStatus(ipcPath: string, options?: RpcOptions): Promise<CliqueStatus> {
  return ipcRpc(ipcPath, "clique_status", [], options);
}

/** The parts of `admin_nodeInfo` MedRec uses. */
export type NodeInfo = {
  id: string;
  enode: string;
  name: string;
  ports: { listener: number; discovery: number };
};

/** `admin_nodeInfo`: this node's enode URL and id. */
export function adminNodeInfo(ipcPath: string, options?: RpcOptions): Promise<NodeInfo> {
  return ipcRpc(ipcPath, "admin_nodeInfo", [], options);
}

/** `admin_addPeer`: dial `enode` and keep redialling it (a runtime static peer). */
export function adminAddPeer(ipcPath: string, enode: string, options?: RpcOptions): Promise<boolean> {
  return ipcRpc(ipcPath, "admin_addPeer", [enode], options);
}

/** `admin_peers`: the connected peers (only `id` and `enode` typed here). */
export function adminPeers(ipcPath: string, options?: RpcOptions): Promise<{ id: string; enode: string }[]> {
  return ipcRpc(ipcPath, "admin_peers", [], options);
}

function toBlockTag(block: bigint | "latest"): string {
  return block === "latest" ? block : `0x${block.toString(16)}`;
}

/**
 * One JSON-RPC call to any endpoint: an `http(s)://` URL, a `ws(s)://` URL, or an IPC socket path.
 */
export function anyRpc<T = unknown>(
  endpoint: string,
  method: string,
  params: readonly unknown[] = [],
  options?: RpcOptions,
): Promise<T> {
  if (/^https?:\/\//i.test(endpoint)) return httpRpc<T>(endpoint, method, params, options);
  if (/^wss?:\/\//i.test(endpoint)) return wsRpc<T>(endpoint, method, params, options);
  return ipcRpc<T>(endpoint, method, params, options);
}
