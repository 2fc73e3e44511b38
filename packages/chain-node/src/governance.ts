/**
 * The governance daemon: turns `AgentRegistry` membership into Clique votes on ONE node.
 *
 * The registry is authoritative. The daemon never replays an event as a vote; an event only says
 * "look at this address again". The vote to cast is derived from state — desired: the registry's
 * `signers()` at a confirmed block; actual: `clique_getSigners` and this node's `clique_proposals` —
 * so replaying logs or restarting never casts a second or a conflicting vote (see {@link planVotes}).
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { agentRegistryAbi } from "@medrec/protocol";
import {
  type Address,
  decodeFunctionResult,
  encodeFunctionData,
  getAddress,
  type Hex,
  isAddress,
  toEventSelector,
} from "viem";
import { BaseError } from "./errors.ts";
import { cliqueDiscard, cliqueGetSigners, cliqueProposals, cliquePropose, ipcRpc } from "./ipc.ts";
import { DEFAULT_RPC_TIMEOUT_MS, httpRpc, type RpcOptions } from "./rpc.ts";

/** topic0 of `SignerAdded(address)`. */
export const SIGNER_ADDED_TOPIC: Hex = toEventSelector("SignerAdded(address)");
/** topic0 of `SignerRemoved(address)`. */
export const SIGNER_REMOVED_TOPIC: Hex = toEventSelector("SignerRemoved(address)");

/** Default confirmations: only blocks this deep below the head are processed. */
export const DEFAULT_CONFIRMATIONS = 2;
/** Default largest block range of one `eth_getLogs`. */
export const DEFAULT_MAX_BLOCK_RANGE = 1000;
/** Blocks the cursor moves back when the block it points at was replaced (a reorg below it). */
export const REORG_REWIND_BLOCKS = 64;

// ---------------------------------------------------------------------------------------- errors

/** Invalid daemon parameters (address, URL, numbers). */
export class GovernanceParametersError extends BaseError {
  override name = "GovernanceParametersError" as const;
}

/** The registry address holds no contract (wrong address, or another chain). */
export class RegistryNotFoundError extends BaseError {
  override name = "RegistryNotFoundError" as const;
  constructor({ address, rpcUrl }: { address: string; rpcUrl: string }) {
    super(`No contract at the registry address ${address} on ${rpcUrl}.`, {
      metaMessages: ["Check the AgentRegistry address and that the node belongs to the right network."],
    });
  }
}

/** The contract at the registry address does not answer like an AgentRegistry, or shares no signer with Clique. */
export class RegistryMismatchError extends BaseError {
  override name = "RegistryMismatchError" as const;
}

/** The cursor file exists but cannot be used. */
export class CursorFileError extends BaseError {
  override name = "CursorFileError" as const;
  constructor({ path, problem, cause }: { path: string; problem: string; cause?: unknown }) {
    super(`The governance cursor file ${path} is invalid: ${problem}.`, {
      cause,
      metaMessages: [
        "Fix or delete it: without a cursor the daemon reconciles the registry with Clique and starts from the confirmed head.",
      ],
    });
  }
}

// ---------------------------------------------------------------------------------------- pure parts

/** What this node's Clique vote about one address should be. */
export type PlannedVote =
  | { kind: "propose"; address: Address; authorize: boolean }
  | {
      kind: "discard";
      address: Address;
      /** `applied`: Clique already has the registry's answer; `conflicting`: the vote contradicts the registry. */
      reason: "applied" | "conflicting";
    };

/** Registry signers vs Clique signers. */
export type SignerDrift = {
  inSync: boolean;
  /** Registry signers Clique does not have yet. */
  missingFromClique: Address[];
  /** Clique signers the registry no longer (or never) listed. */
  notInRegistry: Address[];
};

/** The difference between the registry's signer set and Clique's. */
export function signerDrift(
  registrySigners: readonly string[],
  cliqueSigners: readonly string[],
): SignerDrift {
  const desired = lowerSet(registrySigners);
  const actual = lowerSet(cliqueSigners);
  const missingFromClique = [...desired].filter((a) => !actual.has(a)).map((a) => getAddress(a));
  const notInRegistry = [...actual].filter((a) => !desired.has(a)).map((a) => getAddress(a));
  return {
    inSync: missingFromClique.length === 0 && notInRegistry.length === 0,
    missingFromClique,
    notInRegistry,
  };
}

