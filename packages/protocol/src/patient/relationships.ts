/**
 * The patient's relationships, from the chain: the agent's list in pages (`Agent.relationshipsPage`,
 * from every provider's node), who each provider is — known only from `providerDetails`, sealed to
 * the patient's X25519 key in the `RelationshipCreated` / `ProviderDetailsUpdated` events — and
 * whether a registered provider signed them (adr/0015). Anyone can create a relationship on any
 * agent, so most of the work is telling a stranger's apart cheaply: details that do not open, that
 * name an unlisted provider or another gatekeeper URL are set aside before any signature is checked,
 * and only what a registered provider signed is proven (adr/0012) and shown under its name.
 */
import {
  type Address,
  type Client,
  createPublicClient,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  type Hex,
  http,
  isAddressEqual,
  keccak256,
  toHex,
  zeroAddress,
  zeroHash,
} from "viem";
import { getBlockNumber, getContractEvents, readContract } from "viem/actions";
import { apiPaths, relationshipsResponseSchema } from "../api.ts";
import { gatekeeperJson } from "../client.ts";
import { agentAbi, relationshipAbi } from "../generated/abis.ts";
import {
  agentAccountSlot,
  decodeAgentAccount,
  decodeRelationshipEntry,
  relationshipAtSlot,
  relationshipEntrySlots,
  seenSlot,
} from "../light-client/index.ts";
import {
  openJson,
  openJsonAsync,
  type ProviderDetails,
  providerDetailsSchema,
  providerDetailsSigner,
} from "../sealed-box.ts";
import { PatientDataError } from "./errors.ts";
import type { PatientContext, PatientNetwork, PatientProvider } from "./network.ts";
import { lightClientOf, logsFromEveryNode, toProvenError } from "./proven.ts";
import { relayPatientCall } from "./relaying.ts";
import type { PatientSessions } from "./sessions.ts";

/** One relationship of the patient, and which provider it is with (when that could be told). */
export type PatientRelationship = {
  id: Hex;
  /** The provider's per-relationship delegate account (on chain; says nothing about who it is). */
  delegate: Address;
  recordRoot: Hex;
  /** Record-root sequence: 0 before the first publication. */
  sequence: bigint;
  /** The last sequence the patient acknowledged (`Agent.seenSequence`). */
  seenSequence: bigint;
  ended: boolean;
  /** The details the provider sealed to the patient, opened; undefined when they could not be. */
  details: ProviderDetails | undefined;
  /**
   * The provider from the network's list whose account the details name and whose key signed them;
   * undefined otherwise (do not trust it).
   */
  provider: PatientProvider | undefined;
  /**
   * `ok`: details opened, name a listed provider with the same gatekeeper URL the network lists, and
   * carry that provider's signature over this relationship (adr/0015). `listed`: unreadable, but a
   * listed provider's gatekeeper holds it for this wallet ({@link identifyUnreadable}: details sealed
   * to the key of the wallet the agent came from). Anything else is not from a registered provider
   * ({@link isFromRegisteredProvider}): `unreadable` (sealed to another key or malformed),
   * `unknown-provider` (names an account the network does not list), `mismatch` (another gatekeeper
   * URL than the network says), `unsigned` (no valid signature of the provider named), `unchecked`
   * (passed the cheap checks, signature not checked yet: {@link checkUnchecked}). For those,
   * the chain state (`recordRoot`, `sequence`, …) is a node's unproven word.
   */
  status: "ok" | "unreadable" | "unknown-provider" | "mismatch" | "unsigned" | "unchecked" | "listed";
  /** Block of `RelationshipCreated`. */
  createdAtBlock: bigint | undefined;
  /** Its position in the agent's list (`Agent.relationshipsPage`). */
  position?: number;
  /** The account its details name (whether or not that provider made it). */
  claims?: Address | undefined;
};

/** Whether a registered provider made this relationship: only those are named, read, shared or exported. */
export function isFromRegisteredProvider(relationship: Pick<PatientRelationship, "status">): boolean {
  return relationship.status === "ok" || relationship.status === "listed";
}

const sameUrl = (a: string, b: string) => a.replace(/\/+$/, "") === b.replace(/\/+$/, "");

/** Opens sealed provider details with the patient's key; undefined when that fails. */
export function openProviderDetails(ctx: Pick<PatientContext, "encryptionKey">, sealed: Hex) {
  return parseDetails(() => openJson(sealed, ctx.encryptionKey.secretKey));
}

