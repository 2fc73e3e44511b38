import { getAddress, isAddress } from "viem";
import { BaseError } from "./errors.ts";

/** MedRec's default chain id (not registered on chainlist; never 1). */
export const DEFAULT_CHAIN_ID = 633732;
/** Clique's default epoch: votes reset and a signer checkpoint every 30 000 blocks. */
export const DEFAULT_EPOCH = 30_000;
/** Default block gas limit; also passed to the sealers as `--miner.gaslimit` so it stays put. */
export const DEFAULT_GAS_LIMIT = 30_000_000n;

const MIN_GAS_LIMIT = 5_000_000n;
// geth's params.MaxGasLimit (a header's gas limit must fit in an int64).
const MAX_GAS_LIMIT = 2n ** 63n - 1n;
const MAX_BALANCE = 2n ** 256n - 1n;
const MAX_PERIOD = 3600;

/** Parameters of {@link buildGenesis}. */
export type BuildGenesisParameters = {
  /** EIP-155 chain id: a positive safe integer, never 1 (mainnet). */
  chainId: number;
  /** Seconds between blocks, 1…3600. (0 is Clique's seal-on-demand mode, which a shared chain must not run.) */
  periodSeconds: number;
  /** Block gas limit, 5 000 000 … 2^63−1. Default {@link DEFAULT_GAS_LIMIT}. */
  gasLimit?: number | bigint;
  /** The initial Clique signers (the providers' sealer accounts). Any order; any case. */
  sealers: readonly string[];
  /** Prefunded accounts: address → balance in wei, as a decimal or 0x-hex string or a bigint. */
  alloc?: Readonly<Record<string, string | bigint>>;
  /** Clique epoch length in blocks. Default {@link DEFAULT_EPOCH}. */
  epoch?: number;
  /** Genesis timestamp (seconds). Default 0, so the same parameters always give the same genesis hash. */
  timestamp?: number;
};

/** The genesis JSON that `geth init` reads (only the fields MedRec sets). */
export type Genesis = {
  config: GenesisConfig;
  nonce: "0x0";
  timestamp: `0x${string}`;
  extraData: `0x${string}`;
  gasLimit: `0x${string}`;
  difficulty: "0x1";
  mixHash: `0x${string}`;
  coinbase: `0x${string}`;
  alloc: Record<string, { balance: `0x${string}` }>;
  number: "0x0";
  gasUsed: "0x0";
  parentHash: `0x${string}`;
};

/**
 * geth 1.13's `params.ChainConfig` as MedRec sets it: every block-numbered fork up to Gray Glacier
 * at block 0, and deliberately nothing after London's family — see {@link buildGenesis}.
 */
export type GenesisConfig = {
  chainId: number;
  homesteadBlock: 0;
  eip150Block: 0;
  eip155Block: 0;
  eip158Block: 0;
  byzantiumBlock: 0;
  constantinopleBlock: 0;
  petersburgBlock: 0;
  istanbulBlock: 0;
  muirGlacierBlock: 0;
  berlinBlock: 0;
  londonBlock: 0;
  arrowGlacierBlock: 0;
  grayGlacierBlock: 0;
  clique: { period: number; epoch: number };
};

/** One problem with the genesis parameters. */
export type GenesisIssue = { field: string; message: string };

/** Thrown by {@link buildGenesis} when a parameter is invalid; lists every problem found. */
export class GenesisParametersError extends BaseError {
  override name = "GenesisParametersError" as const;
  /** Every problem found, each naming its field. */
  readonly issues: readonly GenesisIssue[];
  constructor(issues: readonly GenesisIssue[]) {
    const first = issues[0];
    super(`Invalid genesis parameters: ${first ? `${first.field}: ${first.message}` : "unknown"}`, {
      metaMessages: issues.map((i) => `${i.field}: ${i.message}`),
    });
    this.issues = issues;
  }
}

const ZERO32 = "00".repeat(32);
const VANITY = ZERO32; // 32 bytes of signer vanity
const SEAL = "00".repeat(65); // room for the signer's 65-byte seal, zero in the genesis block

/**
 * Builds a geth v1.13.15 Clique genesis.
 *
 * Forks: Homestead … London, Arrow Glacier and Gray Glacier activate at block 0. There is no
 * `shanghaiTime`/`cancunTime` — geth 1.13's Clique rejects any Shanghai header ("clique does not
 * support shanghai fork") — and no `terminalTotalDifficulty` / `terminalTotalDifficultyPassed`:
 * either would tell geth the chain is post-merge and make it wait for a beacon client instead of
 * sealing. Contracts therefore compile for `paris` (no PUSH0).
 *
 * `extraData` = 32 zero bytes of vanity ‖ the sealers sorted ascending (20 bytes each) ‖ 65 zero
 * bytes for the seal — the layout Clique reads its initial signer list from.
 *
 * @throws {GenesisParametersError} listing every invalid parameter.
 */
