/**
 * The permission cache: every Agent and Relationship event since the deployment block, applied in
 * order, kept current by polling the node for new blocks with `eth_getLogs` (filtered by the two
 * contract addresses and the event topics the view needs).
 *
 * Why polling and not a WebSocket subscription: a subscription drops events silently while the
 * socket reconnects, so it needs the same cursor-and-backfill code anyway; polling a cursor is
 * exactly-once by construction, tells the view precisely how far behind the head it is (what
 * fail-closed needs), and on loopback costs two small requests per interval. At 250 ms it enforces
 * a revocation well within one block period (see the report in the chain tests).
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import { type Address, getAddress, type Hex, type Log, parseEventLogs, zeroHash } from "viem";
import { ProblemError } from "../errors.ts";
import { type HealthCheck, HealthCheckError } from "../ops/health.ts";
import type { ChainView, RelationshipView } from "../seams.ts";
import { type ChainClient, chainAbi } from "./client.ts";
import type { ChainSettings } from "./config.ts";

type AgentState = { owner: Address; custodians: Set<Address>; encryptionKey: Hex };
type Grant = { scopes: number; expiresAt: bigint };
type RelationshipState = RelationshipView & { grants: Map<Address, Grant> };

const EVENTS = [
  "AgentRegistered",
  "EncryptionKeyChanged",
  "OwnershipTransferred",
  "CustodianAdded",
  "CustodianRemoved",
  "RelationshipCreated",
  "RootPublished",
  "ViewerGranted",
  "ViewerRevoked",
  "RelationshipEnded",
] as const;
const AGENT_EVENTS = new Set<string>(EVENTS.slice(0, 5));
const eventAbi = chainAbi.filter(
  (x) => x.type === "event" && (EVENTS as readonly string[]).includes(x.name),
) as unknown as typeof chainAbi;
/** Blocks per eth_getLogs call while catching up. */
const CHUNK = 5_000n;

export type ViewState = { agents: Map<Address, AgentState>; relationships: Map<Hex, RelationshipState> };
export const createViewState = (): ViewState => ({ agents: new Map(), relationships: new Map() });
export type ApplyOptions = {
  /** The contracts whose events are trusted (an event counts only from the contract that defines it). */
  agent: Address;
  relationship: Address;
  /** Keeps only the relationships whose id (lowercase) it accepts; the others' logs are not even decoded. */
  keepRelationship?: (id: Hex) => boolean;
};

/**
 * Applies `logs` (any order-preserving slice of the two contracts' logs) to `state`: the pure part of
 * the view, exported so that `bench:view` replays a synthetic log stream through the same code.
 * `keepRelationship`, when given, drops the relationships it refuses (and so their roots and grants)
 * before decoding: every Relationship event's first topic after the signature is the relationship id.
 */
export function applyLogs(
  state: ViewState,
  logs: readonly Log[],
  { agent: agentContract, relationship: relationshipContract, keepRelationship }: ApplyOptions,
): void {
  const { agents, relationships } = state;
  const relationshipLower = relationshipContract.toLowerCase();
  const kept = keepRelationship
    ? logs.filter(
        (l) =>
          l.address.toLowerCase() !== relationshipLower ||
          keepRelationship((l.topics[1] ?? zeroHash).toLowerCase() as Hex),
      )
    : logs;
  const parsed = parseEventLogs({ abi: eventAbi, logs: kept as Log[], strict: true });
  for (const event of parsed) {
    const from = getAddress(event.address);
    const isAgentEvent = AGENT_EVENTS.has(event.eventName);
    // An event is trusted only from the contract that defines it.
    if (isAgentEvent ? from !== agentContract : from !== relationshipContract) continue;
    const a = event.args as Record<string, unknown>;
    switch (event.eventName) {
      case "AgentRegistered":
        agents.set(getAddress(a.agent as string), {
          owner: getAddress(a.owner as string),
          custodians: new Set(),
          encryptionKey: a.encryptionKey as Hex,
        });
        break;
      case "EncryptionKeyChanged": {
        const agent = agents.get(getAddress(a.agent as string));
        if (agent) agent.encryptionKey = a.encryptionKey as Hex;
        break;
      }
      case "OwnershipTransferred": {
        const agent = agents.get(getAddress(a.agent as string));
        if (agent) agent.owner = getAddress(a.newOwner as string);
        break;
      }
      case "CustodianAdded":
        agents.get(getAddress(a.agent as string))?.custodians.add(getAddress(a.custodian as string));
        break;
      case "CustodianRemoved":
        agents.get(getAddress(a.agent as string))?.custodians.delete(getAddress(a.custodian as string));
        break;
      case "RelationshipCreated": {
        const id = (a.id as Hex).toLowerCase() as Hex;
        relationships.set(id, {
          id,
          patientAgent: getAddress(a.patient as string),
          provider: getAddress(a.provider as string),
          ended: false,
          recordRoot: zeroHash,
          sequence: 0n,
          grants: new Map(),
        });
        break;
      }
      case "RootPublished": {
        const r = relationships.get((a.id as Hex).toLowerCase() as Hex);
        if (r) {
          r.recordRoot = a.root as Hex;
          r.sequence = a.sequence as bigint;
        }
        break;
      }
      case "ViewerGranted":
        relationships.get((a.id as Hex).toLowerCase() as Hex)?.grants.set(getAddress(a.viewer as string), {
          scopes: Number(a.scopes),
          expiresAt: a.expiresAt as bigint,
        });
        break;
      case "ViewerRevoked":
        relationships.get((a.id as Hex).toLowerCase() as Hex)?.grants.delete(getAddress(a.viewer as string));
        break;
      case "RelationshipEnded": {
        const r = relationships.get((a.id as Hex).toLowerCase() as Hex);
        if (r) r.ended = true;
        break;
      }
    }
  }
}

