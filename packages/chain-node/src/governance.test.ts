import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { keccak256, toHex } from "viem";
import { compareSignerSets } from "./deploy.ts";
import {
  CursorFileError,
  type GovernanceCursor,
  GovernanceParametersError,
  parseCursor,
  parseSignerLogs,
  planVotes,
  type RpcLog,
  readCursor,
  SIGNER_ADDED_TOPIC,
  SIGNER_REMOVED_TOPIC,
  serializeCursor,
  signerDrift,
  signerLogFilter,
  writeCursor,
} from "./governance.ts";

const A = "0x1111111111111111111111111111111111111111";
const B = "0x2222222222222222222222222222222222222222";
const C = "0x3333333333333333333333333333333333333333";
const D = "0xdddddddddddddddddddddddddddddddddddddddd";
const REGISTRY = "0x00000000000000000000000000000000000000aa";
const OTHER = "0x00000000000000000000000000000000000000bb";
const topic = (a: string) => `0x${"0".repeat(24)}${a.slice(2)}`;

describe("planVotes", () => {
  test("default: registry and Clique agree, nothing pending → no vote", () => {
    assert.deepEqual(planVotes({ desired: [A, B, C], actual: [C, B, A], proposals: {} }), []);
  });

  test("behavior: a registry signer missing from Clique → propose(true)", () => {
    assert.deepEqual(planVotes({ desired: [A, B, D], actual: [A, B], proposals: {} }), [
      { kind: "propose", address: "0xDDdDddDdDdddDDddDDddDDDDdDdDDdDDdDDDDDDd", authorize: true },
    ]);
  });

  test("behavior: a Clique signer the registry removed → propose(false)", () => {
    const votes = planVotes({ desired: [A, B], actual: [A, B, C], proposals: {} });
    assert.equal(votes.length, 1);
    assert.equal(votes[0]?.kind, "propose");
    assert.equal(votes[0]?.kind === "propose" && votes[0].authorize, false);
  });

  test("behavior: the same vote already pending is never cast again (case-insensitive)", () => {
    assert.deepEqual(
      planVotes({
        desired: [A, B, D],
        actual: [A, B],
        proposals: { [D.toUpperCase().replace("0X", "0x")]: true },
      }),
      [],
    );
    assert.deepEqual(planVotes({ desired: [A], actual: [A, B], proposals: { [B]: false } }), []);
  });

  test("behavior: a conflicting pending vote is replaced by the registry's", () => {
    const votes = planVotes({ desired: [A, B, D], actual: [A, B], proposals: { [D]: false } });
    assert.deepEqual(
      votes.map((v) => v.kind === "propose" && v.authorize),
      [true],
    );
  });

  test("behavior: once Clique applied the change, the pending vote is discarded", () => {
    assert.deepEqual(planVotes({ desired: [A, B, D], actual: [A, B, D], proposals: { [D]: true } }), [
      { kind: "discard", address: "0xDDdDddDdDdddDDddDDddDDDDdDdDDdDDdDDDDDDd", reason: "applied" },
    ]);
    assert.deepEqual(
      planVotes({ desired: [A, B], actual: [A, B], proposals: { [D]: false } }).map((v) => v.kind),
      ["discard"],
    );
  });

  test("behavior: a vote against the registry's answer is discarded as conflicting", () => {
    const [vote] = planVotes({ desired: [A, B], actual: [A, B], proposals: { [A]: false, [D]: true } });
    assert.deepEqual(vote, {
      kind: "discard",
      address: "0x1111111111111111111111111111111111111111",
      reason: "conflicting",
    });
  });

  test("behavior: scope limits the plan to the given addresses", () => {
    const votes = planVotes({ desired: [A, B, D], actual: [A, C], proposals: {}, scope: [D] });
    assert.deepEqual(
      votes.map((v) => v.address.toLowerCase()),
      [D],
    );
  });

  test("behavior: replaying the plan after casting it yields nothing (idempotent)", () => {
    const state = { desired: [A, B, D], actual: [A, B, C], proposals: {} as Record<string, boolean> };
    for (const v of planVotes(state)) if (v.kind === "propose") state.proposals[v.address] = v.authorize;
    assert.deepEqual(planVotes(state), []);
  });
});

describe("signerDrift", () => {
  test("default: same sets in any order and case are in sync", () => {
    assert.deepEqual(signerDrift([A, B], [B.toUpperCase().replace("0X", "0x"), A]), {
      inSync: true,
      missingFromClique: [],
      notInRegistry: [],
    });
  });
  test("behavior: reports both directions", () => {
    const d = signerDrift([A, B, D], [A, B, C]);
    assert.equal(d.inSync, false);
    assert.deepEqual(
      d.missingFromClique.map((a) => a.toLowerCase()),
      [D],
    );
    assert.deepEqual(
      d.notInRegistry.map((a) => a.toLowerCase()),
      [C],
    );
  });
  test("compareSignerSets (deployment check) agrees", () => {
    assert.equal(compareSignerSets([A, B], [B, A]).equal, true);
    assert.deepEqual(compareSignerSets([A, D], [A, C]).missing, [
      "0xDDdDddDdDdddDDddDDddDDDDdDdDDdDDdDDDDDDd",
    ]);
  });
});