export function buildGenesis(parameters: BuildGenesisParameters): Genesis {
  const issues: GenesisIssue[] = [];
  const { chainId, periodSeconds, sealers } = parameters;
  const epoch = parameters.epoch ?? DEFAULT_EPOCH;
  const timestamp = parameters.timestamp ?? 0;

  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    issues.push({ field: "chainId", message: `must be a positive integer, got ${String(chainId)}` });
  } else if (chainId === 1) {
    issues.push({
      field: "chainId",
      message: "must not be 1 (Ethereum mainnet): transactions would be replayable there",
    });
  }

  if (!Number.isInteger(periodSeconds) || periodSeconds <= 0 || periodSeconds > MAX_PERIOD) {
    issues.push({
      field: "periodSeconds",
      message: `must be an integer from 1 to ${MAX_PERIOD}, got ${String(periodSeconds)} (0 would make Clique seal only on demand, when a transaction arrives)`,
    });
  }

  let gasLimit = DEFAULT_GAS_LIMIT;
  if (parameters.gasLimit !== undefined) {
    const g = toBigInt(parameters.gasLimit);
    if (g === undefined || g < MIN_GAS_LIMIT || g > MAX_GAS_LIMIT) {
      issues.push({
        field: "gasLimit",
        message: `must be an integer from ${MIN_GAS_LIMIT} to 2^63-1, got ${String(parameters.gasLimit)}`,
      });
    } else gasLimit = g;
  }

  if (!Number.isSafeInteger(epoch) || epoch <= 0) {
    issues.push({ field: "epoch", message: `must be a positive integer, got ${String(epoch)}` });
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    issues.push({ field: "timestamp", message: `must be a non-negative integer, got ${String(timestamp)}` });
  }

  const sealerHex: string[] = [];
  if (!Array.isArray(sealers) || sealers.length === 0) {
    issues.push({ field: "sealers", message: "must list at least one sealer address" });
  } else {
    const seen = new Set<string>();
    sealers.forEach((s, i) => {
      if (typeof s !== "string" || !isAddress(s, { strict: false })) {
        issues.push({ field: `sealers[${i}]`, message: `is not a 20-byte hex address: ${String(s)}` });
        return;
      }
      const lower = s.toLowerCase();
      if (seen.has(lower)) {
        issues.push({ field: `sealers[${i}]`, message: `duplicates another sealer: ${getAddress(lower)}` });
        return;
      }
      seen.add(lower);
      sealerHex.push(lower.slice(2));
    });
  }

  const alloc: Genesis["alloc"] = {};
  for (const [address, balance] of Object.entries(parameters.alloc ?? {})) {
    if (!isAddress(address, { strict: false })) {
      issues.push({ field: `alloc.${address}`, message: "is not a 20-byte hex address" });
      continue;
    }
    const wei = typeof balance === "bigint" ? balance : parseQuantity(balance);
    if (wei === undefined || wei < 0n || wei > MAX_BALANCE) {
      issues.push({
        field: `alloc.${address}`,
        message: `balance must be a decimal or 0x-hex string of a wei amount below 2^256, got ${String(balance)}`,
      });
      continue;
    }
    const key = address.toLowerCase().slice(2);
    if (key in alloc) {
      issues.push({ field: `alloc.${address}`, message: "appears twice (addresses are case-insensitive)" });
      continue;
    }
    alloc[key] = { balance: `0x${wei.toString(16)}` };
  }

  if (issues.length > 0) throw new GenesisParametersError(issues);

  // Lower-case hex of equal length sorts like the 20-byte numbers: Clique's signer order.
  sealerHex.sort();
  return {
    config: {
      chainId,
      homesteadBlock: 0,
      eip150Block: 0,
      eip155Block: 0,
      eip158Block: 0,
      byzantiumBlock: 0,
      constantinopleBlock: 0,
      petersburgBlock: 0,
      istanbulBlock: 0,
      muirGlacierBlock: 0,
      berlinBlock: 0,
      londonBlock: 0,
      arrowGlacierBlock: 0,
      grayGlacierBlock: 0,
      clique: { period: periodSeconds, epoch },
    },
    nonce: "0x0",
    timestamp: `0x${timestamp.toString(16)}`,
    extraData: `0x${VANITY}${sealerHex.join("")}${SEAL}`,
    gasLimit: `0x${gasLimit.toString(16)}`,
    difficulty: "0x1",
    mixHash: `0x${ZERO32}`,
    coinbase: `0x${"00".repeat(20)}`,
    alloc,
    number: "0x0",
    gasUsed: "0x0",
    parentHash: `0x${ZERO32}`,
  };
}

/**
 * Reads the sealer addresses back out of a Clique genesis `extraData` (checksummed, in order).
 *
 * @throws {GenesisParametersError} when the layout is wrong.
 */
export function sealersFromExtraData(extraData: string): `0x${string}`[] {
  const hex = extraData.startsWith("0x") ? extraData.slice(2) : extraData;
  const body = hex.length - 2 * (32 + 65);
  if (!/^[0-9a-fA-F]*$/.test(hex) || body < 0 || body % 40 !== 0) {
    throw new GenesisParametersError([
      { field: "extraData", message: "must be 32 bytes vanity ‖ n×20 bytes signers ‖ 65 bytes seal" },
    ]);
  }
  const out: `0x${string}`[] = [];
  for (let i = 64; i < 64 + body; i += 40) out.push(getAddress(`0x${hex.slice(i, i + 40)}`));
  return out;
}

function toBigInt(value: number | bigint): bigint | undefined {
  if (typeof value === "bigint") return value;
  return Number.isSafeInteger(value) ? BigInt(value) : undefined;
}

function parseQuantity(value: unknown): bigint | undefined {
  if (typeof value !== "string") return undefined;
  if (/^[0-9]+$/.test(value) || /^0x[0-9a-fA-F]+$/.test(value)) return BigInt(value);
  return undefined;
}
