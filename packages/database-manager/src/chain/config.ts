/**
 * The chain part's configuration: a zod fragment the integrator merges into `configSchema`
 * (config.ts), and {@link resolveChainSettings}, which fills what is unset from the network manifest.
 * Three values are secrets (DELEGATE_MNEMONIC, RELAYER_PRIVATE_KEY, RELAY_MEMBER_KEY): validation messages never echo
 * values, and nothing here logs them.
 */

import { BaseError, isValidMnemonic, rpcUrlSchema } from "@medrec/protocol";
import { readManifest } from "@medrec/protocol/node";
import { type Address, getAddress, type Hex, parseEther, zeroAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";
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
const privateKey = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 0x followed by 64 hex digits (the value is not shown)")
  .transform((k) => k as Hex);

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
  /**
   * Secret: the relayer's private key — the account that pays the gas of the forward requests this
   * gatekeeper relays (POST /v1/relay). Funded at genesis; never a delegate's, the audit log's or
   * the provider's key (refused at start-up). Nothing sends it ether but whoever runs the network.
   */
  RELAYER_PRIVATE_KEY: privateKey.optional(),
  /** @deprecated Read as RELAYER_PRIVATE_KEY when that is unset (the faucet is retired). */
  SPONSOR_PRIVATE_KEY: privateKey.optional(),
  /** The MedRecForwarder (ERC-2771); default: the manifest's `contracts.Forwarder`, else `Agent.trustedForwarder()`. */
  FORWARDER_ADDRESS: address.optional(),
  /** The AgentRegistry (other providers' relays); default: the manifest's `contracts.AgentRegistry`. */
  AGENT_REGISTRY_ADDRESS: address.optional(),
  /** /healthz reports `degraded` (still 200) while the relayer holds less than this. */
  RELAYER_MIN_BALANCE_ETH: ether.default(parseEther("1")),
  /** Largest `gas` a relayed request may ask for its call. */
  RELAY_GAS_CAP: z.coerce.number().int().min(21_000).max(30_000_000).default(1_000_000),
  /** Requests relayed for one budget key (a linked agent, a relationship, an open-lane signer) in any 24 h (adr/0013). */
  RELAY_SIGNER_DAILY_REQUESTS: z.coerce.number().int().min(1).max(1_000_000).default(500),
  /** Linked and open-lane requests relayed together in any 24 h (the protective lane is not counted: adr/0013). */
  RELAY_DAILY_REQUESTS: z.coerce.number().int().min(1).max(100_000_000).default(20_000),
  /** Gas (receipts' gasUsed; a gas limit while in flight) of linked and open-lane requests in any 24 h. */
  RELAY_DAILY_GAS: z.coerce.bigint().min(100_000n).default(2_000_000_000n),
  /** Open-lane requests (work of keys no relationship links: fresh registrations, creations) in any 24 h. */
  RELAY_OPEN_DAILY_REQUESTS: z.coerce.number().int().min(0).max(10_000_000).default(1_000),
  /** Gas (as RELAY_DAILY_GAS) of open-lane requests in any 24 h: what a stranger can make this relayer spend. */
  RELAY_OPEN_DAILY_GAS: z.coerce.bigint().min(0n).default(300_000_000n),
  /** Protective requests (revoke, end, recovery cancel, custodian removal) per linked agent or relationship in any 24 h. */
  RELAY_PROTECTIVE_DAILY_REQUESTS: z.coerce.number().int().min(1).max(1_000_000).default(100),
  /** Linked and open-lane transactions this relayer may have unmined at once (protective ones never wait behind more). */
  RELAY_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(10_000).default(32),
  /**
   * Secret: the consortium's shared member voucher key (adr/0013 "Member vouchers"), the same on
   * every gatekeeper. This gatekeeper signs a voucher with it for each of its own requests it sends
   * through a peer's relay; its relay serves requests vouched by it in the member lane. Unset: no
   * vouchers are sent, and a relay with no RELAY_MEMBER_ADDRESSES ignores the ones it gets.
   */
  RELAY_MEMBER_KEY: privateKey.optional(),
  /** Further member addresses whose vouchers this relay accepts, comma-separated (a key rotation: the old and the new). */
  RELAY_MEMBER_ADDRESSES: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? "")
        .split(",")
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(address)),
  /** Vouched requests (the member lane) relayed in any 24 h: apart from the open lane and the daily totals. */
  RELAY_MEMBER_DAILY_REQUESTS: z.coerce.number().int().min(0).max(10_000_000).default(20_000),
  /** Gas (as RELAY_DAILY_GAS) of member-lane requests in any 24 h. */
  RELAY_MEMBER_DAILY_GAS: z.coerce.bigint().min(0n).default(4_000_000_000n),
  /** POST /v1/relay calls per client address per minute (no session: the signature is the authentication). */
  RELAY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(300),
  /** Timeout of one submission to another provider's relay. */
  RELAY_PEER_TIMEOUT_MS: ms(200, 60_000).default(5_000),
  /** How long the other providers' gatekeeper URLs (from AgentRegistry) are cached. */
  RELAY_PEERS_REFRESH_MS: ms(1_000, 3_600_000).default(60_000),
  /**
   * When no other provider's relay has answered for this long, this provider's own transactions
   * go through its own relay (which links them to it: adr/0006). Unset (default): never — they
   * wait and are retried, and /healthz says so.
   */
  RELAY_OWN_FALLBACK_AFTER_MS: ms(0, 86_400_000).optional(),
  /** How often the chain view asks the node for new blocks (eth_getLogs). */
  CHAIN_POLL_INTERVAL_MS: ms(50, 60_000).default(250),
  /**
   * The freshness bound (adr/0011, docs/protocol.md "Freshness and revocation"): a read is served
   * only if a poll that started at most this long ago confirmed the node's head and applied it,
   * and that head's timestamp is at most the block period + this old (a node cut off from the
   * sealers). A revocation in block N is enforced for every read that starts after N's timestamp
   * + period + this bound.
   */
  CHAIN_MAX_STALENESS_MS: ms(500, 600_000).default(3_000),
  /** … and the view is at most this many blocks behind the node's head as of its last poll. */
  CHAIN_MAX_LAG_BLOCKS: z.coerce.number().int().min(0).max(1000).default(2),
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