/**
 * The votes that move this node's Clique state toward the registry — pure and idempotent.
 *
 * For each address in `scope` (default: every address the three inputs mention):
 * - registry and Clique disagree → `propose(address, registry says member)`, unless exactly that
 *   vote is already in `proposals` (never cast twice; a conflicting pending vote is replaced);
 * - they agree but this node still has a pending vote about it → `discard` (Clique applied the
 *   change, so stop voting; or the vote contradicts the registry).
 */
export function planVotes({
  desired,
  actual,
  proposals,
  scope,
}: {
  /** Registry signers (the authority). */
  desired: readonly string[];
  /** `clique_getSigners` at the node's head. */
  actual: readonly string[];
  /** `clique_proposals` of this node: address → authorize. */
  proposals: Readonly<Record<string, boolean>>;
  /** Only these addresses (e.g. the subjects of new events). */
  scope?: readonly string[];
}): PlannedVote[] {
  const want = lowerSet(desired);
  const have = lowerSet(actual);
  const pending = new Map(Object.entries(proposals).map(([a, v]) => [a.toLowerCase(), v]));
  const addresses = scope ? lowerSet(scope) : new Set([...want, ...have, ...pending.keys()]);
  const votes: PlannedVote[] = [];
  for (const a of [...addresses].sort()) {
    const member = want.has(a);
    const vote = pending.get(a);
    if (member !== have.has(a)) {
      if (vote !== member) votes.push({ kind: "propose", address: getAddress(a), authorize: member });
    } else if (vote !== undefined) {
      votes.push({
        kind: "discard",
        address: getAddress(a),
        reason: vote === member ? "applied" : "conflicting",
      });
    }
  }
  return votes;
}

/** One `SignerAdded` / `SignerRemoved` log of the registry. */
export type SignerEvent = {
  kind: "SignerAdded" | "SignerRemoved";
  signer: Address;
  blockNumber: bigint;
  blockHash: Hex;
  transactionHash: Hex;
  logIndex: number;
};

/** The raw log shape of `eth_getLogs`. */
export type RpcLog = {
  address: string;
  topics: readonly string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
  removed?: boolean;
};

/**
 * The `eth_getLogs` filter the daemon uses: the registry's ADDRESS and exactly the two signer
 * topics, over a closed block range. (MedRec v2's daemon matched any contract's log.)
 */
export function signerLogFilter(
  registry: string,
  fromBlock: bigint,
  toBlock: bigint,
): { address: Address; fromBlock: Hex; toBlock: Hex; topics: [[Hex, Hex]] } {
  if (toBlock < fromBlock) throw new GovernanceParametersError(`empty block range ${fromBlock}…${toBlock}`);
  return {
    address: getAddress(registry),
    fromBlock: toHex(fromBlock),
    toBlock: toHex(toBlock),
    topics: [[SIGNER_ADDED_TOPIC, SIGNER_REMOVED_TOPIC]],
  };
}

/**
 * Decodes signer events from `eth_getLogs` output, in chain order. Checks the filter again (defence
 * in depth against a node or proxy that ignores it): a log of another contract, with another
 * topic, or malformed, is skipped and returned in `ignored`.
 */
export function parseSignerLogs(
  logs: readonly RpcLog[],
  registry: string,
): { events: SignerEvent[]; ignored: RpcLog[] } {
  const events: SignerEvent[] = [];
  const ignored: RpcLog[] = [];
  const reg = registry.toLowerCase();
  for (const log of logs) {
    const topic0 = log.topics[0]?.toLowerCase();
    const topic1 = log.topics[1];
    const kind =
      topic0 === SIGNER_ADDED_TOPIC
        ? "SignerAdded"
        : topic0 === SIGNER_REMOVED_TOPIC
          ? "SignerRemoved"
          : undefined;
    if (
      log.removed === true ||
      log.address.toLowerCase() !== reg ||
      !kind ||
      log.topics.length !== 2 ||
      !topic1 ||
      !/^0x0{24}[0-9a-fA-F]{40}$/.test(topic1)
    ) {
      ignored.push(log);
      continue;
    }
    events.push({
      kind,
      signer: getAddress(`0x${topic1.slice(26)}`),
      blockNumber: BigInt(log.blockNumber),
      blockHash: log.blockHash as Hex,
      transactionHash: log.transactionHash as Hex,
      logIndex: Number(log.logIndex),
    });
  }
  events.sort((a, b) =>
    a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1,
  );
  return { events, ignored };
}

