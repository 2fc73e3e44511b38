import { pbkdf2Sync } from "node:crypto";
import { agentAbi, BaseError, medrecChain, normalizeMnemonic, relationshipAbi } from "@medrec/protocol";
import {
  type Address,
  type Chain,
  ContractFunctionRevertedError,
  createPublicClient,
  type PublicClient,
  parseAbi,
  type Transport,
  toHex,
  BaseError as ViemBaseError,
  zeroAddress,
} from "viem";
import { HDKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { ProblemError } from "../errors.ts";
import { ChainConfigError, type ChainSettings } from "./config.ts";

/** What the chain part talks to: one node, two contracts. */
export type ChainClient = {
  chain: Chain;
  transport: Transport;
  publicClient: PublicClient<Transport, Chain>;
  agent: Address;
  relationship: Address;
  /** The settings' forwarder, or the one Agent trusts when the settings name none. */
  forwarder: Address;
};

export const chainAbi = [...agentAbi, ...relationshipAbi] as const;
const forwarderAbi = parseAbi(["function trustedForwarder() view returns (address)"]);

/** viem clients for the settings' node; checks the chain id and reads `Agent.relationships()` when needed. */
export async function connectChain(settings: ChainSettings): Promise<ChainClient> {
  const { chain, transport } = medrecChain({
    chainId: settings.chainId,
    rpcUrl: settings.rpcUrl,
    timeoutMs: settings.rpcTimeoutMs,
  });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 200 });
  const id = await publicClient.getChainId();
  if (id !== settings.chainId)
    throw new ChainConfigError(`The node's chain id is ${id}, expected ${settings.chainId} (CHAIN_ID).`);
  const onChain = await publicClient.readContract({
    address: settings.agent,
    abi: agentAbi,
    functionName: "relationships",
  });
  if (settings.relationship && onChain.toLowerCase() !== settings.relationship.toLowerCase())
    throw new ChainConfigError("RELATIONSHIP_ADDRESS is not the Relationship bound to AGENT_ADDRESS.");
  const forwarder =
    settings.forwarder !== zeroAddress
      ? settings.forwarder
      : await publicClient.readContract({
          address: settings.agent,
          abi: forwarderAbi,
          functionName: "trustedForwarder",
        });
  return { chain, transport, publicClient, agent: settings.agent, relationship: onChain, forwarder };
}

/** Thrown for a delegate index outside 0 ≤ index < 2³¹, or a derivation that yields no key. */
export class DelegateKeyError extends BaseError {
  override name = "DelegateKeyError";
}

/**
 * The provider's per-relationship delegate keys: `m/44'/60'/0'/0/<index>` of DELEGATE_MNEMONIC
 * (any BIP44 wallet recovers them). The seed is stretched once; each index is one child derivation.
 */
export class DelegateKeys {
  readonly #parent: HDKey;
  readonly #cache = new Map<number, PrivateKeyAccount>();
  readonly #forbidden: Set<string>;
  /** `forbidden`: accounts no delegate may be (the relayer, the audit log account): refused when derived. */
  constructor(mnemonic: string, { forbidden = [] }: { forbidden?: readonly Address[] } = {}) {
    this.#forbidden = new Set(forbidden.map((a) => a.toLowerCase()));
    // BIP39 seed: PBKDF2-HMAC-SHA512(NFKD mnemonic, "mnemonic", 2048 rounds, 64 bytes).
    const seed = pbkdf2Sync(normalizeMnemonic(mnemonic).normalize("NFKD"), "mnemonic", 2048, 64, "sha512");
    this.#parent = HDKey.fromMasterSeed(seed).derive("m/44'/60'/0'/0");
    seed.fill(0);
  }
  /** The delegate account of `index` (0 ≤ index < 2³¹). */
  account(index: number): PrivateKeyAccount {
    let account = this.#cache.get(index);
    if (!account) {
      if (!Number.isInteger(index) || index < 0 || index >= 2 ** 31)
        throw new DelegateKeyError("bad delegate index");
      const key = this.#parent.deriveChild(index).privateKey;
      if (!key) throw new DelegateKeyError("delegate key derivation failed");
      account = privateKeyToAccount(toHex(key));
      if (this.#forbidden.has(account.address.toLowerCase()))
        throw new ChainConfigError(
          `Delegate ${index} of DELEGATE_MNEMONIC is the relayer's or the audit log's account: keep those keys apart.`,
        );
      this.#cache.set(index, account);
    }
    return account;
  }
}

/** The name of the contract custom error a viem error carries, if any. */
export function revertName(error: unknown): string | undefined {
  if (!(error instanceof ViemBaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return reverted instanceof ContractFunctionRevertedError ? reverted.data?.errorName : undefined;
}

/** Maps a node failure to 503 without leaking URLs, request bodies or keys. */
export function unavailable(what: string, cause: unknown): ProblemError {
  return new ProblemError("unavailable", `${what}: the chain node did not answer; try again.`, { cause });
}