describe("signer log filter", () => {
  test("default: the registry's address and exactly the two signer topics, closed range", () => {
    assert.equal(SIGNER_ADDED_TOPIC, keccak256(toHex("SignerAdded(address)")));
    assert.equal(SIGNER_REMOVED_TOPIC, keccak256(toHex("SignerRemoved(address)")));
    assert.deepEqual(signerLogFilter(REGISTRY, 5n, 1004n), {
      address: "0x00000000000000000000000000000000000000AA",
      fromBlock: "0x5",
      toBlock: "0x3ec",
      topics: [[SIGNER_ADDED_TOPIC, SIGNER_REMOVED_TOPIC]],
    });
  });
  test("error: an empty range is refused", () => {
    assert.throws(() => signerLogFilter(REGISTRY, 5n, 4n), GovernanceParametersError);
  });

  const log = (over: Partial<RpcLog>): RpcLog => ({
    address: REGISTRY,
    topics: [SIGNER_ADDED_TOPIC, topic(D)],
    data: "0x",
    blockNumber: "0x10",
    blockHash: `0x${"ab".repeat(32)}`,
    transactionHash: `0x${"cd".repeat(32)}`,
    logIndex: "0x0",
    ...over,
  });

  test("behavior: decodes events in chain order", () => {
    const { events, ignored } = parseSignerLogs(
      [
        log({ blockNumber: "0x11", topics: [SIGNER_REMOVED_TOPIC, topic(C)] }),
        log({ logIndex: "0x2" }),
        log({ logIndex: "0x1", topics: [SIGNER_ADDED_TOPIC, topic(A)] }),
      ],
      REGISTRY,
    );
    assert.deepEqual(ignored, []);
    assert.deepEqual(
      events.map((e) => [e.kind, e.signer.toLowerCase(), e.blockNumber, e.logIndex]),
      [
        ["SignerAdded", A, 16n, 1],
        ["SignerAdded", D, 16n, 2],
        ["SignerRemoved", C, 17n, 0],
      ],
    );
  });

  test("behavior: a look-alike log of another contract, another topic or a removed log is ignored", () => {
    const { events, ignored } = parseSignerLogs(
      [
        log({ address: OTHER }),
        log({ topics: [keccak256(toHex("SignerAdded(address,uint256)")), topic(D)] }),
        log({ topics: [SIGNER_ADDED_TOPIC] }),
        log({ topics: [SIGNER_ADDED_TOPIC, `0x${"f".repeat(64)}`] }),
        log({ removed: true }),
      ],
      REGISTRY,
    );
    assert.equal(events.length, 0);
    assert.equal(ignored.length, 5);
  });
});

describe("cursor file", () => {
  const cursor: GovernanceCursor = {
    version: 1,
    chainId: 633732,
    registry: "0x00000000000000000000000000000000000000AA",
    block: 123n,
    blockHash: `0x${"ab".repeat(32)}`,
  };

  test("default: round-trips", () => {
    assert.deepEqual(parseCursor(serializeCursor(cursor), { path: "c" }), cursor);
  });

  test("error: garbage, wrong fields, another chain or registry → CursorFileError naming the file", () => {
    const bad: [string, RegExp][] = [
      ["not json", /not JSON/],
      ["[]", /not a JSON object/],
      [JSON.stringify({ ...JSON.parse(serializeCursor(cursor)), version: 2 }), /version/],
      [JSON.stringify({ ...JSON.parse(serializeCursor(cursor)), block: -1 }), /block/],
      [JSON.stringify({ ...JSON.parse(serializeCursor(cursor)), registry: "0x12" }), /registry/],
      [JSON.stringify({ ...JSON.parse(serializeCursor(cursor)), blockHash: "0x12" }), /blockHash/],
    ];
    for (const [text, re] of bad) {
      assert.throws(
        () => parseCursor(text, { path: "/x/cursor.json" }),
        (e: unknown) =>
          e instanceof CursorFileError &&
          re.test(e.shortMessage) &&
          e.shortMessage.includes("/x/cursor.json"),
        text,
      );
    }
    assert.throws(() => parseCursor(serializeCursor(cursor), { path: "c", chainId: 5 }), /chain 633732/);
    assert.throws(
      () => parseCursor(serializeCursor(cursor), { path: "c", registry: OTHER }),
      /belongs to registry/,
    );
  });

  test("behavior: written atomically (no temp file left) and read back; a missing file is undefined", async () => {
    const dir = await mkdtemp(join(tmpdir(), "medrec-cursor-"));
    try {
      const path = join(dir, "cursor.json");
      assert.equal(await readCursor(path), undefined);
      await writeCursor(path, cursor);
      await writeCursor(path, { ...cursor, block: 124n });
      assert.equal((await readCursor(path))?.block, 124n);
      assert.deepEqual(await readdir(dir), ["cursor.json"]);
      await writeFile(path, "{");
      await assert.rejects(readCursor(path), CursorFileError);
      assert.equal(await readFile(path, "utf8"), "{");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