/** The cursor: the last block whose signer events are fully processed. */
export type GovernanceCursor = {
  version: 1;
  chainId: number;
  registry: Address;
  block: bigint;
  /** Hash of `block` when it was processed: a different hash later means a reorg below the cursor. */
  blockHash?: Hex;
};

/** Parses and checks a cursor file's text. @throws {CursorFileError} */
export function parseCursor(
  text: string,
  { path, chainId, registry }: { path: string; chainId?: number; registry?: string },
): GovernanceCursor {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new CursorFileError({ path, problem: "not JSON", cause });
  }
  const c = raw as Record<string, unknown> | null;
  if (!c || typeof c !== "object" || Array.isArray(c))
    throw new CursorFileError({ path, problem: "not a JSON object" });
  if (c.version !== 1)
    throw new CursorFileError({ path, problem: `unknown version ${JSON.stringify(c.version)}` });
  if (typeof c.chainId !== "number" || !Number.isSafeInteger(c.chainId) || c.chainId <= 0)
    throw new CursorFileError({ path, problem: "chainId must be a positive integer" });
  if (typeof c.registry !== "string" || !isAddress(c.registry, { strict: false }))
    throw new CursorFileError({ path, problem: "registry must be an address" });
  if (typeof c.block !== "string" || !/^\d+$/.test(c.block))
    throw new CursorFileError({ path, problem: "block must be a decimal string" });
  if (
    c.blockHash !== undefined &&
    (typeof c.blockHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(c.blockHash))
  )
    throw new CursorFileError({ path, problem: "blockHash must be a 32-byte hex string" });
  if (chainId !== undefined && c.chainId !== chainId)
    throw new CursorFileError({
      path,
      problem: `it belongs to chain ${c.chainId}, the node is on chain ${chainId}`,
    });
  if (registry !== undefined && c.registry.toLowerCase() !== registry.toLowerCase())
    throw new CursorFileError({
      path,
      problem: `it belongs to registry ${getAddress(c.registry)}, not ${getAddress(registry)}`,
    });
  return {
    version: 1,
    chainId: c.chainId,
    registry: getAddress(c.registry),
    block: BigInt(c.block),
    ...(typeof c.blockHash === "string" ? { blockHash: c.blockHash as Hex } : {}),
  };
}

/** The cursor file's text. */
export function serializeCursor(cursor: GovernanceCursor): string {
  return `${JSON.stringify({ ...cursor, block: cursor.block.toString() }, null, 2)}\n`;
}

/** Reads a cursor file; `undefined` when it does not exist. @throws {CursorFileError} */
export async function readCursor(
  path: string,
  expect: { chainId?: number; registry?: string } = {},
): Promise<GovernanceCursor | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CursorFileError({ path, problem: "cannot be read", cause });
  }
  return parseCursor(text, { path, ...expect });
}

/** Writes the cursor atomically: a temp file in the same directory, fsync, rename over the old one. */
export async function writeCursor(path: string, cursor: GovernanceCursor): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const file = await open(tmp, "wx", 0o600);
    try {
      await file.writeFile(serializeCursor(cursor), "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (cause) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new CursorFileError({ path, problem: "cannot be written", cause });
  }
}

// ---------------------------------------------------------------------------------------- the daemon

/** One structured log line. Never carries a key or password. */
export type GovernanceLogEntry = {
  level: "info" | "warn" | "error";
  /** What happened: `started`, `drift`, `signer-event`, `vote-cast`, `vote-pending`, `vote-discarded`, … */
  event: string;
  [field: string]: unknown;
};

/** A vote this daemon cast or withdrew on its node. */
export type CastRecord = {
  kind: "propose" | "discard";
  address: Address;
  /** For `propose`: add (true) or remove (false). */
  authorize?: boolean;
  /** For `discard`. */
  reason?: "applied" | "conflicting";
  /** The confirmed block whose registry state the vote follows. */
  block: bigint;
  at: string;
};

