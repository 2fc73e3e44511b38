/**
 * A verifiable append-only log in the manner of Certificate Transparency (RFC 9162 §2.1): the
 * Merkle Tree Hash (MTH) over the log's entries, inclusion proofs (PATH) and consistency proofs
 * (PROOF), and their verifiers (§2.1.3.2, §2.1.4.2). Browser-safe (no node:crypto).
 *
 * leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right), MTH({}) = SHA-256("").
 */
import { sha256 } from "@noble/hashes/sha2";
import { bytesToHex, type Hex, hexToBytes } from "viem";
import { canonicalJson } from "./record-root.ts";

const HASH_BYTES = 32;
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_TREE_ROOT: Hex = bytesToHex(sha256(new Uint8Array(0)));

/** A tree head: how many entries, and the MTH over them. */
export type TreeHead = { size: number; root: Hex };

/** RFC 9162 leaf hash: SHA-256(0x00 ‖ entry). */
export function merkleLeafHash(entry: Uint8Array): Uint8Array {
  const data = new Uint8Array(entry.length + 1);
  data[0] = LEAF_PREFIX;
  data.set(entry, 1);
  return sha256(data);
}

/** RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const data = new Uint8Array(1 + 2 * HASH_BYTES);
  data[0] = NODE_PREFIX;
  data.set(left, 1);
  data.set(right, 1 + HASH_BYTES);
  return sha256(data);
}

/**
 * The log entry of one audit entry, as its leaf covers it: the RFC 8785 canonical JSON of the
 * relationship (lower case) and the entry's `hash` (which covers every served field and, through
 * `prevHash`, the relationship's earlier entries).
 */
export function auditLeafData(entry: { relationship: string; hash: string }): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson({ relationship: entry.relationship.toLowerCase(), hash: entry.hash.toLowerCase() }),
  );
}

/** The leaf hash of an audit entry in the transparency log. */
export function auditLeafHash(entry: { relationship: string; hash: string }): Hex {
  return bytesToHex(merkleLeafHash(auditLeafData(entry)));
}

/** The largest power of two smaller than `n` (n ≥ 2): RFC 9162's split point k. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/**
 * An in-memory Merkle tree over leaf hashes, appended in order. Every complete subtree's hash is
 * kept (two hashes per leaf, in flat byte arrays: 64 bytes per entry), so a root, an inclusion
 * proof or a consistency proof for any size costs O(log² n) hashing, never a pass over the leaves.
 *
 * @example
 * const tree = new MerkleTree()
 * tree.append(merkleLeafHash(data))
 * const proof = tree.inclusionProof(0, tree.size)
 */
export class MerkleTree {
  /** levels[h] holds the hashes of the complete subtrees of 2^h leaves, left to right. */
  #levels: Uint8Array[] = [];
  #counts: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf hash (32 bytes, already leaf-hashed). */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_BYTES) throw new TypeError("a leaf hash is 32 bytes");
    let hash = leafHash;
    let index = this.#size;
    for (let level = 0; ; level++) {
      this.#push(level, hash);
      if ((index & 1) === 0) break;
      hash = merkleNodeHash(this.#node(level, index - 1), hash);
      index >>= 1;
    }
    this.#size += 1;
  }

  /** The leaf hash at `index`. */
  leaf(index: number): Uint8Array {
    this.#checkRange(index, 0, this.#size - 1, "leaf index");
    return this.#node(0, index);
  }

  /** MTH of the first `size` leaves (default: all). */
  root(size = this.#size): Uint8Array {
    this.#checkRange(size, 0, this.#size, "tree size");
    return size === 0 ? hexToBytes(EMPTY_TREE_ROOT) : this.#range(0, size);
  }

