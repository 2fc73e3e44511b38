/**
 * `bench:view`'s reorganisation variant: the view itself (`createChainView`, resumed from the
 * snapshot the `followed` variant saved — 20,000 relationships of 1,000,000) polling a simulated
 * node whose chain goes on from the snapshot's block with 100 logs a block (2 of them this
 * provider's: grants, revocations and roots of its relationships), then — `runs` times — replaces
 * its last `depth` blocks with `depth + 1` others holding different grants, revocations and roots.
 * Timed: from the start of the poll that finds the reorganisation to the view applying the new head
 * (the view's own `onReorganised`), every answer of the simulated node immediate (no JSON, no
 * transfer). Checked: the view never rebuilds, and after the last run it equals the snapshot with
 * the winning chain's logs applied.
 */
import { summarize } from "@medrec/testkit";
import type { Knex } from "knex";
import { pino } from "pino";
import {
  type AbiEvent,
  type Address,
  encodeAbiParameters,
  encodeEventTopics,
  type Hex,
  keccak256,
  type Log,
  toHex,
} from "viem";
import type { ChainClient } from "../src/chain/client.ts";
import { chainAbi } from "../src/chain/client.ts";
import { chainViewRepository } from "../src/chain/view.repository.knex.ts";
import {
  agentRecordOf,
  applyLogs,
  createChainView,
  keepFollowed,
  type Reorganisation,
  relationshipRecordOf,
  viewStateOf,
} from "../src/chain/view.ts";
import {
  AGENT_CONTRACT,
  GRANT_EXPIRY,
  RELATIONSHIP_CONTRACT,
  relationshipId,
  type StreamShape,
  viewerAgent,
} from "./view-stream.ts";

export type ReorgResult = {
  depth: number;
  runs: number;
  /** Poll start → new head applied, per reorganisation. */
  recoverMs: { n: number; p50: number; p99: number; max: number };
  rebuilt: number;
  rolledBack: number;
  /** eth_getLogs calls and block lookups the view made per reorganisation (median). */
  requestsPerReorg: number;
  relationshipsHeld: number;
  equalsRebuild: boolean;
};

const eventOf = (name: string) => chainAbi.find((x) => x.type === "event" && x.name === name) as AbiEvent;
const ev = {
  ViewerGranted: eventOf("ViewerGranted"),
  ViewerRevoked: eventOf("ViewerRevoked"),
  RootPublished: eventOf("RootPublished"),
};
const nonIndexed = (e: AbiEvent) => e.inputs.filter((x) => !x.indexed);

/** Log `i` of a simulated block: this provider's every 50th (as 2 % of a city's), others' otherwise. */
function blockLogs(shape: StreamShape, block: bigint, hash: Hex, salt: number): Log[] {
  const logs: Log[] = [];
  for (let i = 0; i < shape.logsPerBlock; i++) {
    const n = Number(block) * 7919 + i * 104_729 + salt * 15_485_863;
    // Every 50th log is of a relationship of provider 0 (r ≡ 0 mod providers).
    const r =
      i % 50 === 0
        ? (n % Math.ceil(shape.relationships / shape.providers)) * shape.providers
        : n % shape.relationships;
    const id = relationshipId(r);
    const viewer = viewerAgent((n >>> 3) % 64);
    const kind = (n >>> 1) % 3;
    const [topics, data] =
      kind === 0
        ? [
            encodeEventTopics({ abi: [ev.ViewerGranted], args: { id, viewer } } as never),
            encodeAbiParameters(nonIndexed(ev.ViewerGranted), [(n % 255) + 1, GRANT_EXPIRY, "0x"]),
          ]
        : kind === 1
          ? [encodeEventTopics({ abi: [ev.ViewerRevoked], args: { id, viewer } } as never), "0x" as Hex]
          : [
              encodeEventTopics({ abi: [ev.RootPublished], args: { id } } as never),
              encodeAbiParameters(nonIndexed(ev.RootPublished), [keccak256(toHex(n)), BigInt(block)]),
            ];
    logs.push({
      address: RELATIONSHIP_CONTRACT,
      topics: topics as [Hex, ...Hex[]],
      data: data as Hex,
      blockNumber: block,
      blockHash: hash,
      transactionHash: keccak256(toHex(`${hash}:${i}`)),
      transactionIndex: i,
      logIndex: i,
      removed: false,
    } as Log);
  }
  return logs;
}

/**
 * Runs the variant against the snapshot in `db` (saved by `followed` at block `base` with hash
 * 0x…01): `runs` reorganisations of `depth` blocks.
 */