/** The relay's limits and its use of other providers' relays (chain/config.ts variables RELAY_*). */
export type RelaySettings = {
  gasCap: bigint;
  signerDailyRequests: number;
  dailyRequests: number;
  dailyGas: bigint;
  /** The open lane's daily requests and gas (adr/0013). */
  openDailyRequests: number;
  openDailyGas: bigint;
  /** The member voucher key this gatekeeper signs its own requests' vouchers with (undefined: none). */
  memberKey: Hex | undefined;
  /** The member addresses whose vouchers this relay accepts (the key's, and RELAY_MEMBER_ADDRESSES). */
  members: Address[];
  /** The member lane's daily requests and gas (adr/0013 "Member vouchers"). */
  memberDailyRequests: number;
  memberDailyGas: bigint;
  /** Protective requests per budget key per day. */
  protectiveDailyRequests: number;
  /** Unmined linked and open-lane transactions at once. */
  maxInFlight: number;
  /** Wei; below it /healthz reports degraded. */
  minBalance: bigint;
  ratePerMinute: number;
  peerTimeoutMs: number;
  peersRefreshMs: number;
  /** Undefined: never relay this provider's own transactions through its own relay while others exist. */
  ownFallbackAfterMs: number | undefined;
};

/** The chain view's limits and the RPC timeout from the configuration (the production defaults when unset). */
export function viewSettingsOf(config: ChainConfig): Pick<ChainSettings, "view" | "rpcTimeoutMs"> {
  return {
    view: {
      pollIntervalMs: config.CHAIN_POLL_INTERVAL_MS,
      maxStalenessMs: config.CHAIN_MAX_STALENESS_MS,
      maxLagBlocks: config.CHAIN_MAX_LAG_BLOCKS,
    },
    rpcTimeoutMs: config.CHAIN_RPC_TIMEOUT_MS,
  };
}

