/**
 * The public configuration the patient's side needs (from the network manifest, no secrets) and
 * the patient's own context: a chain client, the signing account, the X25519 key.
 */
import {
  type Address,
  type Client,
  createPublicClient,
  getAddress,
  type HDAccount,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { getBlock } from "viem/actions";
import { medrecChain } from "../audit-anchor.ts";
import { accountFromMnemonic } from "../keys.ts";
import type { NetworkManifest } from "../manifest.ts";
import { type EncryptionKeyPair, encryptionKeyPairFromAccount } from "../sealed-box.ts";
import { PatientDataError } from "./errors.ts";
import { type ProvenEntry, type ProvenReadOptions, readProvenAgentOf, readProvenEntries } from "./proven.ts";

/** A provider as the patient's side knows it (from the manifest or the AgentRegistry). */
export type PatientProvider = {
  name: string;
  /** Its AgentRegistry (sealer) account: what sealed provider details name. */
  account: Address;
  gatekeeperUrl: string;
  rpcUrl?: string;
  wsUrl?: string;
};

/** What the dapp and the tests need to know about a network: no secret in it. */
export type PatientNetwork = {
  chainId: number;
  /** The JSON-RPC node the patient reads the chain from (signs nothing). */
  rpcUrl: string;
  contracts: {
    AgentRegistry: Address;
    Agent: Address;
    Relationship: Address;
    Forwarder: Address;
    AuditAnchor?: Address;
  };
  /** First block worth scanning for events (the contracts' deployment). Default 0. */
  fromBlock?: bigint;
  providers: PatientProvider[];
};

/**
 * The public part of a network manifest: chain, contracts and providers — never the `demo` section.
 *
 * @throws {PatientDataError} `invalid-input` when the manifest names no Agent, Relationship or Forwarder.
 */
export function patientNetworkFromManifest(manifest: NetworkManifest): PatientNetwork {
  const c = manifest.contracts as Record<string, string | undefined>;
  const need = (name: string): Address => {
    const value = c[name];
    if (!value)
      throw new PatientDataError("invalid-input", `The network manifest names no ${name} contract.`);
    return getAddress(value);
  };
  const deployBlock = (manifest as { deployBlock?: unknown }).deployBlock;
  return {
    chainId: manifest.chainId,
    rpcUrl: manifest.rpcUrl,
    contracts: {
      AgentRegistry: getAddress(manifest.contracts.AgentRegistry),
      Agent: need("Agent"),
      Relationship: need("Relationship"),
      Forwarder: need("Forwarder"),
      ...(c.AuditAnchor ? { AuditAnchor: getAddress(c.AuditAnchor) } : {}),
    },
    ...(typeof deployBlock === "number" ? { fromBlock: BigInt(deployBlock) } : {}),
    providers: manifest.providers.map((p) => ({
      name: p.name,
      account: getAddress(p.account),
      gatekeeperUrl: p.gatekeeperUrl,
      rpcUrl: p.rpcUrl,
      ...(typeof p.wsUrl === "string" ? { wsUrl: p.wsUrl } : {}),
    })),
  };
}

/** A signer that can sign in (EIP-191) and sign forward requests (EIP-712): a viem local account. */
export type PatientAccount = LocalAccount | HDAccount;

/** Everything the patient functions need: the network, a chain client, who signs, the X25519 key. */
export type PatientContext = {
  network: PatientNetwork;
  client: PublicClient;
  /** The patient's account (or a custodian's, for custodian actions). */
  account: PatientAccount;
  /** The patient's agent id (the address that registered it; the account's own when it never moved). */
  agent: Address;
  /** Opens provider details sealed to the patient. */
  encryptionKey: EncryptionKeyPair;
  fetch?: typeof globalThis.fetch;
  /** Picks the gatekeeper that relays a patient transaction. Default: a random provider's. */
  pickRelay?: () => string;
};

/** A chain client for the patient's side: polls every 250 ms (blocks come every second or so). */
export function createPatientClient(network: Pick<PatientNetwork, "chainId" | "rpcUrl">): PublicClient {
  const { chain, transport } = medrecChain({ chainId: network.chainId, rpcUrl: network.rpcUrl });
  return createPublicClient({ chain, transport, pollingInterval: 250 }) as PublicClient;
}

/** Where a patient context reads from: the network, and optionally its client and `fetch`. */
export type PatientContextOptions = {
  network: PatientNetwork;
  client?: PublicClient;
  fetch?: typeof globalThis.fetch;
};

/**
 * The patient's context from the 12-word phrase: account `m/44'/60'/0'/0/0`, its X25519 key, and
 * the agent it owns on chain (read from `Agent.agentOf`).
 *
 * @throws {PatientDataError} `no-agent` when the account owns no agent; `unreachable` when the node does not answer.
 * @throws {InvalidMnemonicError} for an invalid phrase (the phrase itself is never in the message).
 */
export async function patientContextFromMnemonic({
  mnemonic,
  ...options
}: PatientContextOptions & { mnemonic: string }): Promise<PatientContext> {
  return patientContextFromAccount({ ...options, account: accountFromMnemonic(mnemonic, 0) });
}

/**
 * {@link patientContextFromMnemonic} for an account already derived from the phrase (the dapp's
 * unlocked wallet): its X25519 key from the account's own private key, no second derivation; and
 * the agent when it was already read (`agent`), else from the chain.
 *
 * @throws {PatientDataError} `no-agent` when the account owns no agent; `unreachable` when the node does not answer.
 */
export async function patientContextFromAccount({
  network,
  account,
  agent,
  client = createPatientClient(network),
  fetch,
}: PatientContextOptions & { account: HDAccount; agent?: Address }): Promise<PatientContext> {
  const encryptionKey = encryptionKeyPairFromAccount(account);
  const owned = agent ?? (await agentOf(client, network, account.address));
  return { network, client, account, agent: owned, encryptionKey, ...(fetch ? { fetch } : {}) };
}

/**
 * The agent `account` owns, proven (adr/0012). `_client` is no longer read (kept for callers).
 *
 * @throws {PatientDataError} `no-agent` when it owns none.
 */
export async function agentOf(_client: Client, network: PatientNetwork, account: Address): Promise<Address> {
  const agent = await readProvenAgentOf(network, account);
  if (/^0x0{40}$/i.test(agent))
    throw new PatientDataError("no-agent", `The account ${shortAddress(account)} owns no agent.`);
  return getAddress(agent);
}

/** `0x1234…abcd`: how an address without a name is shown. */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/**
 * The current record root of a relationship (what every record is verified against), proven
 * against a sealed header the providers' nodes agree on (adr/0012) — never one node's word.
 * `via`: the provider whose own node to ask; when its answer does not check this throws
 * `node-not-verifiable`. `minBlock`: a block the root must be at least as new as (a
 * `RootPublished` event's). `_client` is no longer read (kept for callers).
 *
 * @throws {PatientDataError} `node-not-verifiable` (the node lied), `unreachable` (no quorum).
 */
export async function readRecordRoot(
  _client: Client,
  network: PatientNetwork,
  relationship: Hex,
  options: ProvenReadOptions = {},
): Promise<Hex> {
  const [entry] = await readProvenEntries(network, [relationship], options);
  return (entry as ProvenEntry).recordRoot;
}

/** The latest block's time (seconds): "now" as the contracts see it (grant expiry is against it). */
export async function chainNow(client: Client): Promise<bigint> {
  return (await getBlock(client, { blockTag: "latest" })).timestamp;
}