export async function measureReorg(
  db: Knex,
  shape: StreamShape,
  { base, depth = 3, runs = 20 }: { base: bigint; depth?: number; runs?: number },
): Promise<ReorgResult> {
  const snapshot = await chainViewRepository(db).load({
    agent: AGENT_CONTRACT,
    relationship: RELATIONSHIP_CONTRACT,
    startBlock: 1n,
  });
  if (!snapshot || snapshot.block !== base) throw new Error("no snapshot: run the followed variant first");
  // The simulated node: a hash and logs per block above the snapshot's; `fork` swaps the tip.
  type Block = { number: bigint; hash: Hex; timestamp: bigint; logs: Log[] };
  const chain: Block[] = [];
  let salt = 0;
  const hashAt = (n: bigint) => (n === base ? snapshot.hash : (chain[Number(n - base) - 1]?.hash as Hex));
  const extend = (count: number) => {
    for (let k = 0; k < count; k++) {
      const number = base + BigInt(chain.length) + 1n;
      const hash = keccak256(toHex(`${number}:${salt}`));
      chain.push({
        number,
        hash,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        logs: blockLogs(shape, number, hash, salt),
      });
    }
  };
  const head = () => chain.at(-1) as Block;
  let requests = 0;
  const publicClient = {
    async getBlock(args: { blockTag?: "latest"; blockNumber?: bigint }) {
      requests++;
      const n = args.blockNumber ?? head().number;
      if (n > head().number) throw new Error(`block ${n} not found`);
      const b = n <= base ? undefined : chain[Number(n - base) - 1];
      return {
        number: n,
        hash: b?.hash ?? hashAt(n),
        timestamp: b?.timestamp ?? BigInt(Math.floor(Date.now() / 1000) - 1),
      };
    },
    async request({ params: [filter] }: { params: [{ address: Address[]; fromBlock: Hex; toBlock: Hex }] }) {
      requests++;
      const [from, to] = [BigInt(filter.fromBlock), BigInt(filter.toBlock)];
      const wanted = new Set(filter.address.map((a) => a.toLowerCase()));
      return chain
        .filter((b) => b.number >= from && b.number <= to)
        .flatMap((b) => b.logs.filter((l) => wanted.has(l.address.toLowerCase())));
    },
  };
  const reorganisations: Reorganisation[] = [];
  const perReorg: number[] = [];
  let requestsAtFork = 0;
  const view = createChainView({
    client: {
      agent: AGENT_CONTRACT,
      relationship: RELATIONSHIP_CONTRACT,
      publicClient,
    } as unknown as ChainClient,
    settings: { startBlock: 1n, view: { pollIntervalMs: 20, maxStalenessMs: 3_000, maxLagBlocks: 2 } },
    db,
    logger: pino({ level: "silent" }),
    onReorganised: (r) => {
      reorganisations.push(r);
      perReorg.push(requests - requestsAtFork);
    },
  });
  extend(depth + 2);
  await view.start();
  try {
    for (let run = 0; run < runs; run++) {
      extend(depth + 2);
      await view.waitForBlock(head().number, 60_000);
      // The last `depth` blocks replaced by `depth + 1` others (another sealer's branch, heavier).
      const seen = reorganisations.length;
      chain.length -= depth;
      salt++;
      requestsAtFork = requests;
      extend(depth + 1);
      await view.waitForBlock(head().number, 60_000);
      const deadline = Date.now() + 60_000;
      while (reorganisations.length === seen && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await view.stop();
  }
  // The view equals the snapshot with the winning chain's logs (this provider's) applied.
  const expected = viewStateOf(snapshot);
  const keys = new Set<string>(snapshot.relationships.map(([id]) => id));
  applyLogs(
    expected,
    chain.flatMap((b) => keepFollowed(b.logs, RELATIONSHIP_CONTRACT, "relationship", keys)),
    { agent: AGENT_CONTRACT, relationship: RELATIONSHIP_CONTRACT },
  );
  const contents = view.contents();
  const equalsRebuild =
    JSON.stringify(contents.relationships) ===
      JSON.stringify(
        [...keys].sort().map((id) => [id, relationshipRecordOf(expected.relationships.get(id as Hex))]),
      ) &&
    JSON.stringify(contents.agents) ===
      JSON.stringify(
        snapshot.agents
          .map(([a]) => a)
          .sort()
          .map((a) => [a, agentRecordOf(expected.agents.get(a))]),
      );
  const times = reorganisations.map((r) => r.ms);
  const { n, p50, p99 } = summarize(times, 1);
  const sorted = [...perReorg].sort((a, b) => a - b);
  return {
    depth,
    runs,
    recoverMs: { n, p50, p99, max: Math.max(...times) },
    rebuilt: view.reorganisations.rebuilt,
    rolledBack: view.reorganisations.rolledBack,
    requestsPerReorg: sorted[Math.floor(sorted.length / 2)] ?? 0,
    relationshipsHeld: contents.relationships.length,
    equalsRebuild,
  };
}
