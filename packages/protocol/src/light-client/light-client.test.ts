import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createMerkleProof, createMPT } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, hexToBytes, KECCAK256_NULL, KECCAK256_RLP_ARRAY } from "@ethereumjs/util";
import { secp256k1 } from "@noble/curves/secp256k1";
import { type Address, bytesToHex, concatHex, type Hex, numberToHex, pad, toHex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { checkCliqueHeader, cliqueSealHash, headerHash, type RpcHeader } from "./header.ts";
import { decodeGrant, decodeRelationshipEntry, grantSlot, relationshipEntrySlots } from "./layout.ts";
import { createLightClient, LightClientError } from "./light-client.ts";
import { ProofError, type RpcProof, slotKey, verifyStorageProof } from "./proof.ts";

const SEALER_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318" as const;
const OTHER_KEY = "0x8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f" as const;
const SEALER = privateKeyToAddress(SEALER_KEY);
const CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3" as Address;
const ID = `0x${"ab".repeat(32)}` as Hex;
const VIEWER = "0x70997970c51812dc3a010c7d01b50e091dc79c8c" as Address;
const ROOT = `0x${"5e".repeat(32)}` as Hex;

/** A contract's storage and the state holding it, as a node would prove them. */
async function world(storage: Map<bigint, bigint>) {
  const storageTrie = await createMPT({ useKeyHashing: true });
  for (const [slot, value] of storage)
    await storageTrie.put(hexToBytes(slotKey(slot)), RLP.encode(bigIntToUnpaddedBytes(value)));
  const state = await createMPT({ useKeyHashing: true });
  const account = RLP.encode([
    bigIntToUnpaddedBytes(1n),
    bigIntToUnpaddedBytes(0n),
    storageTrie.root(),
    KECCAK256_NULL,
  ]);
  await state.put(hexToBytes(CONTRACT), account);
  // Other accounts, so that the proof has branch nodes.
  for (let i = 1; i < 40; i++)
    await state.put(
      hexToBytes(pad(toHex(i), { size: 20 })),
      RLP.encode([bigIntToUnpaddedBytes(BigInt(i)), new Uint8Array(), KECCAK256_RLP_ARRAY, KECCAK256_NULL]),
    );
  const stateRoot = bytesToHex(state.root());
  const proof = async (slots: bigint[]): Promise<RpcProof> => ({
    address: CONTRACT,
    storageHash: bytesToHex(storageTrie.root()),
    accountProof: (await createMerkleProof(state, hexToBytes(CONTRACT))).map((n) => bytesToHex(n)),
    storageProof: await Promise.all(
      slots.map(async (slot) => ({
        key: slotKey(slot),
        value: numberToHex(storage.get(slot) ?? 0n),
        proof: (await createMerkleProof(storageTrie, hexToBytes(slotKey(slot)))).map((n) => bytesToHex(n)),
      })),
    ),
  });
  return { stateRoot, proof };
}

function sealedHeader(stateRoot: Hex, number: bigint, key: Hex = SEALER_KEY): RpcHeader {
  const unsigned: RpcHeader = {
    hash: "0x",
    parentHash: `0x${"11".repeat(32)}`,
    sha3Uncles: "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
    miner: `0x${"00".repeat(20)}`,
    stateRoot,
    transactionsRoot: `0x${"22".repeat(32)}`,
    receiptsRoot: `0x${"33".repeat(32)}`,
    logsBloom: `0x${"00".repeat(256)}`,
    difficulty: "0x2",
    number: numberToHex(number),
    gasLimit: "0x1c9c380",
    gasUsed: "0x0",
    timestamp: "0x6750a000",
    extraData: concatHex([`0x${"00".repeat(32)}`, `0x${"00".repeat(65)}`]),
    mixHash: `0x${"00".repeat(32)}`,
    nonce: "0x0000000000000000",
    baseFeePerGas: "0x7",
  };
  const signature = secp256k1.sign(cliqueSealHash(unsigned), hexToBytes(key));
  const seal = concatHex([
    bytesToHex(signature.toCompactRawBytes()),
    numberToHex(signature.recovery, { size: 1 }),
  ]);
  const header = { ...unsigned, extraData: concatHex([`0x${"00".repeat(32)}`, seal]) };
  return { ...header, hash: headerHash(header) };
}

const storage = () => {
  const [first, provider, root] = relationshipEntrySlots(ID);
  return new Map([
    [first, (1n << 224n) | (3n << 160n) | 0x1234n],
    [provider, 0x99n],
    [root, BigInt(ROOT)],
    [grantSlot(ID, VIEWER), (1_900_000_000n << 16n) | 0x00ffn],
  ]);
};

describe("verifyStorageProof", () => {
  test("default: proves a relationship's root and a grant", async () => {
    const { stateRoot, proof } = await world(storage());
    const slots = [...relationshipEntrySlots(ID), grantSlot(ID, VIEWER)];
    const values = await verifyStorageProof(stateRoot, CONTRACT, slots, await proof(slots));
    const entry = decodeRelationshipEntry(relationshipEntrySlots(ID).map((s) => values.get(s) ?? 0n));
    assert.equal(entry.recordRoot, ROOT);
    assert.equal(entry.sequence, 3n);
    assert.equal(entry.ended, true);
    assert.deepEqual(decodeGrant(values.get(grantSlot(ID, VIEWER)) ?? 0n), {
      scopes: 0xff,
      expiresAt: 1_900_000_000n,
    });
  });

  test("behavior: an absent slot is proven to be zero", async () => {
    const { stateRoot, proof } = await world(storage());
    const absent = grantSlot(ID, CONTRACT);
    assert.equal(
      (await verifyStorageProof(stateRoot, CONTRACT, [absent], await proof([absent]))).get(absent),
      0n,
    );
  });

  test("error: a wrong stated value (another root)", async () => {
    const { stateRoot, proof } = await world(storage());
    const slot = relationshipEntrySlots(ID)[2];
    const lie = await proof([slot]);
    (lie.storageProof[0] as { value: Hex }).value = `0x${"66".repeat(32)}`;
    await assert.rejects(verifyStorageProof(stateRoot, CONTRACT, [slot], lie), /stated value/);
  });

  test("error: a grant hidden (value zero, proof of another trie)", async () => {
    const grant = grantSlot(ID, VIEWER);
    const honest = await world(storage());
    const withoutGrant = new Map(storage());
    withoutGrant.delete(grant);
    const forged = await (await world(withoutGrant)).proof([grant]);
    await assert.rejects(
      verifyStorageProof(honest.stateRoot, CONTRACT, [grant], forged),
      /does not lead|stated storage root/,
    );
  });

  test("error: a missing proof node", async () => {
    const { stateRoot, proof } = await world(storage());
    const slot = relationshipEntrySlots(ID)[2];
    const lie = await proof([slot]);
    lie.accountProof.splice(1, 1);
    await assert.rejects(verifyStorageProof(stateRoot, CONTRACT, [slot], lie), /the account/);
  });

  test("error: a forged storage node", async () => {
    const { stateRoot, proof } = await world(storage());
    const slot = relationshipEntrySlots(ID)[2];
    const lie = await proof([slot]);
    const entry = lie.storageProof[0] as { proof: Hex[] };
    entry.proof[entry.proof.length - 1] = bytesToHex(
      RLP.encode([hexToBytes("0x20"), RLP.encode(hexToBytes(ROOT.replace("5e", "5f") as Hex))]),
    );
    await assert.rejects(verifyStorageProof(stateRoot, CONTRACT, [slot], lie), ProofError);
  });

  test("error: a wrong state root", async () => {
    const { proof } = await world(storage());
    const slot = relationshipEntrySlots(ID)[2];
    await assert.rejects(
      verifyStorageProof(`0x${"77".repeat(32)}`, CONTRACT, [slot], await proof([slot])),
      /the account/,
    );
  });
});

describe("checkCliqueHeader", () => {
  test("default: recomputes the hash and recovers the sealer", () => {
    const header = sealedHeader(`0x${"44".repeat(32)}`, 10n);
    assert.equal(checkCliqueHeader(header, [SEALER]).signer, SEALER);
  });

  test("error: a field changed under the same hash", () => {
    const header = { ...sealedHeader(`0x${"44".repeat(32)}`, 10n), stateRoot: `0x${"45".repeat(32)}` as Hex };
    assert.throws(() => checkCliqueHeader(header, [SEALER]), /hash to/);
  });

  test("error: a forged seal (another key)", () => {
    const header = sealedHeader(`0x${"44".repeat(32)}`, 10n, OTHER_KEY);
    assert.throws(() => checkCliqueHeader(header, [SEALER]), /not one of the network's sealers/);
  });
});

describe("createLightClient", () => {
  async function network(lie?: (method: string, result: unknown) => unknown) {
    const { stateRoot, proof } = await world(storage());
    const header = sealedHeader(stateRoot, 20n);
    const answer = async (method: string, params: unknown[]) => {
      if (method === "eth_blockNumber") return "0x16";
      if (method === "eth_getBlockByNumber") return header;
      if (method === "eth_getProof") return proof((params[1] as Hex[]).map(BigInt));
      throw new Error(method);
    };
    const fetch = (async (url: string, init: RequestInit) => {
      const { method, params, id } = JSON.parse(String(init.body));
      let result: unknown = await answer(method, params);
      if (url.includes("liar") && lie) result = lie(method, structuredClone(result));
      return new Response(JSON.stringify({ jsonrpc: "2.0", id, result }));
    }) as typeof globalThis.fetch;
    return createLightClient({
      nodes: ["a", "b", "liar"].map((name) => ({ name, rpcUrl: `http://${name}.test/` })),
      signers: [SEALER],
      fetch,
    });
  }
  const root = relationshipEntrySlots(ID)[2];

  test("default: reads a proven value at a header two nodes agree on", async () => {
    const client = await network();
    assert.equal(
      (await client.readSlots({ address: CONTRACT, slots: [root], via: "liar" })).get(root),
      BigInt(ROOT),
    );
    assert.equal((await client.header()).number, 20n);
    assert.deepEqual((await client.header()).agreeing, ["a", "b", "liar"]);
  });

  test("error: a node whose header hashes otherwise is at fault; the others still prove", async () => {
    const client = await network((method, result) =>
      method === "eth_getBlockByNumber"
        ? { ...(result as RpcHeader), stateRoot: `0x${"00".repeat(32)}` }
        : result,
    );
    await assert.rejects(
      client.readSlots({ address: CONTRACT, slots: [root], via: "liar" }),
      (error: unknown) => {
        assert.ok(error instanceof LightClientError);
        assert.equal(error.code, "node-at-fault");
        assert.match(error.message, /does not check/);
        return true;
      },
    );
    assert.equal(
      (await client.readSlots({ address: CONTRACT, slots: [root], via: "a" })).get(root),
      BigInt(ROOT),
    );
  });

  test("error: a provider's node a block behind the two that agreed is waited for, and its lie caught", async () => {
    let asked = 0;
    const client = await network((method, result) => {
      if (method !== "eth_getBlockByNumber") return result;
      // Not there yet when the header is agreed on; then a header changed under its hash.
      asked++;
      return asked === 1 ? null : { ...(result as RpcHeader), stateRoot: `0x${"00".repeat(32)}` };
    });
    assert.deepEqual((await client.header()).agreeing, ["a", "b"]);
    assert.equal(client.faultOf("liar"), undefined);
    await assert.rejects(
      client.readSlots({ address: CONTRACT, slots: [root], via: "liar" }),
      (error: unknown) => error instanceof LightClientError && error.code === "node-at-fault",
    );
    assert.ok(asked >= 2, "the provider's own node was asked for the agreed block");
  });

  test("behavior: a validly sealed header the others do not share (a fork at the tip) is not a lie", async () => {
    const fork = sealedHeader(`0x${"99".repeat(32)}`, 20n);
    const client = await network((method, result) => (method === "eth_getBlockByNumber" ? fork : result));
    assert.deepEqual((await client.header()).agreeing, ["a", "b"]);
    assert.equal(client.faultOf("liar"), undefined);
    // Its proofs are checked against the agreed state root.
    assert.equal(
      (await client.readSlots({ address: CONTRACT, slots: [root], via: "liar" })).get(root),
      BigInt(ROOT),
    );
  });

  test("error: a node whose proof does not check is at fault, never believed", async () => {
    const client = await network((method, result) => {
      if (method !== "eth_getProof") return result;
      const proof = result as RpcProof;
      (proof.storageProof[0] as { value: Hex }).value = "0x1";
      return proof;
    });
    await assert.rejects(
      client.readSlots({ address: CONTRACT, slots: [root], via: "liar" }),
      /node-at-fault|does not check/,
    );
    assert.match(client.faultOf("liar")?.reason ?? "", /stated value/);
    // Without a `via`, another node's proof is used.
    assert.equal((await client.readSlots({ address: CONTRACT, slots: [root] })).get(root), BigInt(ROOT));
  });
});
