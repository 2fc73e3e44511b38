/**
 * Network partitions of a running local network, for tests of reorganisations: the providers are
 * split into groups whose nodes (sealers and RPC nodes) cannot reach each other's, each group keeps
 * sealing what Clique lets it, and `heal()` joins them again — the heavier branch then wins.
 * Everything goes over the nodes' IPC sockets (`admin_removePeer` / `admin_addPeer`, which also
 * drop / restore the static peer, so nothing redials across the cut).
 */
import { adminAddPeer, adminPeers, ipcRpc } from "./ipc.ts";
import { type Network, NetworkError, nodeIdOf } from "./network.ts";
import type { RpcOptions } from "./rpc.ts";

/** `admin_removePeer`: disconnect `enode` and drop it from the static peers. */
export function adminRemovePeer(ipcPath: string, enode: string, options?: RpcOptions): Promise<boolean> {
  return ipcRpc(ipcPath, "admin_removePeer", [enode], options);
}

/** `miner_stop` / `miner_start` on a sealer: it stops (starts again) sealing blocks. */
export function setSealing(ipcPath: string, on: boolean, options?: RpcOptions): Promise<unknown> {
  return ipcRpc(ipcPath, on ? "miner_start" : "miner_stop", [], options);
}

/** One node of a provider, as the partition sees it: who it is, where it listens, whom it dials. */
type PeerNode = { group: number; ipcPath: string; enode: string; sealer: boolean };

/** A network split by {@link partitionNetwork}. */
export type Partition = {
  /** Joins the groups again and resolves once every cut link is up. */
  heal(options?: { timeoutMs?: number }): Promise<void>;
};

/**
 * Splits `network` into `groups` (provider indexes; every provider in exactly one): every link
 * between a node of one group and a node of another — sealer to sealer, RPC node to sealer — is
 * cut on both sides, and it resolves once no node has a peer outside its group. Each group keeps
 * sealing as far as Clique allows it: with n signers one that signed any of the last ⌊n/2⌋ blocks
 * must wait, so a group of k ≤ ⌊n/2⌋ signers seals at most k blocks and one of more seals steadily.
 */
export async function partitionNetwork(
  network: Pick<Network, "state">,
  groups: readonly (readonly number[])[],
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<Partition> {
  const groupOf = new Map<number, number>();
  groups.forEach((g, i) => {
    for (const p of g) groupOf.set(p, i);
  });
  const nodes: PeerNode[] = network.state.nodes.flatMap((n, i) => {
    const group = groupOf.get(i);
    if (group === undefined) throw new NetworkError(`provider ${i} is in no group of the partition.`);
    return [
      { group, ipcPath: n.ipcPath, enode: n.enode, sealer: true },
      { group, ipcPath: n.rpc.ipcPath, enode: n.rpc.enode, sealer: false },
    ];
  });
  // The links the network has: sealers with each other, every RPC node with every sealer.
  const cut = nodes.flatMap((a) =>
    nodes.filter((b) => b.sealer && a !== b && a.group !== b.group).map((b) => [a, b] as const),
  );
  // Dialling sides first (they hold the static entries), then the other ends; a connection that
  // a redial raced back in is cut again until none is left.
  await Promise.all(cut.map(([from, to]) => adminRemovePeer(from.ipcPath, to.enode)));
  await until(timeoutMs, "the partition", async () => {
    const strays = await Promise.all(
      nodes.map(async (n) => {
        const ids = new Set((await adminPeers(n.ipcPath)).map((p) => nodeIdOf(p.enode)));
        return nodes
          .filter((o) => o.group !== n.group && ids.has(nodeIdOf(o.enode)))
          .map((o) => [n, o] as const);
      }),
    );
    await Promise.all(strays.flat().map(([n, o]) => adminRemovePeer(n.ipcPath, o.enode)));
    return strays.every((s) => s.length === 0);
  });
  return {
    async heal({ timeoutMs: healTimeoutMs = 60_000 } = {}) {
      // Each link is dialled from where the network dials it: sealers both ways, RPC nodes to sealers.
      await Promise.all(cut.map(([from, to]) => adminAddPeer(from.ipcPath, to.enode)));
      await until(healTimeoutMs, "the healed network", async () => {
        const ok = await Promise.all(
          cut.map(async ([from, to]) =>
            (await adminPeers(from.ipcPath)).some((p) => nodeIdOf(p.enode) === nodeIdOf(to.enode)),
          ),
        );
        return ok.every(Boolean);
      });
    },
  };
}

async function until(timeoutMs: number, what: string, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new NetworkError(`${what} did not take effect within ${timeoutMs} ms.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
