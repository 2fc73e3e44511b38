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
 * the saved hash); if not, the view goes back to the newest checkpoint of its undo journal (one per
 * poll that moved it, the last 128 blocks, saved with the snapshot) whose hash the node still has —
 * the common ancestor — undoing what changed after it, and applies the winning chain from there.
 * Only when the journal does not reach back that far is it rebuilt from the deployment block — for
 * the followed ids only — and the saved snapshot replaced (adr/0011).
 *
 * Freshness (adr/0011, docs/protocol.md): a read is answered only if a poll that started at most
 * `maxStalenessMs` ago confirmed the node's head and applied it, and that head's timestamp is at
 * most the block period + `maxStalenessMs` old; a poll still waiting on a frozen node counts for
 * nothing.
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
  type JournalEntry,
  type RelationshipRecord,
  type Snapshot,
} from "./view.repository.knex.ts";

type AgentState = { owner: Address; custodians: Set<Address>; encryptionKey: Hex };
type Grant = { scopes: number; expiresAt: bigint };
/** `granted`: every viewer ever granted on it (adr/0014: a refusal of a former viewer stays its own entry). */
type RelationshipState = RelationshipView & { grants: Map<Address, Grant>; granted: Set<Address> };

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
/**
 * How far back the undo journal reaches: a reorganisation of up to this many blocks goes back to
 * the common ancestor; a deeper one rebuilds the view from the deployment block.
 */
export const JOURNAL_BLOCKS = 128n;
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

/**
 * Who may appear in which relationship, by account, so that `relationshipsOf` looks at the caller's
 * own relationships only (never at every relationship the provider holds): the relationships of
 * each agent, the agents each account ever owned or kept, the relationships each viewer was ever
 * granted. Only ever grows (a reorganisation's undo leaves extra keys): every answer is checked
 * against the state, so a key too many costs a lookup, never a wrong answer.
 */
