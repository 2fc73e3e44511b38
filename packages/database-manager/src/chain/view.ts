/**
 * The permission cache: this provider's relationships (the ids in its patients table, and those the
 * writer links before creating them) and their patients' agents, built from their Agent and
 * Relationship events and kept current by polling the node with `eth_getLogs`. Only what this
 * provider needs is fetched: catching up asks the node for the logs whose id (or agent) topic is
 * one of ours; a poll of a few blocks fetches the two contracts' logs and keeps ours by topic
 * before decoding. The view is saved with its cursor (block number and hash) in PostgreSQL
 * (view.repository.knex.ts), so a restart resumes from the cursor instead of replaying the chain.
 *
 * Why polling and not a WebSocket subscription: a subscription drops events silently while the
 * socket reconnects, so it needs the same cursor-and-backfill code anyway; polling a cursor is
 * exactly-once by construction, tells the view precisely how far behind the head it is (what
 * fail-closed needs), and on loopback costs two small requests per interval. At 250 ms it enforces
 * a revocation well within one block period (see the report in the chain tests).
 *
 * Reorganisations (Clique: shallow, when two sealers seal the same height): every poll checks that
 * the block at the cursor still has the cursor's hash (also the first poll after a restart, against
 * the saved hash); if not, the view is rebuilt from the deployment block — for the followed ids
 * only — and the saved snapshot is replaced.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import {
  type AbiEvent,
  type Address,
  getAddress,
  type Hex,
  type Log,
  pad,
  parseEventLogs,
  toEventSelector,
  toHex,
  zeroHash,
} from "viem";
import { ProblemError } from "../errors.ts";
import { type HealthCheck, HealthCheckError } from "../ops/health.ts";
import { patientsRepository } from "../patients/patients.repository.knex.ts";
import type { ChainView, RelationshipView } from "../seams.ts";
import { type ChainClient, chainAbi } from "./client.ts";
import type { ChainSettings } from "./config.ts";
import {
  type AgentRecord,
  type ChainViewRepository,
  chainViewRepository,
  type RelationshipRecord,
  type Snapshot,
} from "./view.repository.knex.ts";

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
/**
 * Ids (or agents) per topic list of one eth_getLogs call while catching up: geth ≥ 1.14 refuses
 * more than 1,000, and when the ids' logs are spread over every block each call costs the node a
 * scan of the range, so the batches are as large as allowed.
 */
const TOPIC_BATCH = 1_000;
/** Up to this many new blocks a poll fetches the contracts' logs unfiltered and keeps ours locally. */
const RECENT_BLOCKS = 64n;
/** Blocks per eth_getLogs call when fetching a contract's logs unfiltered (about 50,000 logs at 100 a block). */
const WIDE_CHUNK = 500n;
/** How often the patients table is read for relationships another process linked. */
const REFRESH_OURS_MS = 5_000;
/** A snapshot is saved after every poll that changed the view, and otherwise this often. */
const SAVE_EVERY_MS = 5_000;
const selectorOf = (name: string) =>
  toEventSelector(eventAbi.find((x) => x.type === "event" && x.name === name) as AbiEvent);
const AGENT_SELECTORS = EVENTS.filter((e) => AGENT_EVENTS.has(e)).map(selectorOf);
const RELATIONSHIP_SELECTORS = EVENTS.filter((e) => !AGENT_EVENTS.has(e)).map(selectorOf);
const CREATED = selectorOf("RelationshipCreated");
export type Kind = "agent" | "relationship";
/** An address as an indexed topic, and back. */
const topicOf = (address: Address): Hex => pad(address.toLowerCase() as Hex, { size: 32 });
const addressOf = (topic: Hex): Address => getAddress(`0x${topic.slice(26)}`);

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

/**
 * The logs of `contract` whose key — the first indexed argument: the relationship id, or the agent
 * address, lowercase — is in `keys`, without decoding them (the view's filter over a contract's
 * unfiltered logs; `bench:view` replays it).
 */