/** {@link openProviderDetails} with the platform's native X25519 (thousands at a time). */
export async function openProviderDetailsAsync(ctx: Pick<PatientContext, "encryptionKey">, sealed: Hex) {
  try {
    const opened = await openJsonAsync(sealed, ctx.encryptionKey.secretKey);
    return parseDetails(() => opened);
  } catch {
    return undefined;
  }
}

function parseDetails(open: () => unknown): ProviderDetails | undefined {
  try {
    const parsed = providerDetailsSchema.safeParse(open());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** One entry of the agent's list as a node pages it (`Agent.relationshipsPage`): unproven. */
export type ListedRelationship = Pick<
  PatientRelationship,
  "id" | "delegate" | "recordRoot" | "sequence" | "seenSequence" | "ended"
> & { index: number };

/** What the chain says of an agent's relationships, before the sealed details are opened. */
export type OnChainRelationships = {
  /**
   * The agent's list as the nodes page it, merged (one node cannot hide an entry); unproven. Empty
   * while `total` is not: left for {@link discoverAllRelationships} to read (`listUpTo`).
   */
  listed: readonly ListedRelationship[];
  /** The length of the agent's list (`relationshipCount`), proven. */
  total: number;
  created: readonly { args: { id: Hex; providerDetails: Hex }; blockNumber: bigint | null }[];
  updated: readonly { args: { id: Hex; providerDetails: Hex } }[];
  /** Each listed provider's details-signing key (`AuditAnchor.logOf`), proven; by lower-case account. */
  signers: ReadonlyMap<string, Address>;
  /** The lower-case ids whose events `created` and `updated` hold (the others are not read yet). */
  eventsOf: ReadonlySet<string>;
};

/** Entries per `Agent.relationshipsPage` call (the contract's `MAX_PAGE`). */
export const RELATIONSHIPS_PAGE = 500;
/** At most this many relationship ids are asked for by id in one log filter (more: by patient). */
const IDS_PER_FILTER = 200;
/**
 * `AuditAnchor._logs`: slot 3 — EIP712's `_nameFallback` and `_versionFallback` come first (0, 1),
 * then `_heads` (2); `registry` is immutable. The browser test junk-relationships checks it on chain.
 */
const AUDIT_ANCHOR_LOGS_SLOT = 3n;

const pageClients = new WeakMap<PatientNetwork, Client[]>();
function pageClientsOf(network: PatientNetwork, primary: Client): Client[] {
  let clients = pageClients.get(network);
  if (!clients) {
    const urls = [...new Set(network.providers.flatMap((p) => (p.rpcUrl ? [p.rpcUrl] : [])))];
    clients = urls.map((url) =>
      createPublicClient({ transport: http(url, { retryCount: 0, timeout: 20_000 }) }),
    );
    pageClients.set(network, clients);
  }
  return clients.length > 0 ? clients : [primary];
}

/**
 * The agent's list from every provider's node, from position `from` on, one call per page of
 * {@link RELATIONSHIPS_PAGE}, merged by position. `total` is proven; a node whose pages are short is
 * ignored when another answered in full (an id a node invented is refuted later by the proof of its
 * position). `lowestTotal`: the smallest length of the list a node that answered reported.
 */
async function readListFromEveryNode(
  ctx: Pick<PatientContext, "client" | "network" | "agent">,
  total: number,
  from = 0,
): Promise<{ listed: ListedRelationship[]; lowestTotal: number }> {
  const offsets = Array.from(
    { length: Math.ceil((total - from) / RELATIONSHIPS_PAGE) },
    (_, i) => from + i * RELATIONSHIPS_PAGE,
  );
  const settled = await Promise.allSettled(
    pageClientsOf(ctx.network, ctx.client).map(async (node) => {
      const pages = await Promise.all(
        offsets.map(async (offset) => {
          const [page, reported] = await readContract(node, {
            address: ctx.network.contracts.Agent,
            abi: agentAbi,
            functionName: "relationshipsPage",
            args: [ctx.agent, BigInt(offset), BigInt(RELATIONSHIPS_PAGE)],
          });
          return {
            reported: Number(reported),
            entries: page.map(
              (r, i): ListedRelationship => ({
                index: offset + i,
                id: r.id,
                delegate: getAddress(r.provider),
                recordRoot: r.recordRoot,
                sequence: r.sequence,
                seenSequence: r.seenSequence,
                ended: r.ended,
              }),
            ),
          };
        }),
      );
      return {
        entries: pages.flatMap((p) => p.entries),
        reported: Math.min(...pages.map((p) => p.reported)),
      };
    }),
  );
  const fulfilled = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const answered = fulfilled.filter((s) => s.entries.length >= total - from);
  if (answered.length === 0)
    throw new PatientDataError("unreachable", "No network node listed this wallet's relationships in full.", {
      cause: settled.find((s) => s.status === "rejected")?.reason,
    });
  const merged = new Map<string, ListedRelationship>();
  for (const { entries } of answered)
    for (const r of entries.slice(0, total - from))
      merged.set(`${r.index}:${r.id.toLowerCase()}:${r.delegate}`, r);
  return {
    listed: [...merged.values()].sort((a, b) => a.index - b.index),
    lowestTotal: Math.min(...fulfilled.map((s) => s.reported)),
  };
}

/** Past this many relationships kept as not a stranger's, a warm read reads the whole list instead. */
const PROVEN_FROM_CACHE = 200;

/**
 * The agent's list, reading only what changed since `known.list` (adr/0015, "Reading only what
 * changed"): the list is append-only, so the pages from the kept length's last position on, from
 * every node; below it, strangers' ids as kept (their state is never shown) and the state of the
 * others proven (adr/0012), with the kept boundary's id. A node reporting a shorter list than kept,
 * an id at the kept boundary other than the one kept, or a kept position its proof refutes: the
 * whole list is read.
 */
async function readList(
  ctx: Pick<PatientContext, "client" | "network" | "agent">,
  total: number,
  known: KnownStrangers | undefined,
): Promise<ListedRelationship[]> {
  const cached = known?.list;
  if (known && cached && cached.length > 0 && cached.length <= total) {
    const boundary = cached.length - 1;
    const tail = await readListFromEveryNode(ctx, total, boundary);
    const atBoundary = tail.listed.filter((r) => r.index === boundary);
    const others = cached.flatMap((id, index) =>
      index < boundary && !known.ids.has(id) ? [{ id: id as Hex, position: index }] : [],
    );
    if (
      tail.lowestTotal >= cached.length &&
      atBoundary.length > 0 &&
      atBoundary.every((r) => r.id.toLowerCase() === cached[boundary]) &&
      others.length <= PROVEN_FROM_CACHE
    ) {
      // The boundary's id is proven too: the kept list agrees with the chain, not only with a node.
      const states = await readProvenStates(ctx, [
        ...others,
        { id: cached[boundary] as Hex, position: boundary },
      ]);
      if (states.every((s) => s && isAddressEqual(s.patient, ctx.agent))) {
        const proven = new Map(others.map((o, i) => [o.position, states[i] as ProvenState]));
        const kept = cached.slice(0, boundary).map((id, index): ListedRelationship => {
          const state = proven.get(index);
          return state
            ? { index, id: id as Hex, ...state }
            : {
                index,
                id: id as Hex,
                delegate: zeroAddress,
                recordRoot: zeroHash,
                sequence: 0n,
                seenSequence: 0n,
                ended: false,
              };
        });
        return [...kept, ...tail.listed];
      }
    }
  }
  return (await readListFromEveryNode(ctx, total)).listed;
}

type ProvenState = Pick<
  ListedRelationship,
  "delegate" | "recordRoot" | "sequence" | "seenSequence" | "ended"
> & {
  patient: Address;
};

/**
 * Proves, in one read, the state of each relationship at its position in the agent's list (entry
 * and `seenSequence`); undefined for one whose position holds another id.
 */
async function readProvenStates(
  ctx: Pick<PatientContext, "network" | "agent">,
  items: readonly { id: Hex; position: number }[],
): Promise<(ProvenState | undefined)[]> {
  if (items.length === 0) return [];
  const { network, agent } = ctx;
  const agentSlots = items.flatMap((r) => [relationshipAtSlot(agent, r.position), seenSlot(agent, r.id)]);
  const entrySlots = items.flatMap((r) => relationshipEntrySlots(r.id));
  const light = lightClientOf(network);
  const [atAgent, entries] = await Promise.all([
    light.readSlots({ address: network.contracts.Agent, slots: agentSlots }),
    light.readSlots({ address: network.contracts.Relationship, slots: entrySlots }),
  ]).catch((error: unknown) => {
    throw toProvenError(error);
  });
  return items.map((r, i) => {
    const at = atAgent.get(agentSlots[2 * i] as bigint) ?? 0n;
    if (at !== BigInt(r.id)) return undefined;
    const entry = decodeRelationshipEntry(relationshipEntrySlots(r.id).map((s) => entries.get(s) ?? 0n));
    return {
      patient: entry.patient,
      delegate: entry.provider,
      recordRoot: entry.recordRoot,
      sequence: entry.sequence,
      seenSequence: atAgent.get(agentSlots[2 * i + 1] as bigint) ?? 0n,
      ended: entry.ended,
    };
  });
}

/** Each listed provider's details-signing key (`AuditAnchor.logOf(account)`), proven. */
async function readSigners(network: PatientNetwork): Promise<Map<string, Address>> {
  const anchor = network.contracts.AuditAnchor;
  if (!anchor) return new Map();
  const slotOf = (account: Address) =>
    BigInt(
      keccak256(
        encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [account, AUDIT_ANCHOR_LOGS_SLOT]),
      ),
    );
  const slots = network.providers.map((p) => slotOf(p.account));
  const values = await lightClientOf(network).readSlots({ address: anchor, slots });
  const signers = new Map<string, Address>();
  network.providers.forEach((p, i) => {
    const word = values.get(slots[i] as bigint) ?? 0n;
    if (word !== 0n) signers.set(p.account.toLowerCase(), getAddress(toHex(word, { size: 20 })));
  });
  return signers;
}

/**
 * The public half of {@link discoverRelationships}: the agent's relationships and their sealed
 * details, read from the chain with no key — so it can run while the wallet is still being opened.
 * `eventsUpTo`: past this many relationships, the details are left for {@link discoverAllRelationships}
 * to read (it knows which it has seen before and need not read again). Default: all.
 */
export async function readRelationshipsOnChain(
  ctx: Pick<PatientContext, "client" | "network" | "agent">,
  {
    eventsUpTo = Number.POSITIVE_INFINITY,
    listUpTo = Number.POSITIVE_INFINITY,
    known,
  }: {
    eventsUpTo?: number;
    /** Past this many relationships, the list too is left for {@link discoverAllRelationships}. */
    listUpTo?: number;
    /** What this device kept of the list: only what changed since is read (see `readList`). */
    known?: KnownStrangers | undefined;
  } = {},
): Promise<OnChainRelationships> {
  const { network, agent } = ctx;
  try {
    const light = lightClientOf(network);
    const accountSlot = agentAccountSlot(agent);
    const [word, signers] = await Promise.all([
      light.readSlots({ address: network.contracts.Agent, slots: [accountSlot] }),
      readSigners(network),
    ]);
    const account = decodeAgentAccount(word.get(accountSlot) ?? 0n);
    const exists = !/^0x0{40}$/i.test(account.owner) && !account.isOwnerRecord;
    const total = exists ? account.relationshipCount : 0;
    const none = { created: [], updated: [], signers, eventsOf: new Set<string>(), total };
    if (total === 0 || total > listUpTo) return { listed: [], ...none };
    const fresh = known?.fingerprint === providersFingerprint(network, signers);
    const listed = await readList(ctx, total, fresh ? known : undefined);
    if (listed.length > eventsUpTo) return { listed, ...none };
    const ids = new Set(listed.map((r) => r.id.toLowerCase()));
    return { listed, ...none, ...(await readDetailsEvents(ctx, [...ids] as Hex[])), eventsOf: ids };
  } catch (error) {
    throw toProvenError(error);
  }
}

/**
 * `read(from, to)` over a block range, halved again and again while a node refuses it (an answer
 * past a client's size limit, a timeout): a flood's events come in pieces a node can serve.
 */
async function inPieces<T>(
  read: (from: bigint, to: bigint) => Promise<T[]>,
  from: bigint,
  to: bigint,
): Promise<T[]> {
  try {
    return await read(from, to);
  } catch (error) {
    if (to <= from) throw error;
    const middle = (from + to) / 2n;
    return [...(await inPieces(read, from, middle)), ...(await inPieces(read, middle + 1n, to))];
  }
}

/**
 * The `RelationshipCreated` and `ProviderDetailsUpdated` events of `ids`, from every node, merged
 * (one node cannot hide a relationship's details). A few ids are asked for by id; many (a flood)
 * by patient — and all updates — over block ranges halved while a node cannot serve them, then
 * kept for `ids` only.
 */
async function readDetailsEvents(
  ctx: Pick<PatientContext, "client" | "network" | "agent">,
  ids: readonly Hex[],
): Promise<Pick<OnChainRelationships, "created" | "updated">> {
  const { network, agent } = ctx;
  const fromBlock = network.fromBlock ?? 0n;
  const common = { address: network.contracts.Relationship, abi: relationshipAbi, strict: true } as const;
  const byId = ids.length <= IDS_PER_FILTER;
  const wanted = new Set(ids.map((id) => id.toLowerCase()));
  const [created, updated] = await Promise.all([
    logsFromEveryNode(
      network,
      async (node) => {
        const to = await getBlockNumber(node);
        return inPieces(
          (from, upTo) =>
            getContractEvents(node, {
              ...common,
              eventName: "RelationshipCreated",
              args: byId ? { id: [...ids], patient: agent } : { patient: agent },
              fromBlock: from,
              toBlock: upTo,
            }),
          fromBlock,
          to,
        );
      },
      ctx.client,
    ),
    logsFromEveryNode(
      network,
      async (node) => {
        const to = await getBlockNumber(node);
        return inPieces(
          (from, upTo) =>
            getContractEvents(node, {
              ...common,
              eventName: "ProviderDetailsUpdated",
              ...(byId ? { args: { id: [...ids] } } : {}),
              fromBlock: from,
              toBlock: upTo,
            }),
          fromBlock,
          to,
        );
      },
      ctx.client,
    ),
  ]);
  const asked = (e: { args: { id: Hex } }) => wanted.has(e.args.id.toLowerCase());
  return { created: created.filter(asked), updated: updated.filter(asked) };
}

/**
 * Verdicts already reached, by the exact inputs of a signature check (see `verdictKey`): the
 * account that signed, or null. A dapp keeps them (encrypted) so that the next unlock skips the
 * checks it made before; thousands of strangers' relationships then cost no signature check.
 */
export type SignatureVerdicts = Map<string, Address | null>;

const verdictKey = (id: Hex, delegate: Address, details: ProviderDetails) =>
  keccak256(
    toHex(
      `${id.toLowerCase()}|${delegate.toLowerCase()}|${details.account.toLowerCase()}|${details.gatekeeperUrl}|${details.signature}`,
    ),
  );

/**
 * Relationships already found not to be from a registered provider, by lower-case id, with why
 * and which listed account they claimed; valid for one `fingerprint` of the providers and their
 * keys (a new provider or key voids them). A stranger's relationship cannot become a provider's
 * (the signature covers its id and delegate), so a later unlock need not read its details again.
 */
export type KnownStrangers = {
  fingerprint: Hex | undefined;
  ids: Map<string, { status: PatientRelationship["status"]; claims?: Address | undefined }>;
  /**
   * The agent's list as this device last read it in full, in order (lower-case ids): the list is
   * append-only, so the next read asks only for what comes after (adr/0015). Set by
   * {@link discoverAllRelationships}; voided with the rest by a new `fingerprint`.
   */
  list?: string[] | undefined;
};

/** The providers, their URLs and keys as one hash: what {@link KnownStrangers} were judged against. */
function providersFingerprint(network: PatientNetwork, signers: ReadonlyMap<string, Address>): Hex {
  return keccak256(
    toHex(
      JSON.stringify(
        network.providers.map((p) => [
          p.account.toLowerCase(),
          p.gatekeeperUrl,
          signers.get(p.account.toLowerCase()),
        ]),
      ),
    ),
  );
}

/** How many signatures {@link discoverAllRelationships} checks at most before it returns. */
export type DiscoverOptions = {
  /**
   * When more than this many relationships need a signature check (none kept in `verdicts`), only
   * those in `urgent` are checked; the others come back `unchecked`, for {@link checkUnchecked}
   * (e.g. in the background). Default: no limit.
   */
  maxChecks?: number;
  /** Lower-case ids to check in any case (e.g. what the providers' gatekeepers say they hold). */
  urgent?: ReadonlySet<string>;
  /** Strangers' relationships found before (read, and added to): their details are not read again. */
  known?: KnownStrangers;
};

/**
 * Every relationship of the patient's agent, oldest first, each with its status: only those from a
 * registered provider ({@link isFromRegisteredProvider}) have their state proven and a provider.
 * `onChain`: what {@link readRelationshipsOnChain} already read for `ctx.agent` (else read now).
 * `verdicts`: signature checks made before (read and added to).
 */
export async function discoverAllRelationships(
  ctx: PatientContext,
  onChain?: OnChainRelationships | Promise<OnChainRelationships>,
  verdicts: SignatureVerdicts = new Map(),
  { maxChecks = Number.POSITIVE_INFINITY, urgent, known }: DiscoverOptions = {},
): Promise<PatientRelationship[]> {
  const { network } = ctx;
  const read = await (onChain ?? readRelationshipsOnChain(ctx, { known }));
  const { signers } = read;
  const fingerprint = providersFingerprint(network, signers);
  if (known && known.fingerprint !== fingerprint) {
    known.fingerprint = fingerprint;
    known.ids.clear();
    known.list = undefined;
  }
  const listed =
    read.listed.length === 0 && read.total > 0
      ? await readList(ctx, read.total, known).catch((error: unknown) => {
          throw toProvenError(error);
        })
      : read.listed;
  // Kept only when the nodes agreed on one id per position.
  if (known)
    known.list =
      listed.length === read.total && listed.every((r, i) => r.index === i)
        ? listed.map((r) => r.id.toLowerCase())
        : undefined;
  const strangers = known?.ids ?? new Map();
  // Details are read only for what is neither read yet nor known to be a stranger's.
  const missing = [
    ...new Set(
      listed.map((r) => r.id.toLowerCase()).filter((id) => !read.eventsOf.has(id) && !strangers.has(id)),
    ),
  ] as Hex[];
  const more = missing.length > 0 ? await readDetailsEvents(ctx, missing) : { created: [], updated: [] };
  const created = [...read.created, ...more.created];
  const updated = [...read.updated, ...more.updated];
  const creationOf = new Map(created.map((e) => [e.args.id.toLowerCase(), e]));
  // The latest details the provider published win (events come oldest first).
  const latestOf = new Map(updated.map((e) => [e.args.id.toLowerCase(), e]));

  // Cheap refusals first: a signature is checked only for what passes them all.
  const judged = await Promise.all(
    listed.map(async (entry): Promise<PatientRelationship> => {
      const key = entry.id.toLowerCase();
      const creation = creationOf.get(key);
      const sealed = latestOf.get(key)?.args.providerDetails ?? creation?.args.providerDetails;
      const details = sealed && !strangers.has(key) ? await openProviderDetailsAsync(ctx, sealed) : undefined;
      const listedProvider = details
        ? network.providers.find((p) => isAddressEqual(p.account, details.account))
        : undefined;
      const base = {
        id: entry.id,
        delegate: entry.delegate,
        recordRoot: entry.recordRoot,
        sequence: entry.sequence,
        seenSequence: entry.seenSequence,
        ended: entry.ended,
        details,
        provider: undefined,
        createdAtBlock: creation?.blockNumber ?? undefined,
        position: entry.index,
        claims: details?.account,
      };
      const stranger = strangers.get(key);
      if (stranger) return { ...base, ...stranger };
      if (!details) return { ...base, status: "unreadable" };
      if (!listedProvider) return { ...base, status: "unknown-provider" };
      if (!sameUrl(listedProvider.gatekeeperUrl, details.gatekeeperUrl))
        return { ...base, status: "mismatch" };
      if (!details.signature || !signers.has(listedProvider.account.toLowerCase()))
        return { ...base, status: "unsigned" };
      return { ...base, status: "unchecked" };
    }),
  );
  const pending = judged.filter(
    (r) =>
      r.status === "unchecked" && !verdicts.has(verdictKey(r.id, r.delegate, r.details as ProviderDetails)),
  );
  const now = pending.length <= maxChecks ? undefined : (urgent ?? new Set<string>());
  const checked = await checkSignatures(ctx, judged, signers, verdicts, now);
  const proven = await proveRegistered(
    ctx,
    checked.filter((r) => r.status === "ok"),
  );
  rememberStrangers(checked, known);
  // One entry per id: a node's invented position for a real id is dropped by its proof.
  const seen = new Set<string>();
  const okIds = new Set(checked.flatMap((o) => (o.status === "ok" ? [o.id.toLowerCase()] : [])));
  return checked.flatMap((r) => {
    const key = r.id.toLowerCase();
    if (seen.has(key)) return [];
    if (r.status !== "ok") {
      if (okIds.has(key)) return [];
      seen.add(key);
      return [r];
    }
    const found = proven.get(key);
    if (!found) return [];
    seen.add(key);
    return [found];
  });
}

const SETTLED_STRANGER = new Set(["unreadable", "unknown-provider", "mismatch", "unsigned"]);

/** Adds the relationships found not to be a registered provider's to `known`. */
function rememberStrangers(all: readonly PatientRelationship[], known: KnownStrangers | undefined) {
  if (!known) return;
  for (const r of all)
    if (SETTLED_STRANGER.has(r.status))
      known.ids.set(r.id.toLowerCase(), { status: r.status, claims: r.claims });
}

/**
 * Settles the `unchecked` relationships of `all` (those in `only` when given): each signature
 * checked against the provider's proven key, `ok` ones proven. Yields to the event loop every 50
 * checks, so that a page stays responsive while thousands are checked.
 */
export async function checkUnchecked(
  ctx: PatientContext,
  all: readonly PatientRelationship[],
  verdicts: SignatureVerdicts,
  only?: ReadonlySet<string>,
  known?: KnownStrangers,
  /** Called every 500 checks (e.g. to keep `verdicts`, so a closed page does not lose them). */
  onProgress?: () => void,
): Promise<PatientRelationship[]> {
  if (!all.some((r) => r.status === "unchecked")) return [...all];
  const signers = await readSigners(ctx.network).catch((error: unknown) => {
    throw toProvenError(error);
  });
  const checked = await checkSignatures(ctx, all, signers, verdicts, only, onProgress);
  const proven = await proveRegistered(
    ctx,
    checked.filter((r, i) => r.status === "ok" && all[i]?.status === "unchecked"),
  );
  const settled = checked.map((r, i) =>
    r.status === "ok" && all[i]?.status === "unchecked"
      ? (proven.get(r.id.toLowerCase()) ?? { ...r, provider: undefined, status: "unsigned" as const })
      : r,
  );
  rememberStrangers(settled, known);
  return settled;
}

/** `unchecked` → `ok` or `unsigned` (only ids in `only`, when given; the rest stay `unchecked`). */
async function checkSignatures(
  ctx: PatientContext,
  all: readonly PatientRelationship[],
  signers: ReadonlyMap<string, Address>,
  verdicts: SignatureVerdicts,
  only?: ReadonlySet<string>,
  onProgress?: () => void,
): Promise<PatientRelationship[]> {
  const claim = {
    chainId: ctx.network.chainId,
    relationshipContract: ctx.network.contracts.Relationship,
    patient: ctx.agent,
  };
  const out: PatientRelationship[] = [];
  let checks = 0;
  for (const r of all) {
    const details = r.details;
    if (r.status !== "unchecked" || !details) {
      out.push(r);
      continue;
    }
    const vk = verdictKey(r.id, r.delegate, details);
    let signer = verdicts.get(vk);
    if (signer === undefined) {
      if (only && !only.has(r.id.toLowerCase())) {
        out.push(r);
        continue;
      }
      if (++checks % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      if (checks % 500 === 0) onProgress?.();
      signer =
        (await providerDetailsSigner(details, { ...claim, relationship: r.id, delegate: r.delegate })) ??
        null;
      verdicts.set(vk, signer);
    }
    const expected = signers.get(details.account.toLowerCase());
    const provider = ctx.network.providers.find((p) => isAddressEqual(p.account, details.account));
    out.push(
      signer && expected && provider && isAddressEqual(signer, expected)
        ? { ...r, provider, status: "ok" }
        : { ...r, provider: undefined, status: "unsigned" },
    );
  }
  return out;
}

/**
 * Proves, in one read, the position in the agent's list, the entry and `seenSequence` of each
 * relationship from a registered provider; returns them with the proven state, by lower-case id.
 * One whose proven delegate is not the one the signature was checked for becomes `unsigned`.
 */
async function proveRegistered(
  ctx: PatientContext,
  relationships: readonly PatientRelationship[],
): Promise<Map<string, PatientRelationship>> {
  const out = new Map<string, PatientRelationship>();
  const states = await readProvenStates(
    ctx,
    relationships.map((r) => ({ id: r.id, position: r.position ?? 0 })),
  );
  relationships.forEach((r, i) => {
    const state = states[i];
    if (!state || !isAddressEqual(state.patient, ctx.agent)) return;
    const { patient: _, ...proven } = state;
    out.set(
      r.id.toLowerCase(),
      isAddressEqual(state.delegate, r.delegate)
        ? { ...r, ...proven }
        : { ...r, ...proven, provider: undefined, status: "unsigned" },
    );
  });
  return out;
}

/**
 * The patient's relationships from registered providers, oldest first, with their provider from
 * `ctx.network` ({@link discoverAllRelationships} without the strangers').
 *
 * @example
 * const relationships = await discoverRelationships(ctx)
 * relationships.map((r) => r.provider?.name) // ["Riverside General", "Lakeside Clinic", …]
 */
export async function discoverRelationships(
  ctx: PatientContext,
  onChain?: OnChainRelationships | Promise<OnChainRelationships>,
  verdicts?: SignatureVerdicts,
): Promise<PatientRelationship[]> {
  return (await discoverAllRelationships(ctx, onChain, verdicts)).filter(isFromRegisteredProvider);
}

/**
 * Names the providers of the relationships whose sealed details this wallet's key cannot open —
 * after a recovery or a transfer they are sealed to the key of the wallet the agent came from —
 * by asking each listed provider's gatekeeper, signed in as this wallet, which relationships it
 * holds for it (`GET /v1/relationships`). Such a relationship gets status `listed`, its state
 * proven. A gatekeeper that does not answer names nothing. Its records are still verified against
 * the chain's root, so a gatekeeper claiming another's relationship could only mislabel it, never
 * alter its records.
 */
export async function identifyUnreadable(
  ctx: PatientContext,
  sessions: PatientSessions,
  relationships: readonly PatientRelationship[],
  /** What {@link heldRelationships} already said (else asked now). */
  knownHeld?: Promise<Map<string, PatientProvider>>,
): Promise<PatientRelationship[]> {
  if (!relationships.some((r) => r.status === "unreadable")) return [...relationships];
  const held = await (knownHeld ?? heldRelationships(ctx, sessions));
  const named = relationships.flatMap((r) => {
    const provider = r.status === "unreadable" ? held.get(r.id.toLowerCase()) : undefined;
    return provider ? [{ ...r, provider, status: "ok" as const }] : [];
  });
  if (named.length === 0) return [...relationships];
  const proven = await proveRegistered(ctx, named);
  return relationships.flatMap((r): PatientRelationship[] => {
    const provider = r.status === "unreadable" ? held.get(r.id.toLowerCase()) : undefined;
    if (!provider) return [r];
    const checked = proven.get(r.id.toLowerCase());
    // Listed with a position or entry its proof refutes: kept apart, as it was.
    return checked ? [{ ...checked, provider, status: "listed" }] : [r];
  });
}

/**
 * The relationships each listed provider's gatekeeper says it holds for this wallet
 * (`GET /v1/relationships`, signed in as it), by lower-case id. A gatekeeper that does not answer
 * names nothing. A hint only: what it names is still checked against the chain.
 */
export async function heldRelationships(
  ctx: PatientContext,
  sessions: PatientSessions,
): Promise<Map<string, PatientProvider>> {
  const held = new Map<string, PatientProvider>();
  await Promise.all(
    ctx.network.providers.map(async (p) => {
      try {
        const listed = relationshipsResponseSchema.parse(
          await gatekeeperJson(p.gatekeeperUrl, apiPaths.relationships, {
            token: await sessions.token(p.gatekeeperUrl),
            ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
          }),
        );
        for (const r of listed) if (r.role === "patient") held.set(r.relationship.toLowerCase(), p);
      } catch {
        // this provider names nothing; its relationships stay unidentified
      }
    }),
  );
  return held;
}

/** A relationship's display name: its provider's name, or a short form of its id. */
export function relationshipLabel(relationship: Pick<PatientRelationship, "id" | "provider">): string {
  return relationship.provider?.name ?? `relationship ${relationship.id.slice(0, 10)}…`;
}

/** Whether the provider published records the patient has not yet marked as seen. */
export function hasNewRecords(relationship: Pick<PatientRelationship, "sequence" | "seenSequence">): boolean {
  return relationship.sequence > relationship.seenSequence;
}

/**
 * Marks a relationship's records as seen up to its current sequence (`Agent.acknowledge`,
 * relayed): what {@link hasNewRecords} and `seenSequence` read afterwards, on any device.
 */
export async function acknowledgeRecords(
  ctx: PatientContext,
  relationship: Pick<PatientRelationship, "id" | "sequence">,
): Promise<{ txHash: Hex }> {
  const { txHash } = await relayPatientCall(ctx, {
    to: ctx.network.contracts.Agent,
    data: encodeFunctionData({
      abi: agentAbi,
      functionName: "acknowledge",
      args: [ctx.agent, relationship.id, relationship.sequence],
    }),
  });
  return { txHash };
}