/** The relationship `id` if it is this provider's (in `ours`). */
export function relationshipIn(state: ViewState, ours: ReadonlyMap<Hex, number>, id: Hex) {
  const key = id.toLowerCase() as Hex;
  return ours.has(key) ? state.relationships.get(key) : undefined;
}
/** Whether `account` owns or is a custodian of `agent`. */
export function controls(state: ViewState, agent: Address, account: Address): boolean {
  const a = state.agents.get(agent);
  return !!a && (a.owner === account || a.custodians.has(account));
}
/** The scopes `viewer` holds on `r` at `nowSeconds` (0 once ended, expired or revoked). */
export function scopesOf(r: RelationshipState, viewer: Address, nowSeconds: number): number {
  if (r.ended) return 0;
  const grant = r.grants.get(viewer);
  return grant && BigInt(Math.floor(nowSeconds)) < grant.expiresAt ? grant.scopes : 0;
}

export type ChainViewParameters = {
  client: ChainClient;
  settings: Pick<ChainSettings, "startBlock" | "view">;
  db: Knex;
  logger: Logger;
  /** Clock (ms), for tests. */
  now?: () => number;
};

/** A {@link ChainView} that can be started, stopped and told about new relationships. */
export type LiveChainView = ChainView & {
  /** Bootstraps from the deployment block, then polls. Resolves once the first sync finished (or failed). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The writer tells the view at once which patient a new relationship belongs to. */
  link(relationship: Hex, patientId: number): void;
  /** The agent's current X25519 key as logged (undefined if unknown or not current). */
  encryptionKeyOf(agent: Address): Hex | undefined;
  /** Resolves once the view has processed `block` (or rejects after `timeoutMs`). */
  waitForBlock(block: bigint, timeoutMs?: number): Promise<void>;
  /** Highest block applied. */
  readonly cursor: bigint;
};