export function keepFollowed(
  logs: readonly Log[],
  contract: Address,
  kind: Kind,
  keys: ReadonlySet<string>,
): Log[] {
  const address = contract.toLowerCase();
  // Nodes answer in lowercase hex: the lowercase copies are made only for what is not.
  const same = (a: string, lower: string) => a === lower || a.toLowerCase() === lower;
  const has = (key: string) => keys.has(key) || keys.has(key.toLowerCase());
  return logs.filter((l) => {
    const topic = l.topics[1];
    if (!topic || !same(l.address, address)) return false;
    return has(kind === "agent" ? `0x${topic.slice(26)}` : topic);
  });
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

/** A relationship's state as saved (null: followed, not created yet). */
export function relationshipRecordOf(r: RelationshipState | undefined): RelationshipRecord | null {
  if (!r) return null;
  return {
    patientAgent: r.patientAgent,
    provider: r.provider,
    ended: r.ended,
    recordRoot: r.recordRoot,
    sequence: r.sequence.toString(),
    grants: [...r.grants].map(([viewer, g]) => [viewer, g.scopes, g.expiresAt.toString()]),
  };
}
/** An agent's state as saved (null: followed, not registered yet). */
export function agentRecordOf(a: AgentState | undefined): AgentRecord | null {
  return a ? { owner: a.owner, custodians: [...a.custodians], encryptionKey: a.encryptionKey } : null;
}
/** The view state a saved snapshot describes. */
export function viewStateOf(snapshot: Pick<Snapshot, "relationships" | "agents">): ViewState {
  const state = createViewState();
  for (const [id, r] of snapshot.relationships)
    if (r)
      state.relationships.set(id, {
        id,
        patientAgent: r.patientAgent,
        provider: r.provider,
        ended: r.ended,
        recordRoot: r.recordRoot,
        sequence: BigInt(r.sequence),
        grants: new Map(
          r.grants.map(([viewer, scopes, expiresAt]) => [viewer, { scopes, expiresAt: BigInt(expiresAt) }]),
        ),
      });
  for (const [agent, a] of snapshot.agents)
    if (a)
      state.agents.set(agent, {
        owner: a.owner,
        custodians: new Set(a.custodians),
        encryptionKey: a.encryptionKey,
      });
  return state;
}

/** One eth_getLogs call, as the view makes it (tests and benchmarks count them). */
export type GetLogsCall = { fromBlock: bigint; toBlock: bigint; contracts: number; topics: number };

export type ChainViewParameters = {
  client: ChainClient;
  settings: Pick<ChainSettings, "startBlock" | "view">;
  db: Knex;
  logger: Logger;
  /** Clock (ms), for tests. */
  now?: () => number;
  /** Told of every eth_getLogs call before it is made (tests assert what a restart fetches). */
  onGetLogs?: (call: GetLogsCall) => void;
};

/** A {@link ChainView} that can be started, stopped and told about new relationships. */
export type LiveChainView = ChainView & {
  /** Loads the saved snapshot (or starts empty), catches up, then polls. Resolves once the first sync finished (or failed). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Follows `relationship` as patient `patientId`'s: the writer calls it *before* it creates the
   * relationship on chain, so that no event of it is missed (its earlier logs, if any, are
   * fetched by the next poll).
   */
  link(relationship: Hex, patientId: number): void;
  /** The agent's current X25519 key as logged (undefined if unknown, not followed or not current). */
  encryptionKeyOf(agent: Address): Hex | undefined;
  /** Resolves once the view has processed `block` (or rejects after `timeoutMs`). */
  waitForBlock(block: bigint, timeoutMs?: number): Promise<void>;
  /** Highest block applied (-1 before the first sync). */
  readonly cursor: bigint;
  /** The block the saved snapshot this process started from was at (undefined: started empty). */
  readonly resumedFrom: bigint | undefined;
};

/** Creates the chain view; call `start()`. Until it has synced, `assertCurrent()` refuses. */
export function createChainView({
  client,
  settings,
  db,
  logger,
  now = Date.now,
  onGetLogs,
}: ChainViewParameters): LiveChainView {
  const { pollIntervalMs, maxStalenessMs, maxLagBlocks, maxHeadAgeSeconds } = settings.view;
  const log = logger.child({ component: "chain-view" });
  const patients = patientsRepository(db);
  const snapshots: ChainViewRepository = chainViewRepository(db);
  const origin = { agent: client.agent, relationship: client.relationship, startBlock: settings.startBlock };
  const beforeStart = settings.startBlock - 1n;
  let state = createViewState();
  /** relationship id (lowercase) → local patient id: this provider's (patients table, or linked). */
  const ours = new Map<Hex, number>();
  /** Relationship ids and agents whose events the view has applied up to the cursor. */
  const followed = { relationships: new Set<Hex>(), agents: new Set<Address>() };
  /** To follow from the next poll on: their logs up to the cursor are fetched first. */
  const pending = { relationships: new Set<Hex>(), agents: new Set<Address>() };
  /** Changed since the last save. */
  const dirty = { relationships: new Set<Hex>(), agents: new Set<Address>() };
  let replaceSnapshot = false;
  let loaded = false;
  let resumedFrom: bigint | undefined;
  let synced = false;
  let cursor = beforeStart;
  let cursorHash: Hex | undefined;
  let nodeHead = -1n;
  let headTimestamp = 0;
  let lastGoodPollAt = 0;
  let lastSaveAt = 0;
  let savedCursor = beforeStart;
  let lastError: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let lastOursRefresh = Number.NEGATIVE_INFINITY;
  const waiters = new Set<{ block: bigint; resolve: () => void }>();

  function staleReason(): string | undefined {
    if (!synced)
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

  function follow(id: Hex): void {
    if (!followed.relationships.has(id)) pending.relationships.add(id);
  }

  async function load(): Promise<void> {
    const snapshot = await snapshots.load(origin);
    loaded = true;
    if (!snapshot) return;
    state = viewStateOf(snapshot);
    for (const [id] of snapshot.relationships) followed.relationships.add(id);
    for (const [agent] of snapshot.agents) followed.agents.add(agent);
    for (const id of followed.relationships) pending.relationships.delete(id);
    cursor = snapshot.block;
    cursorHash = snapshot.hash;
    savedCursor = snapshot.block;
    resumedFrom = snapshot.block;
    log.info(
      { block: String(cursor), relationships: followed.relationships.size, agents: followed.agents.size },
      "chain view resumed from its snapshot",
    );
  }

  async function refreshOurs(): Promise<void> {
    for (const { patientId, relationshipId } of await patients.relationships()) {
      const id = relationshipId.toLowerCase() as Hex;
      ours.set(id, patientId);
      follow(id);
    }
    lastOursRefresh = now();
  }

  function getLogs(contracts: Address[], topics: (Hex[] | null)[], from: bigint, to: bigint) {
    onGetLogs?.({
      fromBlock: from,
      toBlock: to,
      contracts: contracts.length,
      topics: topics[1]?.length ?? 0,
    });
    return client.publicClient.request({
      method: "eth_getLogs",
      params: [{ address: contracts, topics, fromBlock: toHex(from), toBlock: toHex(to) }],
    } as never) as Promise<Log[]>;
  }

  /**
   * The logs of `kind`'s contract from `from` to `to` whose key (the first indexed argument:
   * relationship id, or agent address, lowercase) is in `keys`, in chain order. A few keys over a
   * long range: the node filters by topic. Many keys (each topic batch would cost the node a scan of
   * the range) or a few blocks: the contract's logs in chunks, kept by key before decoding.
   */
  async function logsOf(kind: Kind, keys: ReadonlySet<string>, from: bigint, to: bigint): Promise<Log[]> {
    const out: Log[] = [];
    if (keys.size === 0 || from > to) return out;
    const contract = kind === "agent" ? client.agent : client.relationship;
    const selectors = kind === "agent" ? AGENT_SELECTORS : RELATIONSHIP_SELECTORS;
    const wide = keys.size > TOPIC_BATCH || to - from < RECENT_BLOCKS;
    const topics = wide ? [] : [...keys].map((k) => (kind === "agent" ? topicOf(k as Address) : (k as Hex)));
    const step = wide ? WIDE_CHUNK : CHUNK;
    for (let start = from; start <= to; start += step) {
      const end = start + step - 1n < to ? start + step - 1n : to;
      if (wide)
        out.push(...keepFollowed(await getLogs([contract], [selectors], start, end), contract, kind, keys));
      else
        for (let i = 0; i < topics.length; i += TOPIC_BATCH)
          out.push(...(await getLogs([contract], [selectors, topics.slice(i, i + TOPIC_BATCH)], start, end)));
    }
    return out;
  }

  /** Forgets the state: every followed id is fetched again from the deployment block. */
  function reset(): void {
    state = createViewState();
    for (const id of followed.relationships) pending.relationships.add(id);
    for (const agent of followed.agents) pending.agents.add(agent);
    followed.relationships.clear();
    followed.agents.clear();
    dirty.relationships.clear();
    dirty.agents.clear();
    cursor = beforeStart;
    cursorHash = undefined;
    savedCursor = beforeStart;
    replaceSnapshot = true;
  }

  /**
   * Brings the view to the node's head: the logs of newly followed ids up to the cursor, then every
   * followed id's logs after it. False when the block at the cursor is no longer canonical.
   */
  async function catchUp(head: { number: bigint; hash: Hex }): Promise<boolean> {
    const from = cursor + 1n;
    const to = head.number;
    const lower = (agents: Iterable<Address>) => new Set([...agents].map((a) => a.toLowerCase()));
    const newRelationships = [...pending.relationships];
    const relationshipLogs = [
      ...(await logsOf("relationship", new Set(newRelationships), settings.startBlock, cursor)),
      ...(await logsOf("relationship", new Set([...followed.relationships, ...newRelationships]), from, to)),
    ];
    // The patients' agents of our relationships are followed from their creation on.
    for (const l of relationshipLogs) {
      const patientTopic = l.topics[2];
      if (l.topics[0] === CREATED && patientTopic) {
        const agent = addressOf(patientTopic);
        if (!followed.agents.has(agent)) pending.agents.add(agent);
      }
    }
    const newAgents = [...pending.agents];
    const agentLogs = [
      ...(await logsOf("agent", lower(newAgents), settings.startBlock, cursor)),
      ...(await logsOf("agent", lower([...followed.agents, ...newAgents]), from, to)),
    ];
    // The logs above sit on the chain that holds the cursor's block only if that block is still canonical.
    if (cursorHash && cursor >= settings.startBlock) {
      const at = to === cursor ? head : await client.publicClient.getBlock({ blockNumber: cursor });
      if (at.hash !== cursorHash) return false;
    }
    applyLogs(state, [...relationshipLogs, ...agentLogs], client);
    for (const id of newRelationships) {
      followed.relationships.add(id);
      pending.relationships.delete(id);
      dirty.relationships.add(id);
    }
    for (const agent of newAgents) {
      followed.agents.add(agent);
      pending.agents.delete(agent);
      dirty.agents.add(agent);
    }
    for (const l of relationshipLogs) dirty.relationships.add(l.topics[1]?.toLowerCase() as Hex);
    for (const l of agentLogs) dirty.agents.add(addressOf(l.topics[1] as Hex));
    cursor = to;
    cursorHash = head.hash;
    return true;
  }

  /** Saves what changed with the cursor; when another process saved rows this one does not follow, follows them. */
  async function save(): Promise<void> {
    const changed = dirty.relationships.size > 0 || dirty.agents.size > 0 || replaceSnapshot;
    if (!cursorHash || cursor <= savedCursor) return;
    if (!changed && now() - lastSaveAt < SAVE_EVERY_MS) return;
    const relationships = [...dirty.relationships];
    const agents = [...dirty.agents];
    try {
      const outcome = await snapshots.save(origin, {
        block: cursor,
        hash: cursorHash,
        relationships: relationships.map((id) => [id, relationshipRecordOf(state.relationships.get(id))]),
        agents: agents.map((agent) => [agent, agentRecordOf(state.agents.get(agent))]),
        followed: { relationships: followed.relationships.size, agents: followed.agents.size },
        replace: replaceSnapshot,
      });
      lastSaveAt = now();
      if (outcome === "saved") {
        for (const id of relationships) dirty.relationships.delete(id);
        for (const agent of agents) dirty.agents.delete(agent);
        replaceSnapshot = false;
        savedCursor = cursor;
      } else if (outcome === "unfollowed") {
        const stored = await snapshots.followed();
        for (const id of stored.relationships) follow(id);
        for (const agent of stored.agents) if (!followed.agents.has(agent)) pending.agents.add(agent);
      }
    } catch (error) {
      log.warn({ err: (error as Error).name }, "chain view snapshot not saved; will retry");
    }
  }

  async function poll(): Promise<void> {
    if (!loaded) await load();
    if (now() - lastOursRefresh > REFRESH_OURS_MS) await refreshOurs();
    const head = await client.publicClient.getBlock({ blockTag: "latest" });
    nodeHead = head.number;
    if (head.number < cursor || !(await catchUp(head))) {
      log.warn({ cursor: String(cursor), head: String(head.number) }, "chain reorganised; rebuilding view");
      reset();
      await catchUp(head);
    }
    headTimestamp = Number(head.timestamp);
    await save();
    synced = true;
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
      return synced ? cursor : -1n;
    },
    get resumedFrom() {
      return resumedFrom;
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
      const id = relationship.toLowerCase() as Hex;
      ours.set(id, patientId);
      follow(id);
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
      if (synced && cursor >= block) return Promise.resolve();
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
