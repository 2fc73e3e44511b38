/**
 * The chain part's configuration: a zod fragment the integrator merges into `configSchema`
 * (config.ts), and {@link resolveChainSettings}, which fills what is unset from the network manifest.
 * Two values are secrets (DELEGATE_MNEMONIC, SPONSOR_PRIVATE_KEY): validation messages never echo
 * values, and nothing here logs them.
 */

import { BaseError, isValidMnemonic, rpcUrlSchema } from "@medrec/protocol";
import { readManifest } from "@medrec/protocol/node";
import { type Address, getAddress, type Hex, parseEther } from "viem";
import { z } from "zod";

const address = z
  .string()
  .regex(/^0[xX][0-9a-fA-F]{40}$/, "must be 0x followed by 40 hex digits")
  .transform((a) => getAddress(a.toLowerCase()));
const ether = z
  .string()
  .regex(/^\d{1,9}(\.\d{1,18})?$/, "must be an amount of ether like 0.05")
  .transform((v) => parseEther(v));
const ms = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Environment variables of the chain part (merge into `configSchema`). */
export const chainConfigSchema = z.object({
  /** JSON-RPC of the provider's own geth (http(s) or ws(s)); default: the manifest's `rpcUrl`. */
  CHAIN_RPC_URL: rpcUrlSchema.optional(),
  /** Expected chain id; default: the manifest's. Checked against the node at start. */
  CHAIN_ID: z.coerce.number().int().positive().optional(),
  /** Contract addresses; default: the manifest's `contracts`. `Relationship` may be read from `Agent.relationships()`. */
  AGENT_ADDRESS: address.optional(),
  RELATIONSHIP_ADDRESS: address.optional(),
  /** First block to read logs from (the contracts' deployment block); default the manifest's `deployBlock`, else 0. */
  CHAIN_START_BLOCK: z.coerce.bigint().nonnegative().optional(),
  /** This provider as the dapp shows it; default: the manifest's provider whose gatekeeperUrl is PUBLIC_URL. */
  PROVIDER_NAME: z.string().min(1).max(64).optional(),
  /** This provider's AgentRegistry account (not a delegate; it is only in encrypted details). */
  PROVIDER_ACCOUNT: address.optional(),
  /** Secret: 12-word BIP39 mnemonic of the per-relationship delegate keys (`m/44'/60'/0'/0/<delegate_index>`). */
  DELEGATE_MNEMONIC: z
    .string()
    .refine(isValidMnemonic, "must be a 12-word BIP39 English mnemonic (the value is not shown)")
    .optional(),
  /** Secret: private key of the account that pays delegates' gas and the patient faucet. */
  SPONSOR_PRIVATE_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x followed by 64 hex digits (the value is not shown)")
    .transform((k) => k as Hex)
    .optional(),
  /** A delegate is topped up to DELEGATE_FUND_ETH when below DELEGATE_MIN_BALANCE_ETH. */
  DELEGATE_MIN_BALANCE_ETH: ether.default(parseEther("0.01")),
  DELEGATE_FUND_ETH: ether.default(parseEther("0.1")),
  /** Faucet: tops the caller's balance up to this. */
  SPONSOR_TOP_UP_ETH: ether.default(parseEther("0.05")),
  /** Faucet: at most this much per address in any 24 h. */
  SPONSOR_ADDRESS_DAILY_ETH: ether.default(parseEther("0.2")),
  /** Faucet: at most this much for all addresses together in any 24 h. */
  SPONSOR_TOTAL_DAILY_ETH: ether.default(parseEther("10")),
  /** How often the chain view asks the node for new blocks (eth_getLogs). */
  CHAIN_POLL_INTERVAL_MS: ms(50, 60_000).default(250),
  /** Fail closed: refuse reads when the last good poll is older than this … */
  CHAIN_MAX_STALENESS_MS: ms(500, 600_000).default(5_000),
  /** … or the view is more than this many blocks behind the node's head … */
  CHAIN_MAX_LAG_BLOCKS: z.coerce.number().int().min(0).max(1000).default(2),
  /** … or the node's head block is older than this (the node is cut off from the sealers). */
  CHAIN_MAX_HEAD_AGE_SECONDS: z.coerce.number().int().min(5).max(86_400).default(60),
  /** Timeout of each JSON-RPC call. */
  CHAIN_RPC_TIMEOUT_MS: ms(100, 120_000).default(3_000),
  /** How long to wait for a transaction's receipt. */
  CHAIN_RECEIPT_TIMEOUT_MS: ms(1_000, 600_000).default(60_000),
});

export type ChainConfig = z.output<typeof chainConfigSchema>;

/** Thrown when the chain settings are incomplete or disagree with the node. Never names a secret's value. */
export class ChainConfigError extends BaseError {
  override name = "ChainConfigError";
}