  /** RFC 9162 PATH(index, D[0:size]): the audit path of leaf `index` in the tree of `size` leaves. */
  inclusionProof(index: number, size = this.#size): Uint8Array[] {
    this.#checkRange(size, 1, this.#size, "tree size");
    this.#checkRange(index, 0, size - 1, "leaf index");
    const path: Uint8Array[] = [];
    const walk = (m: number, start: number, end: number) => {
      const n = end - start;
      if (n === 1) return;
      const k = split(n);
      if (m < k) {
        walk(m, start, start + k);
        path.push(this.#range(start + k, end));
      } else {
        walk(m - k, start + k, end);
        path.push(this.#range(start, start + k));
      }
    };
    walk(index, 0, size);
    return path;
  }

  /** RFC 9162 PROOF(first, D[0:second]): that the tree of `first` leaves is a prefix of `second`. */
  consistencyProof(first: number, second = this.#size): Uint8Array[] {
    this.#checkRange(second, 0, this.#size, "second tree size");
    this.#checkRange(first, 0, second, "first tree size");
    if (first === 0 || first === second) return [];
    const proof: Uint8Array[] = [];
    const sub = (m: number, start: number, end: number, whole: boolean) => {
      const n = end - start;
      if (m === n) {
        if (!whole) proof.push(this.#range(start, end));
        return;
      }
      const k = split(n);
      if (m <= k) {
        sub(m, start, start + k, whole);
        proof.push(this.#range(start + k, end));
      } else {
        sub(m - k, start + k, end, false);
        proof.push(this.#range(start, start + k));
      }
    };
    sub(first, 0, second, true);
    return proof;
  }

  /** MTH(D[start:end]) for start < end, from the kept complete subtrees. */
  #range(start: number, end: number): Uint8Array {
    const n = end - start;
    if (isPowerOfTwo(n) && start % n === 0) return this.#node(Math.log2(n), start / n);
    const k = split(n);
    return merkleNodeHash(this.#range(start, start + k), this.#range(start + k, end));
  }

  #node(level: number, index: number): Uint8Array {
    const bytes = this.#levels[level] as Uint8Array;
    return bytes.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
  }

  #push(level: number, hash: Uint8Array) {
    let bytes = this.#levels[level] ?? new Uint8Array(HASH_BYTES * 16);
    const count = this.#counts[level] ?? 0;
    if ((count + 1) * HASH_BYTES > bytes.length) {
      const grown = new Uint8Array(bytes.length * 2);
      grown.set(bytes);
      bytes = grown;
    }
    bytes.set(hash, count * HASH_BYTES);
    this.#levels[level] = bytes;
    this.#counts[level] = count + 1;
  }

  #checkRange(value: number, min: number, max: number, what: string) {
    if (!Number.isSafeInteger(value) || value < min || value > max)
      throw new RangeError(`${what} ${value} is outside ${min}…${max}`);
  }
}

const toBytes = (value: Uint8Array | string): Uint8Array | undefined => {
  if (typeof value !== "string") return value.length === HASH_BYTES ? value : undefined;
  return /^0x[0-9a-fA-F]{64}$/.test(value) ? hexToBytes(value as Hex) : undefined;
};

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

type HashInput = Uint8Array | string;

/**
 * The walk both verifiers share (RFC 9162 §2.1.3.2 step 5, §2.1.4.2 step 6): for each proof item,
 * whether it is a left sibling (`left`) or a right one (`right`) of the node hashed so far, from
 * the node's index `fn` and the last index `sn` at its level. True when the walk ends at the root.
 */
function walkPath(
  fn: number,
  sn: number,
  items: readonly Uint8Array[],
  left: (item: Uint8Array) => void,
  right: (item: Uint8Array) => void,
): boolean {
  for (const item of items) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      left(item);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      right(item);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0;
}

/** The items of a proof as 32-byte arrays, or undefined if any is not a 32-byte hash. */
function proofItems(proof: readonly HashInput[]): Uint8Array[] | undefined {
  if (!Array.isArray(proof)) return undefined;
  const items: Uint8Array[] = [];
  for (const item of proof) {
    const bytes = toBytes(item);
    if (!bytes) return undefined;
    items.push(bytes);
  }
  return items;
}

/**
 * RFC 9162 §2.1.3.2: whether `proof` shows the leaf `leafHash` at `index` in the tree of `size`
 * leaves whose root is `root`. False (never a throw) for anything malformed.
 */
export function verifyInclusion(
  leafHash: HashInput,
  index: number,
  size: number,
  proof: readonly HashInput[],
  root: HashInput,
): boolean {
  const leaf = toBytes(leafHash);
  const expected = toBytes(root);
  const items = proofItems(proof);
  if (!leaf || !expected || !items || !Number.isSafeInteger(index) || !Number.isSafeInteger(size))
    return false;
  if (index < 0 || index >= size) return false;
  let r = leaf;
  const ends = walkPath(
    index,
    size - 1,
    items,
    (p) => {
      r = merkleNodeHash(p, r);
    },
    (p) => {
      r = merkleNodeHash(r, p);
    },
  );
  return ends && equal(r, expected);
}

/**
 * RFC 9162 §2.1.4.2: whether `proof` shows that the tree of `first` leaves (root `firstRoot`) is
 * a prefix of the tree of `second` leaves (root `secondRoot`). False for anything malformed.
 */
export function verifyConsistency(
  first: number,
  second: number,
  firstRoot: HashInput,
  secondRoot: HashInput,
  proof: readonly HashInput[],
): boolean {
  const firstHash = toBytes(firstRoot);
  const secondHash = toBytes(secondRoot);
  const items = proofItems(proof);
  if (!firstHash || !secondHash || !items) return false;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second)
    return false;
  if (first === second) return items.length === 0 && equal(firstHash, secondHash);
  // Every tree extends the empty one.
  if (first === 0) return items.length === 0 && equal(firstHash, hexToBytes(EMPTY_TREE_ROOT));
  if (items.length === 0) return false;
  if (isPowerOfTwo(first)) items.unshift(firstHash);
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = items[0] as Uint8Array;
  let sr = fr;
  const ends = walkPath(
    fn,
    sn,
    items.slice(1),
    (c) => {
      fr = merkleNodeHash(c, fr);
      sr = merkleNodeHash(c, sr);
    },
    (c) => {
      sr = merkleNodeHash(sr, c);
    },
  );
  return ends && equal(fr, firstHash) && equal(sr, secondHash);
}

/** Hex helpers for proofs on the wire. */
export const proofToHex = (proof: readonly Uint8Array[]): Hex[] => proof.map((p) => bytesToHex(p));
