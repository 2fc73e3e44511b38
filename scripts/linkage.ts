/**
 * What a chain observer can learn about who is whose provider, from the chain alone: every
 * transaction since the contracts were deployed, its sender and value, and the relationships
 * whose events it emitted. Used by the system test to check that relaying leaves no funding graph
 * and no shared sender that groups a provider's relationships (adr/0003, adr/0006).
 */
import {
  accountFromMnemonic,
  agentAbi,
  apiPaths,
  type CreatePatientResponse,
  encryptionKeyPairFromMnemonic,
  gatekeeperJson,
  generatePatientMnemonic,
  type NetworkManifest,
  relationshipAbi,
  relayAndWait,
  scopesToMask,
  signIn,
} from "@medrec/protocol";
import {
  type Address,
  createPublicClient,
  encodeFunctionData,
  type Hex,
  http,
  type PublicClient,
  parseEventLogs,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { untilSeen, waitForRoot } from "./wait.ts";

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

export type OnboardedPatient = { address: Address; provider: string; relationship: Hex };

/**
 * Onboards `count` patients spread over the providers as a hospital and its patients would, with
 * nothing but the manifest's demo staff keys and relays: each patient registers its agent through
 * a provider's relay, staff link it and upload its records (the gatekeeper creates the relationship
 * and publishes the root through relays), and the patient grants a viewer through a relay.
 */
export async function onboardPatients(
  manifest: NetworkManifest,
  { count, records }: { count: number; records: (index: number) => { mrn: string; bundle: unknown } },
): Promise<OnboardedPatient[]> {
  const client = createPublicClient({ transport: http(manifest.rpcUrl), pollingInterval: 250 });
  const forwarder = manifest.contracts.Forwarder as Address;
  const staffKeys =
    (manifest.demo as { staff?: { provider: string; privateKey: Hex }[] } | undefined)?.staff ?? [];
  const relays = manifest.providers.map((x) => x.gatekeeperUrl);
  const anyRelay = () => relays[Math.floor(Math.random() * relays.length)] as string;
  const onboard = async (index: number): Promise<OnboardedPatient> => {
    const provider = manifest.providers[index % manifest.providers.length];
    const staffKey = staffKeys.find((x) => x.provider === provider?.name)?.privateKey;
    if (!provider || !staffKey) throw new Error(`no demo staff key for provider ${index}`);
    const mnemonic = generatePatientMnemonic();
    const patient = accountFromMnemonic(mnemonic, 0);
    // relayAndWait names the block it built on: a relay whose node is behind waits for it.
    const relay = (to: Address, data: Hex) =>
      relayAndWait({ client, forwarder, account: patient, to, data, gatekeeperUrl: anyRelay() });
    await relay(
      manifest.contracts.Agent as Address,
      encodeFunctionData({
        abi: agentAbi,
        functionName: "register",
        args: [encryptionKeyPairFromMnemonic(mnemonic).publicKey, [], 0],
      }),
    );
    const { token } = await signIn({
      gatekeeperUrl: provider.gatekeeperUrl,
      account: privateKeyToAccount(staffKey),
      chainId: manifest.chainId,
    });
    const { mrn, bundle } = records(index);
    const linked = await untilSeen(() =>
      gatekeeperJson<CreatePatientResponse>(provider.gatekeeperUrl, apiPaths.patients, {
        method: "POST",
        token,
        body: { mrn, patientAddress: patient.address },
      }),
    );
    await gatekeeperJson(provider.gatekeeperUrl, apiPaths.patientRecords(mrn), {
      method: "POST",
      token,
      body: bundle,
    });
    const relationship = linked.relationship as Hex;
    // The relationship is created and its root published through relays: wait before granting.
    await waitForRoot(client as PublicClient, {
      relationshipContract: manifest.contracts.Relationship as Address,
      relationship,
      what: `patient ${index}`,
    });
    await relay(
      manifest.contracts.Relationship as Address,
      encodeFunctionData({
        abi: relationshipAbi,
        functionName: "grant",
        args: [
          relationship,
          privateKeyToAccount(generatePrivateKey()).address,
          scopesToMask(["labs"]),
          2n ** 40n,
          "0x",
        ],
      }),
    );
    return {
      address: patient.address,
      provider: provider.name,
      relationship: relationship.toLowerCase() as Hex,
    };
  };
  return Promise.all(Array.from({ length: count }, (_, i) => onboard(i)));
}

export type LinkageReport = {
  transactions: number;
  /** Patients or delegates that sent a transaction themselves. */
  selfSenders: string[];
  /** Patients or delegates that received value. */
  funded: string[];
  /** Per provider: the distinct senders of its relationships' transactions. */
  sendersByProvider: Record<string, string[]>;
  /** ARI of "cluster relationships by the sender of their creation" against the true provider. */
  ariByCreationSender: number;
  /** ARI of "relationships sharing any sender are one cluster" against the true provider. */
  ariBySharedSenders: number;
};

/** What the chain tells about the onboarded patients' relationships, against the truth. */
export async function linkageReport(
  manifest: NetworkManifest,
  patients: readonly OnboardedPatient[],
): Promise<LinkageReport> {
  const client = createPublicClient({ transport: http(manifest.rpcUrl) }) as PublicClient;
  const txs = await scanTransactions(client, {
    fromBlock: BigInt((manifest as { deployBlock?: number }).deployBlock ?? 0),
    relationship: manifest.contracts.Relationship as Address,
  });
  const created = await client.getContractEvents({
    address: manifest.contracts.Relationship as Address,
    abi: relationshipAbi,
    eventName: "RelationshipCreated",
    fromBlock: BigInt((manifest as { deployBlock?: number }).deployBlock ?? 0),
  });
  const delegates = new Set(created.map((e) => (e.args.provider as string).toLowerCase()));
  const accounts = new Set([...patients.map((p) => p.address.toLowerCase()), ...delegates]);
  const selfSenders = [...new Set(txs.map((t) => t.from.toLowerCase()).filter((a) => accounts.has(a)))];
  const funded = [
    ...new Set(
      txs.filter((t) => t.value > 0n && t.to && accounts.has(t.to.toLowerCase())).map((t) => t.to as string),
    ),
  ];
  const sendersOf = (relationship: Hex) =>
    txs.filter((t) => t.relationships.includes(relationship)).map((t) => t.from.toLowerCase());
  const sendersByProvider: Record<string, string[]> = {};
  for (const p of patients)
    sendersByProvider[p.provider] = [
      ...new Set([...(sendersByProvider[p.provider] ?? []), ...sendersOf(p.relationship)]),
    ];
  const creationSender = patients.map((p) => {
    const creation = txs.find(
      (t) => t.relationships.includes(p.relationship) && created.some((e) => e.transactionHash === t.hash),
    );
    return creation?.from.toLowerCase() ?? "unknown";
  });
  const truth = patients.map((p) => p.provider);
  return {
    transactions: txs.length,
    selfSenders,
    funded,
    sendersByProvider,
    ariByCreationSender: adjustedRandIndex(truth, creationSender),
    ariBySharedSenders: adjustedRandIndex(
      truth,
      clusterBySharedKeys(patients.map((p) => sendersOf(p.relationship))),
    ),
  };
}