export type AccountIndex = {
  relationshipsOfAgent: Map<Address, Set<Hex>>;
  agentsOfController: Map<Address, Set<Address>>;
  relationshipsOfViewer: Map<Address, Set<Hex>>;
};
export type ViewState = {
  agents: Map<Address, AgentState>;
  relationships: Map<Hex, RelationshipState>;
  index: AccountIndex;
};
export const createViewState = (): ViewState => ({
  agents: new Map(),
  relationships: new Map(),
  index: { relationshipsOfAgent: new Map(), agentsOfController: new Map(), relationshipsOfViewer: new Map() },
});
const indexAdd = <K, V>(map: Map<K, Set<V>>, key: K, value: V) => {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
};
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
  const { agents, relationships, index } = state;
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
      case "AgentRegistered": {
        const agent = getAddress(a.agent as string);
        const owner = getAddress(a.owner as string);
        agents.set(agent, { owner, custodians: new Set(), encryptionKey: a.encryptionKey as Hex });
        indexAdd(index.agentsOfController, owner, agent);
        break;
      }
      case "EncryptionKeyChanged": {
        const agent = agents.get(getAddress(a.agent as string));
        if (agent) agent.encryptionKey = a.encryptionKey as Hex;
        break;
      }
      case "OwnershipTransferred": {
        const address = getAddress(a.agent as string);
        const agent = agents.get(address);
        if (agent) {
          agent.owner = getAddress(a.newOwner as string);
          indexAdd(index.agentsOfController, agent.owner, address);
        }
        break;
      }
      case "CustodianAdded": {
        const address = getAddress(a.agent as string);
        const custodian = getAddress(a.custodian as string);
        const agent = agents.get(address);
        if (agent) {
          agent.custodians.add(custodian);
          indexAdd(index.agentsOfController, custodian, address);
        }
        break;
      }
      case "CustodianRemoved":
        agents.get(getAddress(a.agent as string))?.custodians.delete(getAddress(a.custodian as string));
        break;
      case "RelationshipCreated": {
        const id = (a.id as Hex).toLowerCase() as Hex;
        const patientAgent = getAddress(a.patient as string);
        relationships.set(id, {
          id,
          patientAgent,
          provider: getAddress(a.provider as string),
          ended: false,
          recordRoot: zeroHash,
          sequence: 0n,
          grants: new Map(),
          granted: new Set(),
        });
        indexAdd(index.relationshipsOfAgent, patientAgent, id);
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
      case "ViewerGranted": {
        const r = relationships.get((a.id as Hex).toLowerCase() as Hex);
        if (r) {
          const viewer = getAddress(a.viewer as string);
          r.grants.set(viewer, { scopes: Number(a.scopes), expiresAt: a.expiresAt as bigint });
          r.granted.add(viewer);
          indexAdd(index.relationshipsOfViewer, viewer, r.id);
        }
        break;
      }
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

/** Whether `account` ever held a grant on `r` (revoked, expired or current). */
export function everGranted(r: RelationshipState, account: Address): boolean {
  return r.granted.has(account);
}

/**
 * The relationships among `ours` where `account` is the patient (controls its agent) or a current
 * viewer, found through the state's {@link AccountIndex}: the work is that of the account's own
 * relationships — `visit` is called once per relationship looked at — whatever the provider's size.
 */
export function relationshipsOfAccount(
  state: ViewState,
  ours: ReadonlyMap<Hex, number>,
  account: Address,
  nowSeconds: number,
  visit?: (id: Hex) => void,
): { id: Hex; role: "patient" | "viewer" }[] {
  const { relationshipsOfAgent, agentsOfController, relationshipsOfViewer } = state.index;
  const candidates = new Set<Hex>();
  for (const agent of agentsOfController.get(account) ?? [])
    for (const id of relationshipsOfAgent.get(agent) ?? []) candidates.add(id);
  for (const id of relationshipsOfViewer.get(account) ?? []) candidates.add(id);
  const out: { id: Hex; role: "patient" | "viewer" }[] = [];
  for (const id of candidates) {
    visit?.(id);
    const r = ours.has(id) ? state.relationships.get(id) : undefined;
    if (!r) continue;
    if (controls(state, r.patientAgent, account)) out.push({ id: r.id, role: "patient" });
    else if (scopesOf(r, account, nowSeconds) !== 0) out.push({ id: r.id, role: "viewer" });
  }
  return out;
}

/**
 * The permission reads of a view over `state()` and `ours` (the live view's, and `bench`/tests'
 * over a state they built): deny-by-default answers while `current()` is false, in case a caller
 * forgot `assertCurrent()`.
 */
export function permissionReads(
  state: () => ViewState,
  ours: ReadonlyMap<Hex, number>,
  current: () => boolean,
): Pick<
  ChainView,
  "relationship" | "isPatientController" | "viewerScopes" | "relationshipsOf" | "patientIdOf"
> & {
  everGranted(id: Hex, account: Address): boolean;
} {
  const relationshipOf = (id: Hex) => relationshipIn(state(), ours, id);
  return {
    relationship(id) {
      const r = relationshipOf(id);
      if (!r) return undefined;
      const { grants: _grants, granted: _granted, ...view } = r;
      return view;
    },
    // The account is normalised first, whether or not the relationship is held: a refusal costs
    // the same either way (adr/0014).
    isPatientController(id, account) {
      const who = getAddress(account);
      const r = relationshipOf(id);
      return !!r && current() && controls(state(), r.patientAgent, who);
    },
    viewerScopes(id, viewer, nowSeconds) {
      const who = getAddress(viewer);
      const r = relationshipOf(id);
      return r && current() ? scopesOf(r, who, nowSeconds) : 0;
    },
    relationshipsOf(account, nowSeconds) {
      if (!current()) return [];
      return relationshipsOfAccount(state(), ours, getAddress(account), nowSeconds);
    },
    everGranted(id, account) {
      const r = relationshipOf(id);
      return !!r && everGranted(r, getAddress(account));
    },
    patientIdOf(id) {
      return relationshipOf(id) ? ours.get(id.toLowerCase() as Hex) : undefined;
    },
  };
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
    granted: [...r.granted],
  };
}
/** An agent's state as saved (null: followed, not registered yet). */
export function agentRecordOf(a: AgentState | undefined): AgentRecord | null {
  return a ? { owner: a.owner, custodians: [...a.custodians], encryptionKey: a.encryptionKey } : null;
}
/** Sets relationship `id` in `state` to `r` as saved (null: removes it). */
function restoreRelationship(state: ViewState, id: Hex, r: RelationshipRecord | null): void {
  if (!r) {
    state.relationships.delete(id);
    return;
  }
  const granted = new Set(r.granted ?? r.grants.map(([viewer]) => viewer));
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
    granted,
  });
  indexAdd(state.index.relationshipsOfAgent, r.patientAgent, id);
  for (const viewer of granted) indexAdd(state.index.relationshipsOfViewer, viewer, id);
}
/** Sets `agent` in `state` to `a` as saved (null: removes it). */
function restoreAgent(state: ViewState, agent: Address, a: AgentRecord | null): void {
  if (!a) {
    state.agents.delete(agent);
    return;
  }
  state.agents.set(agent, {
    owner: a.owner,
    custodians: new Set(a.custodians),
    encryptionKey: a.encryptionKey,
  });
  for (const controller of [a.owner, ...a.custodians])
    indexAdd(state.index.agentsOfController, controller, agent);
}
/** The view state a saved snapshot describes. */
export function viewStateOf(snapshot: Pick<Snapshot, "relationships" | "agents">): ViewState {
  const state = createViewState();
  for (const [id, r] of snapshot.relationships) restoreRelationship(state, id, r);
  for (const [agent, a] of snapshot.agents) restoreAgent(state, agent, a);
  return state;
}