/** Creates the chain view; call `start()`. Until it has synced, `assertCurrent()` refuses. */
export function createChainView({
  client,
  settings,
  db,
  logger,
  now = Date.now,
}: ChainViewParameters): LiveChainView {
  const { pollIntervalMs, maxStalenessMs, maxLagBlocks, maxHeadAgeSeconds } = settings.view;
  const log = logger.child({ component: "chain-view" });
  let state = createViewState();
  /** relationship id → local patient id: only this provider's (from the patients table). */
  const ours = new Map<Hex, number>();
  let cursor = -1n;
  let cursorHash: Hex | undefined;
  let nodeHead = -1n;
  let headTimestamp = 0;
  let lastGoodPollAt = 0;
  let lastError: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let lastOursRefresh = 0;
  const waiters = new Set<{ block: bigint; resolve: () => void }>();

  function staleReason(): string | undefined {
    if (cursor < 0n)
      return lastError ? "the chain view has not synced: node unreachable" : "the chain view is starting";
    const age = now() - lastGoodPollAt;
    if (age > maxStalenessMs) return `the chain node has not answered for ${Math.round(age / 1000)} s`;
    if (nodeHead - cursor > BigInt(maxLagBlocks))
      return `the chain view is ${nodeHead - cursor} blocks behind`;
    const headAge = Math.floor(now() / 1000) - headTimestamp;
    if (headAge > maxHeadAgeSeconds)
      return `the chain's head block is ${headAge} s old: the node is not syncing`;
    return undefined;
  }
  const current = () => staleReason() === undefined;

  function apply(logs: readonly Log[]): void {
    applyLogs(state, logs, client);
  }

  async function refreshOurs(): Promise<void> {
    const rows: { id: string | number; relationship_id: string }[] = await db("patients")
      .select("id", "relationship_id")
      .whereNotNull("relationship_id");
    for (const row of rows) ours.set(row.relationship_id.toLowerCase() as Hex, Number(row.id));
    lastOursRefresh = now();
  }

  async function fetchLogs(fromBlock: bigint, toBlock: bigint): Promise<Log[]> {
    const out: Log[] = [];
    for (let from = fromBlock; from <= toBlock; from += CHUNK) {
      const to = from + CHUNK - 1n < toBlock ? from + CHUNK - 1n : toBlock;
      const logs = await client.publicClient.getLogs({
        address: [client.agent, client.relationship],
        events: eventAbi.filter((x) => x.type === "event"),
        fromBlock: from,
        toBlock: to,
        strict: false,
      } as never);
      out.push(...(logs as Log[]));
    }
    return out;
  }

  /** Full rebuild from the deployment block (first start, or after a reorg past the cursor). */
  async function rebuild(): Promise<void> {
    const head = await client.publicClient.getBlock({ blockTag: "latest" });
    const logs = await fetchLogs(settings.startBlock, head.number);
    state = createViewState();
    apply(logs);
    cursor = head.number;
    cursorHash = head.hash;
    nodeHead = head.number;
    headTimestamp = Number(head.timestamp);
  }

  async function poll(): Promise<void> {
    if (cursor < 0n || now() - lastOursRefresh > 5_000) await refreshOurs();
    if (cursor < 0n) {
      await rebuild();
    } else {
      const head = await client.publicClient.getBlock({ blockTag: "latest" });
      nodeHead = head.number;
      if (head.number < cursor || (head.number === cursor && head.hash !== cursorHash)) {
        log.warn({ cursor: String(cursor), head: String(head.number) }, "chain reorganised; rebuilding view");
        await rebuild();
      } else if (head.number > cursor) {
        const logs = await fetchLogs(cursor + 1n, head.number);
        // The block we stopped at must still be canonical, else the logs above sit on another fork.
        const previous = await client.publicClient.getBlock({ blockNumber: cursor });
        if (previous.hash !== cursorHash) {
          log.warn({ cursor: String(cursor) }, "chain reorganised; rebuilding view");
          await rebuild();
        } else {
          apply(logs);
          cursor = head.number;
          cursorHash = head.hash;
        }
      }
      headTimestamp = Number(head.timestamp);
    }
    lastGoodPollAt = now();
    if (lastError) log.info("chain view current again");
    lastError = undefined;
    for (const w of waiters) if (cursor >= w.block) w.resolve();
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      polling = poll()
        .catch((error: unknown) => {
          const message = error instanceof Error ? error.name : "error";
          if (!lastError) log.warn({ err: message }, "chain view poll failed; refusing reads while stale");
          lastError = message;
        })
        .finally(schedule);
    }, pollIntervalMs);
    timer.unref?.();
  }

  const relationshipOf = (id: Hex) => relationshipIn(state, ours, id);

  return {
    get cursor() {
      return cursor;
    },
    async start() {
      stopped = false;
      polling = poll().catch((error: unknown) => {
        lastError = error instanceof Error ? error.name : "error";
        log.warn({ err: lastError }, "chain view could not sync; refusing reads until it does");
      });
      await polling;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
    },
    link(relationship, patientId) {
      ours.set(relationship.toLowerCase() as Hex, patientId);
    },
    assertCurrent() {
      const reason = staleReason();
      if (reason)
        throw new ProblemError(
          "unavailable",
          `Permissions cannot be checked right now (${reason}); the request is refused.`,
        );
    },
    relationship(id) {
      const r = relationshipOf(id);
      if (!r) return undefined;
      const { grants: _grants, ...view } = r;
      return view;
    },
    // Deny-by-default answers while the view is stale, in case a caller forgot assertCurrent().
    isPatientController(id, account) {
      const r = relationshipOf(id);
      return !!r && current() && controls(state, r.patientAgent, getAddress(account));
    },
    viewerScopes(id, viewer, nowSeconds) {
      const r = relationshipOf(id);
      return r && current() ? scopesOf(r, getAddress(viewer), nowSeconds) : 0;
    },
    relationshipsOf(account, nowSeconds) {
      if (!current()) return [];
      const who = getAddress(account);
      const out: { id: Hex; role: "patient" | "viewer" }[] = [];
      for (const id of ours.keys()) {
        const r = state.relationships.get(id);
        if (!r) continue;
        if (controls(state, r.patientAgent, who)) out.push({ id: r.id, role: "patient" });
        else if (scopesOf(r, who, nowSeconds) !== 0) out.push({ id: r.id, role: "viewer" });
      }
      return out;
    },
    patientIdOf(id) {
      return relationshipOf(id) ? ours.get(id.toLowerCase() as Hex) : undefined;
    },
    encryptionKeyOf(agent) {
      return current() ? state.agents.get(getAddress(agent))?.encryptionKey : undefined;
    },
    waitForBlock(block, timeoutMs = 30_000) {
      if (cursor >= block) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          block,
          resolve: () => {
            clearTimeout(t);
            waiters.delete(waiter);
            resolve();
          },
        };
        const t = setTimeout(() => {
          waiters.delete(waiter);
          reject(new ProblemError("unavailable", "The chain view did not reach the block in time."));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    health(): HealthCheck {
      return {
        name: "chain",
        check: async () => {
          const reason = staleReason();
          if (reason) throw new HealthCheckError(reason);
        },
      };
    },
  };
}