/** What start-up reconciliation found and did. */
export type ReconcileReport = {
  /** Block whose registry state was read. */
  block: bigint;
  registrySigners: Address[];
  cliqueSigners: Address[];
  /** This node's pending Clique votes before reconciliation. */
  proposals: Record<string, boolean>;
  drift: SignerDrift;
  /** Votes planned to close the drift (cast unless `dryRun`). */
  votes: PlannedVote[];
  dryRun: boolean;
};

/** Parameters of {@link startGovernanceDaemon}. */
export type GovernanceDaemonParameters = {
  /** This node's IPC socket (`clique_*` exists only there). */
  ipcPath: string;
  /** This node's HTTP JSON-RPC URL (eth namespace). */
  rpcUrl: string;
  /** The AgentRegistry address. */
  registry: string;
  /** Cursor file (created if missing; written atomically). */
  cursorPath: string;
  /** Process only blocks at least this many below the head. Default {@link DEFAULT_CONFIRMATIONS}. */
  confirmations?: number;
  /** Largest `eth_getLogs` range. Default {@link DEFAULT_MAX_BLOCK_RANGE}. */
  maxBlockRange?: number;
  /** Pause between polls. Default 1000 ms. */
  pollIntervalMs?: number;
  /** Without a cursor file: first block to read logs from. Default: the confirmed head (reconciliation covers the past). */
  fromBlock?: bigint;
  /** Timeout of every JSON-RPC call. Default 5 s. */
  timeoutMs?: number;
  /** Plan and report, never cast or discard. */
  dryRun?: boolean;
  /** Receives each log entry. Default: one JSON line on stdout. */
  log?: (entry: GovernanceLogEntry) => void;
  /**
   * Called after each vote is cast and before the cursor is written; awaited. A testing seam for
   * "killed mid-vote" (a promise that never settles freezes the daemon there).
   * @internal
   */
  onCast?: (record: CastRecord) => void | Promise<void>;
};

/** A running daemon's state. */
export type GovernanceStatus = {
  running: boolean;
  /** Last fully processed block. */
  cursor: bigint;
  /** Addresses whose vote is in flight (registry and Clique still disagree). */
  pending: Address[];
  /** Every cast and discard of this run, oldest first. */
  casts: CastRecord[];
  /** Signer events processed in this run (at most the last 1000). */
  events: SignerEvent[];
  /** The last loop error's message, cleared by the next good poll. */
  lastError?: string;
};

/** A running governance daemon. */
export type GovernanceDaemon = {
  readonly reconciliation: ReconcileReport;
  status(): GovernanceStatus;
  /** Stops polling after the current step; resolves when the loop has ended. */
  stop(): Promise<void>;
};