/**
 * A checkpoint of the undo journal being built: the states (at `prev`) of what changed up to
 * `block`, in maps while the poll that makes it records them.
 */
type Checkpoint = Omit<JournalEntry, "relationships" | "agents"> & {
  relationships: Map<Hex, RelationshipRecord | null>;
  agents: Map<Address, AgentRecord | null>;
};
const checkpointOf = (e: JournalEntry): Checkpoint => ({
  ...e,
  relationships: new Map(e.relationships),
  agents: new Map(e.agents),
});
const journalEntryOf = (c: Checkpoint): JournalEntry => ({
  ...c,
  relationships: [...c.relationships],
  agents: [...c.agents],
  follows: [...c.follows],
});
/** A checkpoint that cannot be undone (the view's start, or a rebuild): the oldest a rollback may reach. */
const anchorAt = (block: bigint, hash: Hex): Checkpoint => ({
  block,
  hash,
  prev: block,
  prevHash: hash,
  relationships: new Map(),
  agents: new Map(),
  follows: [],
});

/** How the view answered a reorganisation (tests and `bench:view` read it). */
export type Reorganisation = {
  /** The cursor when the reorganisation was found, and the node's head then. */
  from: bigint;
  head: bigint;
  /** The common ancestor gone back to (undefined: rebuilt from the deployment block). */
  ancestor: bigint | undefined;
  /** From the poll's start to the view applying the node's head again (the snapshot save after it not included). */
  ms: number;
};

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
  /** Told of every reorganisation once the view has applied the winning chain. */
  onReorganised?: (reorganisation: Reorganisation) => void;
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
  /** Whether `account` ever held a grant on relationship `id` (adr/0014); false when not this provider's. */
  everGranted(id: Hex, account: Address): boolean;
  /** The agent's current X25519 key as logged (undefined if unknown, not followed or not current). */
  encryptionKeyOf(agent: Address): Hex | undefined;
  /** Resolves once the view has processed `block` (or rejects after `timeoutMs`). */
  waitForBlock(block: bigint, timeoutMs?: number): Promise<void>;
  /** Highest block applied (-1 before the first sync). */
  readonly cursor: bigint;
  /** The block the saved snapshot this process started from was at (undefined: started empty). */
  readonly resumedFrom: bigint | undefined;
  /** Reorganisations answered by going back to the common ancestor, and by rebuilding from the deployment block. */
  readonly reorganisations: { rolledBack: number; rebuilt: number };
  /** Everything the view holds for what it follows, as saved, sorted by key (tests compare two views). */
  contents(): Pick<Snapshot, "relationships" | "agents">;
};

