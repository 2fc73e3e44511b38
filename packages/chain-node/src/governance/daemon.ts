/**
 * The governance daemon: turns `AgentRegistry` membership into Clique votes on ONE node — start-up
 * checks and reconciliation, then a polling loop over the registry's signer events.
 */
import { agentRegistryAbi } from "@medrec/protocol";
import {
  type Address,
  decodeFunctionResult,
  encodeFunctionData,
  getAddress,
  type Hex,
  isAddress,
} from "viem";
import { BaseError } from "../errors.ts";
import { cliqueDiscard, cliqueGetSigners, cliqueProposals, cliquePropose, ipcRpc } from "../ipc.ts";
import { DEFAULT_RPC_TIMEOUT_MS, httpRpc, type RpcOptions } from "../rpc.ts";
import { type GovernanceCursor, parseCursor, readCursor, serializeCursor, writeCursor } from "./cursor.ts";
import { GovernanceParametersError, RegistryMismatchError, RegistryNotFoundError } from "./errors.ts";
import { parseSignerLogs, type RpcLog, type SignerEvent, signerLogFilter } from "./events.ts";
import { type PlannedVote, planVotes, type SignerDrift, signerDrift } from "./plan.ts";
import { lowerSet, toHex } from "./shared.ts";

/** Default confirmations: only blocks this deep below the head are processed. */
export const DEFAULT_CONFIRMATIONS = 2;
/** Default largest block range of one `eth_getLogs`. */
export const DEFAULT_MAX_BLOCK_RANGE = 1000;
/** Blocks the cursor moves back when the block it points at was replaced (a reorg below it). */
export const REORG_REWIND_BLOCKS = 64;

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

function jsonBigInt(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