/** Default log sink: one JSON line per entry on stdout. */
export function jsonLineLogger(entry: GovernanceLogEntry): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry }, jsonBigInt)}\n`);
}

type Resolved = Required<Omit<GovernanceDaemonParameters, "fromBlock" | "onCast">> &
  Pick<GovernanceDaemonParameters, "fromBlock" | "onCast"> & { registry: Address };

function resolveParameters(p: GovernanceDaemonParameters): Resolved {
  const bad = (m: string) => new GovernanceParametersError(m);
  if (typeof p.registry !== "string" || !isAddress(p.registry, { strict: false }))
    throw bad(`registry must be an address, got ${String(p.registry)}`);
  if (!/^https?:\/\//.test(p.rpcUrl ?? ""))
    throw bad(`rpcUrl must be an http(s) URL, got ${String(p.rpcUrl)}`);
  if (!p.ipcPath) throw bad("ipcPath is required");
  if (!p.cursorPath) throw bad("cursorPath is required");
  const int = (name: string, v: number | undefined, dflt: number, min: number) => {
    const x = v ?? dflt;
    if (!Number.isSafeInteger(x) || x < min)
      throw bad(`${name} must be an integer ≥ ${min}, got ${String(v)}`);
    return x;
  };
  return {
    ipcPath: p.ipcPath,
    rpcUrl: p.rpcUrl,
    registry: getAddress(p.registry),
    cursorPath: p.cursorPath,
    confirmations: int("confirmations", p.confirmations, DEFAULT_CONFIRMATIONS, 0),
    maxBlockRange: int("maxBlockRange", p.maxBlockRange, DEFAULT_MAX_BLOCK_RANGE, 1),
    pollIntervalMs: int("pollIntervalMs", p.pollIntervalMs, 1000, 10),
    timeoutMs: int("timeoutMs", p.timeoutMs, DEFAULT_RPC_TIMEOUT_MS, 1),
    dryRun: p.dryRun ?? false,
    log: p.log ?? jsonLineLogger,
    ...(p.fromBlock !== undefined ? { fromBlock: p.fromBlock } : {}),
    ...(p.onCast ? { onCast: p.onCast } : {}),
  };
}

/** The registry's `signers()` at a block; `undefined` when there is no code there (yet). */
async function registrySigners(
  rpcUrl: string,
  registry: Address,
  block: bigint | "latest",
  options: RpcOptions,
): Promise<Address[] | undefined> {
  const data = encodeFunctionData({ abi: agentRegistryAbi, functionName: "signers" });
  const tag = block === "latest" ? block : toHex(block);
  const result = await httpRpc<Hex>(rpcUrl, "eth_call", [{ to: registry, data }, tag], options);
  if (result === "0x") return undefined;
  try {
    return [...decodeFunctionResult({ abi: agentRegistryAbi, functionName: "signers", data: result })];
  } catch (cause) {
    throw new RegistryMismatchError(
      `The contract at ${registry} does not answer signers() like an AgentRegistry.`,
      {
        cause,
      },
    );
  }
}

/**
 * Checks the node and the registry, reconciles (reports drift and casts the votes that close it),
 * and starts following the registry's signer events from the cursor.
 *
 * @throws {GovernanceParametersError} bad parameters.
 * @throws {CursorFileError} an unreadable or foreign cursor file.
 * @throws {RpcUnreachableError | RpcTimeoutError} geth does not answer over HTTP or IPC (each call times out).
 * @throws {RegistryNotFoundError} no code at the registry address.
 * @throws {RegistryMismatchError} not an AgentRegistry, or one sharing no signer with Clique.
 */
export async function startGovernanceDaemon(
  parameters: GovernanceDaemonParameters,
): Promise<GovernanceDaemon> {
  const p = resolveParameters(parameters);
  const rpc = { timeoutMs: p.timeoutMs };
  const log = (entry: GovernanceLogEntry) => {
    try {
      p.log(entry);
    } catch {
      // A failing log sink must not stop governance.
    }
  };

  // Syntax first: a broken cursor file is reported before anything touches the network.
  let cursor = await readCursor(p.cursorPath);
  const chainId = Number(await httpRpc<string>(p.rpcUrl, "eth_chainId", [], rpc));
  const ipcChainId = Number(await ipcRpc<string>(p.ipcPath, "eth_chainId", [], rpc));
  if (ipcChainId !== chainId)
    throw new GovernanceParametersError(
      `rpcUrl and ipcPath are different nodes: chain ${chainId} over HTTP, ${ipcChainId} over IPC.`,
    );
  if (cursor)
    cursor = parseCursor(serializeCursor(cursor), { path: p.cursorPath, chainId, registry: p.registry });
  const code = await httpRpc<string>(p.rpcUrl, "eth_getCode", [p.registry, "latest"], rpc);
  if (!code || code === "0x") throw new RegistryNotFoundError({ address: p.registry, rpcUrl: p.rpcUrl });

  const casts: CastRecord[] = [];
  const events: SignerEvent[] = [];
  let pending = new Set<string>();
  // "address:authorize" already reported as pending in this run (keeps the log quiet).
  const announced = new Set<string>();

  const safeHead = async () => {
    const head = BigInt(await httpRpc<string>(p.rpcUrl, "eth_blockNumber", [], rpc));
    return { head, safe: head - BigInt(p.confirmations) };
  };

  /** Registry at `block` (or latest when the registry is younger than that block), Clique now. */
  const readState = async (block: bigint) => {
    const desired =
      (block >= 0n ? await registrySigners(p.rpcUrl, p.registry, block, rpc) : undefined) ??
      (await registrySigners(p.rpcUrl, p.registry, "latest", rpc));
    if (!desired) throw new RegistryNotFoundError({ address: p.registry, rpcUrl: p.rpcUrl });
    const [actual, proposals] = await Promise.all([
      cliqueGetSigners(p.ipcPath, "latest", rpc),
      cliqueProposals(p.ipcPath, rpc),
    ]);
    if (
      desired.length > 0 &&
      actual.length > 0 &&
      signerDrift(desired, actual).missingFromClique.length === desired.length
    )
      throw new RegistryMismatchError(
        `The registry at ${p.registry} shares no signer with Clique; refusing to vote (wrong registry address?).`,
        { metaMessages: [`registry: ${desired.join(", ")}`, `clique: ${actual.join(", ")}`] },
      );
    return { desired, actual, proposals };
  };

  /** Casts/discards what {@link planVotes} says for `scope`; returns the addresses still in flight. */
  const converge = async (block: bigint, state: Awaited<ReturnType<typeof readState>>, scope?: string[]) => {
    const votes = planVotes({ ...state, ...(scope ? { scope } : {}) });
    const want = lowerSet(state.desired);
    const have = lowerSet(state.actual);
    const proposals = new Map(Object.entries(state.proposals).map(([a, v]) => [a.toLowerCase(), v]));
    for (const a of scope ?? [...want, ...have]) {
      const l = a.toLowerCase();
      const key = `${l}:${want.has(l)}`;
      if (want.has(l) !== have.has(l) && proposals.get(l) === want.has(l) && !announced.has(key)) {
        announced.add(key);
        log({ level: "info", event: "vote-pending", address: getAddress(l), authorize: want.has(l) });
      }
    }
    for (const vote of votes) {
      if (p.dryRun) {
        const key = `planned:${vote.address}:${vote.kind === "propose" ? vote.authorize : vote.kind}`;
        if (!announced.has(key)) log({ level: "info", event: "vote-planned", ...vote });
        announced.add(key);
        continue;
      }
      const record: CastRecord =
        vote.kind === "propose"
          ? {
              kind: "propose",
              address: vote.address,
              authorize: vote.authorize,
              block,
              at: new Date().toISOString(),
            }
          : {
              kind: "discard",
              address: vote.address,
              reason: vote.reason,
              block,
              at: new Date().toISOString(),
            };
      if (vote.kind === "propose") {
        await cliquePropose(p.ipcPath, vote.address, vote.authorize, rpc);
        casts.push(record);
        log({ level: "info", event: "vote-cast", address: vote.address, authorize: vote.authorize, block });
        await p.onCast?.(record);
      } else {
        await cliqueDiscard(p.ipcPath, vote.address, rpc);
        casts.push(record);
        log({ level: "info", event: "vote-discarded", address: vote.address, reason: vote.reason, block });
      }
    }
    const inFlight = new Set<string>();
    for (const a of scope ?? [...want, ...have]) {
      const l = a.toLowerCase();
      if (want.has(l) !== have.has(l)) inFlight.add(l);
    }
    return inFlight;
  };

  // ---- start-up reconciliation
  const { safe: startSafe } = await safeHead();
  const state0 = await readState(startSafe);
  const drift = signerDrift(state0.desired, state0.actual);
  const reconciliation: ReconcileReport = {
    block: startSafe < 0n ? 0n : startSafe,
    registrySigners: state0.desired.map((a) => getAddress(a)),
    cliqueSigners: state0.actual.map((a) => getAddress(a)),
    proposals: state0.proposals,
    drift,
    votes: planVotes(state0),
    dryRun: p.dryRun,
  };
  log({
    level: drift.inSync ? "info" : "warn",
    event: drift.inSync ? "in-sync" : "drift",
    block: reconciliation.block,
    missingFromClique: drift.missingFromClique,
    notInRegistry: drift.notInRegistry,
    votes: reconciliation.votes,
  });
  pending = await converge(reconciliation.block, state0);

  if (!cursor) {
    const block = p.fromBlock !== undefined ? p.fromBlock - 1n : reconciliation.block;
    cursor = { version: 1, chainId, registry: p.registry, block: block < 0n ? 0n : block };
    await writeCursor(p.cursorPath, cursor);
  }
  log({
    level: "info",
    event: "started",
    registry: p.registry,
    chainId,
    cursor: cursor.block,
    confirmations: p.confirmations,
    dryRun: p.dryRun,
  });

  // ---- the loop
  let running = true;
  let lastError: string | undefined;
  let lastWarning: string | undefined;
  let wake: (() => void) | undefined;
  const warnOnce = (event: string, fields: Record<string, unknown>) => {
    if (lastWarning === event) return;
    lastWarning = event;
    log({ level: "warn", event, ...fields });
  };

  const blockHash = async (n: bigint) =>
    (await httpRpc<{ hash: Hex } | null>(p.rpcUrl, "eth_getBlockByNumber", [toHex(n), false], rpc))?.hash;

  const tick = async () => {
    let c = cursor as GovernanceCursor;
    const syncing = await httpRpc<unknown>(p.rpcUrl, "eth_syncing", [], rpc);
    if (syncing !== false) return warnOnce("node-syncing", { detail: "waiting until the node has synced" });
    const { head, safe } = await safeHead();
    if (head < c.block) return warnOnce("node-behind", { head, cursor: c.block });
    if (c.blockHash && (await blockHash(c.block)) !== c.blockHash) {
      const back = c.block > BigInt(REORG_REWIND_BLOCKS) ? c.block - BigInt(REORG_REWIND_BLOCKS) : 0n;
      log({ level: "warn", event: "reorg-below-cursor", cursor: c.block, rewindTo: back });
      c = { version: 1, chainId, registry: p.registry, block: back };
      cursor = c;
      await writeCursor(p.cursorPath, c);
    }
    lastWarning = undefined;
    let progressed = false;
    while (running && c.block < safe) {
      const from = c.block + 1n;
      const to = safe - c.block > BigInt(p.maxBlockRange) ? c.block + BigInt(p.maxBlockRange) : safe;
      const logs = await httpRpc<RpcLog[]>(
        p.rpcUrl,
        "eth_getLogs",
        [signerLogFilter(p.registry, from, to)],
        rpc,
      );
      const { events: found, ignored } = parseSignerLogs(logs, p.registry);
      for (const l of ignored)
        log({
          level: "warn",
          event: "log-ignored",
          address: l.address,
          topic0: l.topics[0],
          block: l.blockNumber,
        });
      for (const e of found) {
        events.push(e);
        log({ level: "info", event: "signer-event", kind: e.kind, signer: e.signer, block: e.blockNumber });
      }
      if (events.length > 1000) events.splice(0, events.length - 1000);
      const scope = [...new Set([...pending, ...found.map((e) => e.signer.toLowerCase())])];
      if (scope.length > 0) pending = await converge(to, await readState(safe), scope);
      const hash = await blockHash(to);
      c = { version: 1, chainId, registry: p.registry, block: to, ...(hash ? { blockHash: hash } : {}) };
      await writeCursor(p.cursorPath, c);
      cursor = c;
      progressed = true;
    }
    if (!progressed && pending.size > 0) pending = await converge(safe, await readState(safe), [...pending]);
  };

  const loop = (async () => {
    while (running) {
      try {
        await tick();
        if (lastError) log({ level: "info", event: "recovered" });
        lastError = undefined;
      } catch (error) {
        const message =
          error instanceof BaseError ? error.shortMessage : String((error as Error)?.message ?? error);
        if (message !== lastError) log({ level: "error", event: "poll-failed", error: message });
        lastError = message;
      }
      if (!running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, p.pollIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  return {
    reconciliation,
    status: () => ({
      running,
      cursor: (cursor as GovernanceCursor).block,
      pending: [...pending].map((a) => getAddress(a)),
      casts: [...casts],
      events: [...events],
      ...(lastError ? { lastError } : {}),
    }),
    async stop() {
      running = false;
      wake?.();
      await loop;
      log({ level: "info", event: "stopped", cursor: (cursor as GovernanceCursor).block });
    },
  };
}

// ---------------------------------------------------------------------------------------- helpers

function lowerSet(addresses: readonly string[]): Set<string> {
  return new Set(addresses.map((a) => a.toLowerCase()));
}

function toHex(n: bigint): Hex {
  return `0x${n.toString(16)}`;
}

function jsonBigInt(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
