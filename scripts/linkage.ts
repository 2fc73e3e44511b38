/**
 * What a chain observer can learn about who is whose provider, from the chain alone: every
 * transaction since the contracts were deployed, its sender and value, and the relationships
 * whose events it emitted. Used by the system test to check that relaying leaves no funding graph
 * and no shared sender that groups a provider's relationships (adr/0003, adr/0006).
 */
import { relationshipAbi } from "@medrec/protocol";
import { type Address, type Hex, type PublicClient, parseEventLogs } from "viem";

/** Adjusted Rand index of two labelings of the same items (1 = identical partitions, ~0 = chance). */
export function adjustedRandIndex(a: readonly string[], b: readonly string[]): number {
  if (a.length !== b.length) throw new RangeError("both labelings must cover the same items");
  const n = a.length;
  if (n < 2) return 1;
  const pairs = (k: number) => (k * (k - 1)) / 2;
  const count = (labels: readonly string[]) => {
    const m = new Map<string, number>();
    for (const l of labels) m.set(l, (m.get(l) ?? 0) + 1);
    return m;
  };
  const joint = count(a.map((x, i) => `${x}\u0000${b[i]}`));
  const sumJoint = [...joint.values()].reduce((s, k) => s + pairs(k), 0);
  const sumA = [...count(a).values()].reduce((s, k) => s + pairs(k), 0);
  const sumB = [...count(b).values()].reduce((s, k) => s + pairs(k), 0);
  const expected = (sumA * sumB) / pairs(n);
  const max = (sumA + sumB) / 2;
  // Both partitions trivial (all in one cluster, or all singletons alike): identical by definition.
  if (max === expected) return 1;
  return (sumJoint - expected) / (max - expected);
}

/** Groups items that share any key (union-find), and returns a cluster label per item. */
export function clusterBySharedKeys(keysOf: readonly (readonly string[])[]): string[] {
  const parent = keysOf.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i] as number] as number;
      i = parent[i] as number;
    }
    return i;
  };
  const owner = new Map<string, number>();
  keysOf.forEach((keys, i) => {
    for (const key of keys) {
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  return keysOf.map((_, i) => String(find(i)));
}

export type ChainTransaction = {
  hash: Hex;
  from: Address;
  to: Address | null;
  value: bigint;
  relationships: Hex[];
};

/** Every transaction from `fromBlock` to the head, with the relationships whose events it emitted. */
export async function scanTransactions(
  client: PublicClient,
  { fromBlock, relationship }: { fromBlock: bigint; relationship: Address },
): Promise<ChainTransaction[]> {
  const head = await client.getBlockNumber();
  const out: ChainTransaction[] = [];
  for (let n = fromBlock; n <= head; n++) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions) {
      const receipt = await client.getTransactionReceipt({ hash: tx.hash });
      const events = parseEventLogs({
        abi: relationshipAbi,
        logs: receipt.logs.filter((l) => l.address.toLowerCase() === relationship.toLowerCase()),
      });
      const ids = new Set<Hex>();
      for (const e of events) {
        const id = (e.args as { id?: Hex }).id;
        if (id) ids.add(id.toLowerCase() as Hex);
      }
      out.push({ hash: tx.hash, from: tx.from, to: tx.to ?? null, value: tx.value, relationships: [...ids] });
    }
  }
  return out;
}