/** Everything the chain part needs, resolved. */
export type ChainSettings = {
  rpcUrl: string;
  chainId: number;
  agent: Address;
  /** Undefined: read from `Agent.relationships()` at start. */
  relationship: Address | undefined;
  startBlock: bigint;
  provider: { name: string; account: Address; gatekeeperUrl: string };
  delegateMnemonic: string;
  sponsorPrivateKey: Hex;
  limits: {
    delegateMinBalance: bigint;
    delegateFund: bigint;
    sponsorTopUp: bigint;
    sponsorAddressDaily: bigint;
    sponsorTotalDaily: bigint;
  };
  view: { pollIntervalMs: number; maxStalenessMs: number; maxLagBlocks: number; maxHeadAgeSeconds: number };
  rpcTimeoutMs: number;
  receiptTimeoutMs: number;
};

/**
 * Fills unset values from the network manifest (MEDREC_MANIFEST or `.medrec/network.json`), which
 * is read only when something is missing.
 *
 * @throws {ChainConfigError} naming what is missing.
 */
export async function resolveChainSettings(
  config: ChainConfig & { PUBLIC_URL: string },
  { manifestPath }: { manifestPath?: string } = {},
): Promise<ChainSettings> {
  const needsManifest =
    !config.CHAIN_RPC_URL ||
    config.CHAIN_ID === undefined ||
    !config.AGENT_ADDRESS ||
    !config.PROVIDER_NAME ||
    !config.PROVIDER_ACCOUNT;
  const manifest = needsManifest ? await readManifest(manifestPath).catch(() => undefined) : undefined;
  const self = manifest?.providers.find(
    (p) =>
      p.gatekeeperUrl.replace(/\/$/, "") === config.PUBLIC_URL.replace(/\/$/, "") ||
      (config.PROVIDER_ACCOUNT !== undefined && p.account === config.PROVIDER_ACCOUNT),
  );
  const contracts = (manifest?.contracts ?? {}) as Record<string, Address | undefined>;
  const deployBlock = (manifest as { deployBlock?: unknown } | undefined)?.deployBlock;

  const missing: string[] = [];
  const need = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) missing.push(name);
    return value as T;
  };
  const settings: ChainSettings = {
    rpcUrl: need(config.CHAIN_RPC_URL ?? self?.rpcUrl ?? manifest?.rpcUrl, "CHAIN_RPC_URL"),
    chainId: need(config.CHAIN_ID ?? manifest?.chainId, "CHAIN_ID"),
    agent: need(config.AGENT_ADDRESS ?? contracts.Agent, "AGENT_ADDRESS"),
    relationship: config.RELATIONSHIP_ADDRESS ?? contracts.Relationship,
    startBlock:
      config.CHAIN_START_BLOCK ??
      (typeof deployBlock === "number" || typeof deployBlock === "string" ? BigInt(deployBlock) : 0n),
    provider: {
      name: need(config.PROVIDER_NAME ?? self?.name, "PROVIDER_NAME"),
      account: need(config.PROVIDER_ACCOUNT ?? self?.account, "PROVIDER_ACCOUNT"),
      gatekeeperUrl: config.PUBLIC_URL,
    },
    delegateMnemonic: need(config.DELEGATE_MNEMONIC, "DELEGATE_MNEMONIC"),
    sponsorPrivateKey: need(config.SPONSOR_PRIVATE_KEY, "SPONSOR_PRIVATE_KEY"),
    limits: {
      delegateMinBalance: config.DELEGATE_MIN_BALANCE_ETH,
      delegateFund: config.DELEGATE_FUND_ETH,
      sponsorTopUp: config.SPONSOR_TOP_UP_ETH,
      sponsorAddressDaily: config.SPONSOR_ADDRESS_DAILY_ETH,
      sponsorTotalDaily: config.SPONSOR_TOTAL_DAILY_ETH,
    },
    view: {
      pollIntervalMs: config.CHAIN_POLL_INTERVAL_MS,
      maxStalenessMs: config.CHAIN_MAX_STALENESS_MS,
      maxLagBlocks: config.CHAIN_MAX_LAG_BLOCKS,
      maxHeadAgeSeconds: config.CHAIN_MAX_HEAD_AGE_SECONDS,
    },
    rpcTimeoutMs: config.CHAIN_RPC_TIMEOUT_MS,
    receiptTimeoutMs: config.CHAIN_RECEIPT_TIMEOUT_MS,
  };
  if (missing.length > 0)
    throw new ChainConfigError("The chain settings are incomplete.", {
      metaMessages: missing.map((m) => `${m}: required (no network manifest provides it)`),
    });
  if (settings.limits.delegateFund <= settings.limits.delegateMinBalance)
    throw new ChainConfigError("DELEGATE_FUND_ETH must be more than DELEGATE_MIN_BALANCE_ETH.");
  return settings;
}