/** The member addresses a relay accepts vouchers from: `key`'s and `others`, each once. */
export function membersOf(key: Hex | undefined, others: readonly Address[] = []): Address[] {
  return [...new Set([...(key ? [privateKeyToAccount(key).address] : []), ...others])];
}

/** The relay settings of a configuration. */
export function relaySettingsOf(config: ChainConfig): RelaySettings {
  return {
    gasCap: BigInt(config.RELAY_GAS_CAP),
    signerDailyRequests: config.RELAY_SIGNER_DAILY_REQUESTS,
    dailyRequests: config.RELAY_DAILY_REQUESTS,
    dailyGas: config.RELAY_DAILY_GAS,
    openDailyRequests: config.RELAY_OPEN_DAILY_REQUESTS,
    openDailyGas: config.RELAY_OPEN_DAILY_GAS,
    memberKey: config.RELAY_MEMBER_KEY,
    members: membersOf(config.RELAY_MEMBER_KEY, config.RELAY_MEMBER_ADDRESSES),
    memberDailyRequests: config.RELAY_MEMBER_DAILY_REQUESTS,
    memberDailyGas: config.RELAY_MEMBER_DAILY_GAS,
    protectiveDailyRequests: config.RELAY_PROTECTIVE_DAILY_REQUESTS,
    maxInFlight: config.RELAY_MAX_IN_FLIGHT,
    minBalance: config.RELAYER_MIN_BALANCE_ETH,
    ratePerMinute: config.RELAY_RATE_LIMIT_PER_MINUTE,
    peerTimeoutMs: config.RELAY_PEER_TIMEOUT_MS,
    peersRefreshMs: config.RELAY_PEERS_REFRESH_MS,
    ownFallbackAfterMs: config.RELAY_OWN_FALLBACK_AFTER_MS,
  };
}

/** The defaults of {@link RelaySettings}, with `overrides` (tests). */
export const defaultRelaySettings = (overrides: Partial<RelaySettings> = {}): RelaySettings => ({
  ...relaySettingsOf(chainConfigSchema.parse({})),
  ...overrides,
});

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
  /** The relayer's key (RELAYER_PRIVATE_KEY): pays the gas of what this gatekeeper relays. */
  relayerPrivateKey: Hex;
  /** The MedRecForwarder every relayed request goes through (zero: `Agent.trustedForwarder()`, see connectChain). */
  forwarder: Address;
  /** AgentRegistry: where other providers' relays are listed. Undefined: no other relay is known. */
  registry: Address | undefined;
  relay: RelaySettings;
  /** The chain view's poll interval and freshness bound (CHAIN_POLL_INTERVAL_MS, CHAIN_MAX_STALENESS_MS, CHAIN_MAX_LAG_BLOCKS). */
  view: { pollIntervalMs: number; maxStalenessMs: number; maxLagBlocks: number };
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
    relayerPrivateKey: need(config.RELAYER_PRIVATE_KEY ?? config.SPONSOR_PRIVATE_KEY, "RELAYER_PRIVATE_KEY"),
    // Default: the manifest's, else (zero) the one Agent trusts, read from the node by connectChain.
    forwarder: config.FORWARDER_ADDRESS ?? contracts.Forwarder ?? zeroAddress,
    registry: config.AGENT_REGISTRY_ADDRESS ?? contracts.AgentRegistry,
    relay: relaySettingsOf(config),
    ...viewSettingsOf(config),
    receiptTimeoutMs: config.CHAIN_RECEIPT_TIMEOUT_MS,
  };
  if (missing.length > 0)
    throw new ChainConfigError("The chain settings are incomplete.", {
      metaMessages: missing.map((m) => `${m}: required (no network manifest provides it)`),
    });
  // Every member holds the member key: as a relayer's key it would let any member spend that relayer's ether.
  if (settings.relay.memberKey?.toLowerCase() === settings.relayerPrivateKey.toLowerCase())
    throw new ChainConfigError(
      "RELAY_MEMBER_KEY is the relayer's key (RELAYER_PRIVATE_KEY): the member key is shared by every gatekeeper of the consortium; use a key that holds nothing.",
    );
  return settings;
}