/** Creates the chain view; call `start()`. Until it has synced, `assertCurrent()` refuses. */
export function createChainView({
  client,
  settings,
  db,
  logger,
  now = Date.now,
  onGetLogs,
  onReorganised,
}: ChainViewParameters): LiveChainView {
  const { pollIntervalMs, maxStalenessMs, maxLagBlocks } = settings.view;
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
  /** When the last poll that applied the node's head asked for it (ms). */
  let confirmedAt = 0;
  /** The chain's block period (ms): the smallest timestamp step seen between consecutive heads. */
  let periodMs: number | undefined;
  let lastHead: { number: bigint; timestamp: bigint } | undefined;
  /** While going back to the common ancestor: the state is at a block the head timestamp does not describe. */
  let rewinding = false;
  /** The undo journal, oldest first; the last checkpoint is at the cursor. */
  let journal: Checkpoint[] = [];
  /** Checkpoints gone back from since the last save: the stored cursor may be one of them. */
  let superseded: { block: bigint; hash: Hex }[] = [];
  /** Names this process's checkpoints in the saved journal. */
  const writer = `${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  const reorganisations = { rolledBack: 0, rebuilt: 0 };
  let lastSaveAt = 0;
  let savedCursor = beforeStart;
  /** The journal is saved up to here under this process's name (a loaded one is saved again under it). */
  let journalSavedTo = beforeStart;
  let lastError: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  let lastOursRefresh = Number.NEGATIVE_INFINITY;
  const waiters = new Set<{ block: bigint; resolve: () => void }>();

  function staleReason(): string | undefined {
    if (!synced)
      return lastError ? "the chain view has not synced: node unreachable" : "the chain view is starting";
    const t = now();
    const age = t - confirmedAt;
    if (age > maxStalenessMs)
      return `the chain view has not confirmed the node's head for ${(age / 1000).toFixed(1)} s`;
    if (rewinding) return "the chain view is going back to the common ancestor of a reorganisation";
    if (nodeHead - cursor > BigInt(maxLagBlocks))
      return `the chain view is ${nodeHead - cursor} blocks behind`;
    const headAge = t - headTimestamp * 1000;
    if (headAge > (periodMs ?? 0) + maxStalenessMs)
      return `the chain's head block is ${(headAge / 1000).toFixed(1)} s old: the node is not syncing`;
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
    journal = snapshot.checkpoints?.length
      ? snapshot.checkpoints.map(checkpointOf)
      : [anchorAt(snapshot.block, snapshot.hash)];
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
    journalSavedTo = beforeStart;
    replaceSnapshot = true;
    journal = [];
    superseded = [];
  }

  /** Undoes `c`'s changes, going back to `target` (at or before `c.prev`). */
  function undo(c: Checkpoint, target: bigint): void {
    for (const [id, r] of c.relationships) {
      restoreRelationship(state, id, r);
      dirty.relationships.add(id);
    }
    for (const [agent, a] of c.agents) {
      restoreAgent(state, agent, a);
      dirty.agents.add(agent);
    }
    // Followed from a block after the target: their state there is unknown; fetched again.
    for (const [kind, key, at] of c.follows) {
      if (at <= target) continue;
      if (kind === "relationship") {
        followed.relationships.delete(key as Hex);
        state.relationships.delete(key as Hex);
        pending.relationships.add(key as Hex);
      } else {
        followed.agents.delete(key as Address);
        state.agents.delete(key as Address);
        pending.agents.add(key as Address);
      }
    }
  }

  /** Goes back to checkpoint `index` of the journal, undoing every later one, newest first. */
  function rollback(index: number): void {
    const target = journal[index] as Checkpoint;
    for (let i = journal.length - 1; i > index; i--) {
      const c = journal[i] as Checkpoint;
      undo(c, target.block);
      superseded.push({ block: c.block, hash: c.hash });
    }
    journal.length = index + 1;
    cursor = target.block;
    cursorHash = target.hash;
    // The next save rewrites the stored view from here (even at the same block).
    if (savedCursor >= cursor) savedCursor = cursor - 1n;
    if (journalSavedTo >= cursor) journalSavedTo = cursor - 1n;
  }

  /** The newest checkpoint whose block the node still has with the same hash: the common ancestor. */
  async function forkPoint(head: { number: bigint; hash: Hex }): Promise<number | undefined> {
    for (let i = journal.length - 1; i >= 0; i--) {
      const c = journal[i] as Checkpoint;
      if (c.block > head.number) continue;
      const at =
        c.block === head.number ? head : await client.publicClient.getBlock({ blockNumber: c.block });
      if (at.hash === c.hash) return i;
    }
    return undefined;
  }

  /** Keeps the checkpoints of the last JOURNAL_BLOCKS blocks, and the newest one before them. */
  function prune(): void {
    const floor = cursor - JOURNAL_BLOCKS;
    let drop = 0;
    while (drop + 1 < journal.length && (journal[drop + 1] as Checkpoint).block <= floor) drop++;
    if (drop > 0) journal.splice(0, drop);
  }

  /**
   * Answers a reorganisation found by a poll that started at `started`: back to the common ancestor
   * and forward on the winning chain, or — when the journal does not reach it — a rebuild.
   */
  async function reorganise(head: { number: bigint; hash: Hex }, started: number): Promise<void> {
    const from = cursor;
    rewinding = true;
    try {
      const index = await forkPoint(head);
      if (index !== undefined) {
        rollback(index);
        const ancestor = cursor;
        if (await catchUp(head)) {
          reorganisations.rolledBack++;
          log.warn(
            { from: String(from), ancestor: String(ancestor), head: String(head.number) },
            "chain reorganised; went back to the common ancestor",
          );
          onReorganised?.({ from, head: head.number, ancestor, ms: now() - started });
          return;
        }
      }
      log.warn({ cursor: String(from), head: String(head.number) }, "chain reorganised; rebuilding view");
      reset();
      reorganisations.rebuilt++;
      await catchUp(head);
      onReorganised?.({ from, head: head.number, ancestor: undefined, ms: now() - started });
    } finally {
      rewinding = false;
    }
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
    const relationshipHistory = await logsOf(
      "relationship",
      new Set(newRelationships),
      settings.startBlock,
      cursor,
    );
    const relationshipRange = await logsOf(
      "relationship",
      new Set([...followed.relationships, ...newRelationships]),
      from,
      to,
    );
    const relationshipLogs = [...relationshipHistory, ...relationshipRange];
    // The patients' agents of our relationships are followed from their creation on.
    for (const l of relationshipLogs) {
      const patientTopic = l.topics[2];
      if (l.topics[0] === CREATED && patientTopic) {
        const agent = addressOf(patientTopic);
        if (!followed.agents.has(agent)) pending.agents.add(agent);
      }
    }
    const newAgents = [...pending.agents];
    const agentHistory = await logsOf("agent", lower(newAgents), settings.startBlock, cursor);
    const agentRange = await logsOf("agent", lower([...followed.agents, ...newAgents]), from, to);
    const agentLogs = [...agentHistory, ...agentRange];
    // The logs above sit on the chain that holds the cursor's block only if that block is still canonical.
    const journaled = cursorHash !== undefined && cursor >= settings.startBlock;
    if (journaled) {
      const at = to === cursor ? head : await client.publicClient.getBlock({ blockNumber: cursor });
      if (at.hash !== cursorHash) return false;
    }
    // The new ids' and agents' history brings them to the cursor; the checkpoint of this poll then
    // keeps the state at the cursor of everything the new blocks change.
    applyLogs(state, [...relationshipHistory, ...agentHistory], client);
    const checkpoint =
      to > cursor && journaled
        ? {
            ...anchorAt(to, head.hash),
            prev: cursor,
            prevHash: cursorHash,
          }
        : journal.at(-1);
    if (checkpoint && journaled) {
      for (const id of newRelationships) checkpoint.follows.push(["relationship", id, cursor]);
      for (const agent of newAgents) checkpoint.follows.push(["agent", agent, cursor]);
      for (const l of relationshipRange) {
        const id = (l.topics[1] ?? zeroHash).toLowerCase() as Hex;
        if (!checkpoint.relationships.has(id))
          checkpoint.relationships.set(id, relationshipRecordOf(state.relationships.get(id)));
      }
      for (const l of agentRange) {
        const agent = addressOf(l.topics[1] as Hex);
        if (!checkpoint.agents.has(agent))
          checkpoint.agents.set(agent, agentRecordOf(state.agents.get(agent)));
      }
    }
    applyLogs(state, [...relationshipRange, ...agentRange], client);
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
    if (!journaled) journal = [anchorAt(to, head.hash)];
    else if (checkpoint && to > cursor) journal.push(checkpoint);
    cursor = to;
    cursorHash = head.hash;
    prune();
    return true;
  }

  /** Saves what changed with the cursor; when another process saved rows this one does not follow, follows them. */
  async function save(): Promise<void> {
    const changed =
      dirty.relationships.size > 0 || dirty.agents.size > 0 || replaceSnapshot || superseded.length > 0;
    if (!cursorHash || cursor <= savedCursor) return;
    if (!changed && now() - lastSaveAt < SAVE_EVERY_MS) return;
    const relationships = [...dirty.relationships];
    const agents = [...dirty.agents];
    const rolledBackFrom = superseded;
    const block = cursor;
    try {
      const outcome = await snapshots.save(origin, {
        block,
        hash: cursorHash,
        relationships: relationships.map((id) => [id, relationshipRecordOf(state.relationships.get(id))]),
        agents: agents.map((agent) => [agent, agentRecordOf(state.agents.get(agent))]),
        followed: { relationships: followed.relationships.size, agents: followed.agents.size },
        replace: replaceSnapshot,
        supersedes: rolledBackFrom,
        canonical: new Map(journal.map((c) => [c.block, c.hash])),
        journal: {
          writer,
          entries: journal.filter((c) => c.block > journalSavedTo).map(journalEntryOf),
          keepFrom: journal[0]?.block ?? block,
        },
      });
      lastSaveAt = now();
      if (outcome === "saved") {
        for (const id of relationships) dirty.relationships.delete(id);
        for (const agent of agents) dirty.agents.delete(agent);
        replaceSnapshot = false;
        savedCursor = block;
        journalSavedTo = block;
        superseded = superseded.filter((s) => !rolledBackFrom.includes(s));
      } else if (outcome === "diverged") {
        // Another process saved a branch this one does not hold: every row is written again.
        log.warn({ block: String(block) }, "the saved chain view is on another branch; replacing it");
        for (const id of followed.relationships) dirty.relationships.add(id);
        for (const agent of followed.agents) dirty.agents.add(agent);
        replaceSnapshot = true;
      } else if (outcome === "unfollowed") {
        const stored = await snapshots.followed();
        for (const id of stored.relationships) follow(id);
        for (const agent of stored.agents) if (!followed.agents.has(agent)) pending.agents.add(agent);
      }
    } catch (error) {
      log.warn({ err: (error as Error).name }, "chain view snapshot not saved; will retry");
    }
  }

  /** Learns the block period: Clique never stamps a block less than a period after its parent. */
  async function learnPeriod(head: { number: bigint; timestamp: bigint }): Promise<void> {
    const parent =
      lastHead && head.number === lastHead.number + 1n
        ? lastHead
        : periodMs === undefined && head.number > 0n
          ? await client.publicClient.getBlock({ blockNumber: head.number - 1n })
          : undefined;
    lastHead = { number: head.number, timestamp: head.timestamp };
    if (!parent) return;
    const step = Math.max(1_000, Number(head.timestamp - parent.timestamp) * 1_000);
    periodMs = periodMs === undefined ? step : Math.min(periodMs, step);
  }

  async function poll(): Promise<void> {
    if (!loaded) await load();
    if (now() - lastOursRefresh > REFRESH_OURS_MS) await refreshOurs();
    // What the head confirms is as old as the request for it, not its answer.
    const asked = now();
    const head = await client.publicClient.getBlock({ blockTag: "latest" });
    nodeHead = head.number;
    await learnPeriod(head);
    if (head.number < cursor || !(await catchUp(head))) await reorganise(head, asked);
    headTimestamp = Number(head.timestamp);
    synced = true;
    confirmedAt = asked;
    if (lastError) log.info("chain view current again");
    lastError = undefined;
    for (const w of waiters) if (cursor >= w.block) w.resolve();
    await save();
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

  return {
    get cursor() {
      return synced ? cursor : -1n;
    },
    get resumedFrom() {
      return resumedFrom;
    },
    get reorganisations() {
      return { ...reorganisations };
    },
    contents() {
      const byKey = <K extends string, V>(a: [K, V], b: [K, V]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
      return {
        relationships: [...followed.relationships]
          .map((id): [Hex, RelationshipRecord | null] => [
            id,
            relationshipRecordOf(state.relationships.get(id)),
          ])
          .sort(byKey),
        agents: [...followed.agents]
          .map((agent): [Address, AgentRecord | null] => [agent, agentRecordOf(state.agents.get(agent))])
          .sort(byKey),
      };
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
    ...permissionReads(() => state, ours, current),
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
