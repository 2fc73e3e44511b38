import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { bytesToHex, type Hex, hexToBytes } from "viem";
import {
  auditLeafHash,
  EMPTY_TREE_ROOT,
  MerkleTree,
  merkleLeafHash,
  merkleNodeHash,
  proofToHex,
  verifyConsistency,
  verifyInclusion,
} from "./transparency-log.ts";

// The RFC 6962 reference data set (as in certificate-transparency-go and trillian tests): the
// eight entries, the MTH of each prefix, and proofs among them. Facts only.
const ENTRIES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map((h) => hexToBytes(`0x${h}`));
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
].map((h) => `0x${h}` as Hex);
const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  {
    index: 0,
    size: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];
const CONSISTENCY: { first: number; second: number; proof: string[] }[] = [
  {
    first: 2,
    second: 8,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    first: 6,
    second: 8,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
  {
    first: 2,
    second: 5,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
];
const hex = (items: readonly string[]) => items.map((h) => `0x${h}`);

function referenceTree(): MerkleTree {
  const tree = new MerkleTree();
  for (const e of ENTRIES) tree.append(merkleLeafHash(e));
  return tree;
}

/** A tree of `n` synthetic leaves and the root of each prefix, computed by the plain recursion. */
function synthetic(n: number) {
  const leaves = Array.from({ length: n }, (_, i) => merkleLeafHash(new Uint8Array([i & 0xff, i >> 8, 7])));
  const mth = (d: Uint8Array[]): Uint8Array => {
    if (d.length === 1) return d[0] as Uint8Array;
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return merkleNodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
  };
  const tree = new MerkleTree();
  for (const l of leaves) tree.append(l);
  const roots = [hexToBytes(EMPTY_TREE_ROOT), ...leaves.map((_, i) => mth(leaves.slice(0, i + 1)))];
  return { tree, leaves, roots };
}

describe("transparency log (RFC 9162 §2.1)", () => {
  test("default: leaf and node hashes carry the 0x00 / 0x01 prefixes", () => {
    const sha = (bytes: number[]) => `0x${createHash("sha256").update(Buffer.from(bytes)).digest("hex")}`;
    assert.equal(bytesToHex(merkleLeafHash(new Uint8Array([1, 2]))), sha([0, 1, 2]));
    const a = new Uint8Array(32).fill(1);
    const b = new Uint8Array(32).fill(2);
    assert.equal(bytesToHex(merkleNodeHash(a, b)), sha([1, ...a, ...b]));
    assert.equal(EMPTY_TREE_ROOT, ROOTS[0]);
  });

  test("default: the tree heads of the RFC 6962 reference entries, for every size 0…8", () => {
    const tree = referenceTree();
    for (let size = 0; size <= 8; size++)
      assert.equal(bytesToHex(tree.root(size)), ROOTS[size], `size ${size}`);
  });

  test("default: inclusion proofs equal the reference vectors and verify", () => {
    const tree = referenceTree();
    for (const v of INCLUSION) {
      assert.deepEqual(proofToHex(tree.inclusionProof(v.index, v.size)), hex(v.proof));
      const leaf = merkleLeafHash(ENTRIES[v.index] as Uint8Array);
      assert.ok(verifyInclusion(leaf, v.index, v.size, hex(v.proof), ROOTS[v.size] as Hex));
    }
  });

  test("default: consistency proofs equal the reference vectors and verify", () => {
    const tree = referenceTree();
    for (const v of CONSISTENCY) {
      assert.deepEqual(proofToHex(tree.consistencyProof(v.first, v.second)), hex(v.proof));
      assert.ok(
        verifyConsistency(v.first, v.second, ROOTS[v.first] as Hex, ROOTS[v.second] as Hex, hex(v.proof)),
      );
    }
  });

  test("behavior: every proof of every size up to 40 verifies against the plain recursion's roots", () => {
    const { tree, leaves, roots } = synthetic(40);
    for (let n = 1; n <= 40; n++) {
      assert.deepEqual(tree.root(n), roots[n]);
      for (let i = 0; i < n; i++)
        assert.ok(
          verifyInclusion(leaves[i] as Uint8Array, i, n, tree.inclusionProof(i, n), roots[n] as Uint8Array),
        );
      for (let m = 0; m <= n; m++)
        assert.ok(
          verifyConsistency(
            m,
            n,
            roots[m] as Uint8Array,
            roots[n] as Uint8Array,
            tree.consistencyProof(m, n),
          ),
          `${m}→${n}`,
        );
    }
  });

  test("error: wrong index, size, leaf, root or a mangled path is rejected, never thrown", () => {
    const { tree, leaves, roots } = synthetic(13);
    const proof = tree.inclusionProof(5, 13);
    const leaf = leaves[5] as Uint8Array;
    const root = roots[13] as Uint8Array;
    assert.ok(verifyInclusion(leaf, 5, 13, proof, root));
    assert.equal(verifyInclusion(leaf, 4, 13, proof, root), false);
    assert.equal(verifyInclusion(leaf, 5, 6, proof, root), false);
    assert.equal(verifyInclusion(leaves[6] as Uint8Array, 5, 13, proof, root), false);
    assert.equal(verifyInclusion(leaf, 5, 13, proof, roots[12] as Uint8Array), false);
    assert.equal(verifyInclusion(leaf, 5, 13, proof.slice(0, -1), root), false);
    assert.equal(verifyInclusion(leaf, 5, 13, [...proof, root], root), false);
    assert.equal(verifyInclusion(leaf, 13, 13, proof, root), false);
    assert.equal(verifyInclusion(leaf, 5, 13, ["0x12"], root), false);
    assert.equal(verifyInclusion("nonsense", 5, 13, proof, root), false);

    const c = tree.consistencyProof(6, 13);
    assert.ok(verifyConsistency(6, 13, roots[6] as Uint8Array, root, c));
    assert.equal(verifyConsistency(6, 13, roots[5] as Uint8Array, root, c), false);
    assert.equal(verifyConsistency(6, 13, roots[6] as Uint8Array, roots[12] as Uint8Array, c), false);
    assert.equal(verifyConsistency(6, 13, roots[6] as Uint8Array, root, c.slice(1)), false);
    assert.equal(verifyConsistency(6, 13, roots[6] as Uint8Array, root, []), false);
    assert.equal(verifyConsistency(13, 6, root, roots[6] as Uint8Array, c), false);
    assert.equal(verifyConsistency(4, 4, roots[4] as Uint8Array, roots[5] as Uint8Array, []), false);
    assert.throws(() => tree.inclusionProof(13, 13), RangeError);
    assert.throws(() => tree.consistencyProof(5, 14), RangeError);
  });

  test("default: an audit entry's leaf covers its relationship and hash, in any case", () => {
    const relationship = `0x${"ab".repeat(32)}`;
    const hash = `0x${"cd".repeat(32)}`;
    const json = `{"hash":"${hash}","relationship":"${relationship}"}`;
    const expected = `0x${createHash("sha256")
      .update(Buffer.concat([Buffer.from([0]), Buffer.from(json)]))
      .digest("hex")}`;
    assert.equal(
      auditLeafHash({ relationship: relationship.toUpperCase().replace("0X", "0x"), hash }),
      expected,
    );
  });
});
