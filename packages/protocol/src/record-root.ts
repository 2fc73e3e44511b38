import canonicalize from "canonicalize";
import { bytesToHex, type Hex, hexToBytes, sha256, stringToBytes } from "viem";
import { BaseError } from "./errors.ts";
import { type FhirBundle, type FhirExtension, isObject } from "./fhir.ts";

/** Root of the empty record set: 32 zero bytes. */
export const EMPTY_RECORD_ROOT: Hex = `0x${"00".repeat(32)}`;

/** `Bundle.meta.extension[].url` of the record root. */
export const RECORD_ROOT_URL = "https://medrec.dev/fhir/record-root";

/** `Bundle.entry[i].extension[].url` of an entry's proof. */
export const RECORD_PROOF_URL = "https://medrec.dev/fhir/record-proof";

/** A 32-byte hash as `0x` + 64 lowercase hex digits. */
export type Hash = Hex;

/** A Merkle tree of a record set: its root and one proof (siblings, leaf to root) per leaf. */
export type RecordTree = {
  /** The record root. */
  root: Hash;
  /** `proofs[i]` proves `leaves[i]` (input order). */
  proofs: Hash[][];
};

/** Thrown for a value that is not a 32-byte hex hash. */
export class InvalidHashError extends BaseError {
  override name = "InvalidHashError";
  constructor({ value, what = "hash" }: { value: unknown; what?: string }) {
    super(`Invalid ${what}: expected 0x followed by 64 hex digits.`, {
      details: `got ${typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value}`,
    });
  }
}

/** Thrown by {@link leafHash} for a value that cannot be canonicalized as a FHIR resource. */
export class InvalidRecordError extends BaseError {
  override name = "InvalidRecordError";
}

/** Thrown by {@link annotateBundle} when the proofs do not match the bundle. */
export class BundleProofMismatchError extends BaseError {
  override name = "BundleProofMismatchError";
}

const HASH_REGEX = /^0x[0-9a-fA-F]{64}$/;

/** Whether `value` is `0x` + 64 hex digits (any case). */
export function isHash(value: unknown): value is Hash {
  return typeof value === "string" && HASH_REGEX.test(value);
}

function toBytes32(value: unknown, what?: string): Uint8Array {
  if (!isHash(value)) throw new InvalidHashError({ value, ...(what ? { what } : {}) });
  return hexToBytes(value);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

// One scratch buffer: hashing is synchronous, so it is never shared between two calls.
const pair = new Uint8Array(64);

function hashPairBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const [lo, hi] = compareBytes(a, b) <= 0 ? [a, b] : [b, a];
  pair.set(lo, 0);
  pair.set(hi, 32);
  return sha256(pair, "bytes");
}

/**
 * The RFC 8785 (JCS) canonical JSON of a value: sorted keys, ECMAScript number forms, no whitespace.
 *
 * @throws {InvalidRecordError} for values JSON cannot represent (undefined, NaN, Infinity, BigInt, cycles).
 */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (cause) {
    throw new InvalidRecordError("The record cannot be canonicalized as JSON (RFC 8785).", { cause });
  }
  if (text === undefined)
    throw new InvalidRecordError("The record cannot be canonicalized as JSON (RFC 8785).");
  return text;
}

/**
 * The leaf of one FHIR R4 resource: SHA-256 of its RFC 8785 canonical JSON.
 *
 * @throws {InvalidRecordError} if `resource` is not a JSON object.
 * @example leafHash({ resourceType: "Patient", id: "p1" }) // "0x…"
 */
export function leafHash(resource: unknown): Hash {
  if (!isObject(resource)) throw new InvalidRecordError("A record must be a FHIR resource (a JSON object).");
  return sha256(stringToBytes(canonicalJson(resource)), "hex");
}

/**
 * A parent node: SHA-256(min(a, b) ‖ max(a, b)) over the raw 32-byte values.
 *
 * @throws {InvalidHashError} if either value is not a 32-byte hex hash.
 */
export function hashPair(a: Hash, b: Hash): Hash {
  return bytesToHex(hashPairBytes(toBytes32(a), toBytes32(b)));
}

/**
 * Builds the levels bottom-up. Leaves are sorted ascending first so that the root depends only
 * on the record *set*, not on the order a database returns it in.
 */
function buildLevels(leaves: readonly Hash[]): { levels: Uint8Array[][]; order: number[] } {
  const bytes = leaves.map((leaf) => toBytes32(leaf, "leaf"));
  const order = bytes
    .map((_, i) => i)
    .sort((i, j) => compareBytes(bytes[i] as Uint8Array, bytes[j] as Uint8Array));
  let level = order.map((i) => bytes[i] as Uint8Array);
  const levels = [level];
  while (level.length > 1) {
    const next: Uint8Array[] = new Array(Math.ceil(level.length / 2));
    for (let i = 0; i + 1 < level.length; i += 2)
      next[i >> 1] = hashPairBytes(level[i] as Uint8Array, level[i + 1] as Uint8Array);
    // A lone node is carried up unchanged.
    if (level.length % 2 === 1) next[next.length - 1] = level[level.length - 1] as Uint8Array;
    levels.push(next);
    level = next;
  }
  return { levels, order };
}

/**
 * The record root of a set of leaves (docs/protocol.md "The record root"): sorted-pair tree over the
 * leaves sorted ascending; one leaf → the leaf; none → 32 zero bytes.
 *
 * @throws {InvalidHashError} if a leaf is not a 32-byte hex hash.
 */
export function recordRoot(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_RECORD_ROOT;
  const { levels } = buildLevels(leaves);
  return bytesToHex((levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array);
}

/**
 * The root and one proof per leaf (siblings from leaf to root), in the order of `leaves`.
 *
 * @throws {InvalidHashError} if a leaf is not a 32-byte hex hash.
 * @example
 * const { root, proofs } = recordTree(resources.map(leafHash))
 */
export function recordTree(leaves: readonly Hash[]): RecordTree {
  if (leaves.length === 0) return { root: EMPTY_RECORD_ROOT, proofs: [] };
  const { levels, order } = buildLevels(leaves);
  const hexLevels = levels.slice(0, -1).map((level) => level.map((node) => bytesToHex(node)));
  const proofs: Hash[][] = new Array(leaves.length);
  order.forEach((original, sorted) => {
    const proof: Hash[] = [];
    let index = sorted;
    for (const level of hexLevels) {
      const sibling = index ^ 1;
      if (sibling < level.length) proof.push(level[sibling] as Hash);
      index >>= 1;
    }
    proofs[original] = proof;
  });
  return { root: bytesToHex((levels[levels.length - 1] as Uint8Array[])[0] as Uint8Array), proofs };
}

/**
 * Whether `proof` (siblings, leaf to root) links `leaf` to `root`. Never throws: a malformed
 * leaf, proof or root is simply not a valid proof.
 */
export function verifyProof({
  leaf,
  proof,
  root,
}: {
  leaf: Hash;
  proof: readonly Hash[];
  root: Hash;
}): boolean {
  if (!isHash(leaf) || !isHash(root) || !Array.isArray(proof) || !proof.every(isHash)) return false;
  let node = hexToBytes(leaf);
  for (const sibling of proof) node = hashPairBytes(node, hexToBytes(sibling));
  return compareBytes(node, hexToBytes(root)) === 0;
}

/** Encodes a proof as docs/protocol.md's `valueString`: comma-separated `0x…` siblings. */
export function encodeProof(proof: readonly Hash[]): string {
  return proof.map((sibling) => sibling.toLowerCase()).join(",");
}

/**
 * Decodes a proof `valueString`. `""` is the empty proof of a one-record set.
 *
 * @throws {InvalidHashError} if a sibling is not a 32-byte hex hash.
 */
export function decodeProof(value: string): Hash[] {
  if (value === "") return [];
  return value.split(",").map((sibling) => {
    if (!isHash(sibling)) throw new InvalidHashError({ value: sibling, what: "proof sibling" });
    return sibling.toLowerCase() as Hash;
  });
}

function withExtension(extensions: unknown, url: string, valueString: string): FhirExtension[] {
  const kept = Array.isArray(extensions)
    ? (extensions as FhirExtension[]).filter((e) => !(isObject(e) && e.url === url))
    : [];
  return [...kept, { url, valueString }];
}

/** A bundle as {@link annotateBundle} returns it: root and proofs in place. */
export type AnnotatedBundle<bundle extends FhirBundle = FhirBundle> = Omit<bundle, "meta" | "entry"> & {
  meta: NonNullable<bundle["meta"]> & { extension: FhirExtension[] };
  entry: (NonNullable<bundle["entry"]>[number] & { extension: FhirExtension[] })[];
};

/**
 * Returns a copy of `bundle` carrying the record root in `Bundle.meta.extension` and, for each
 * entry, its proof in `Bundle.entry[i].extension` (replacing earlier ones). `proofs[i]` must be
 * the proof of `bundle.entry[i].resource` — for a filtered bundle, pick the proofs of the
 * entries it keeps.
 *
 * @throws {BundleProofMismatchError} if the number of proofs differs from the number of entries.
 */
export function annotateBundle<bundle extends FhirBundle>(
  bundle: bundle,
  { root, proofs }: { root: Hash; proofs: readonly (readonly Hash[])[] },
): AnnotatedBundle<bundle> {
  const entries = bundle.entry ?? [];
  if (entries.length !== proofs.length)
    throw new BundleProofMismatchError("Each bundle entry needs exactly one proof.", {
      details: `${entries.length} entries, ${proofs.length} proofs`,
    });
  toBytes32(root, "record root");
  for (const proof of proofs) for (const sibling of proof) toBytes32(sibling, "proof sibling");
  const meta = isObject(bundle.meta) ? bundle.meta : {};
  return {
    ...bundle,
    // The spread keeps every field of the caller's meta; the cast restores its type.
    meta: {
      ...(meta as NonNullable<bundle["meta"]>),
      extension: withExtension(meta.extension, RECORD_ROOT_URL, root.toLowerCase()),
    },
    entry: entries.map((entry, i) => ({
      ...entry,
      extension: withExtension(entry.extension, RECORD_PROOF_URL, encodeProof(proofs[i] as Hash[])),
    })),
  };
}

/** What {@link readBundleProofs} found in one entry. */
export type BundleEntryProof = {
  /** Index in `Bundle.entry`. */
  index: number;
  /** Leaf of the entry's resource, or `undefined` if it has none. */
  leaf: Hash | undefined;
  /** The decoded proof, or `undefined` if missing or malformed (see `problem`). */
  proof: Hash[] | undefined;
  /** Why `leaf` or `proof` is missing. */
  problem?: "missing-resource" | "missing-proof" | "malformed-proof";
};

/** The record root and per-entry proofs carried by a bundle. */
export type BundleProofs = {
  /** `Bundle.meta` record root, or `undefined` if absent or malformed. */
  root: Hash | undefined;
  entries: BundleEntryProof[];
};

function extensionValue(extensions: unknown, url: string): unknown {
  if (!Array.isArray(extensions)) return undefined;
  const matches = extensions.filter((e) => isObject(e) && e.url === url);
  // Two conflicting proofs are as good as none.
  if (matches.length !== 1) return undefined;
  return (matches[0] as Record<string, unknown>).valueString;
}

/** Reads the record root and each entry's leaf and proof from a bundle. Never throws. */
export function readBundleProofs(bundle: unknown): BundleProofs {
  if (!isObject(bundle)) return { root: undefined, entries: [] };
  const rootValue = isObject(bundle.meta)
    ? extensionValue(bundle.meta.extension, RECORD_ROOT_URL)
    : undefined;
  const root = isHash(rootValue) ? (rootValue.toLowerCase() as Hash) : undefined;
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  return {
    root,
    entries: entries.map((entry, index): BundleEntryProof => {
      const resource = isObject(entry) ? entry.resource : undefined;
      let leaf: Hash | undefined;
      try {
        leaf = isObject(resource) ? leafHash(resource) : undefined;
      } catch {
        leaf = undefined;
      }
      if (!leaf) return { index, leaf, proof: undefined, problem: "missing-resource" };
      const value = isObject(entry) ? extensionValue(entry.extension, RECORD_PROOF_URL) : undefined;
      if (value === undefined) return { index, leaf, proof: undefined, problem: "missing-proof" };
      if (typeof value !== "string") return { index, leaf, proof: undefined, problem: "malformed-proof" };
      try {
        return { index, leaf, proof: decodeProof(value) };
      } catch {
        return { index, leaf, proof: undefined, problem: "malformed-proof" };
      }
    }),
  };
}

/** The verdict on one bundle entry. */
export type BundleEntryVerification = BundleEntryProof & {
  /** Whether the entry's resource is proven part of the record set with the on-chain root. */
  valid: boolean;
};

/** The verdict on a whole bundle. */
export type BundleVerification = {
  /** Whether the root the bundle declares equals the on-chain root. */
  rootMatches: boolean;
  /** True when the declared root matches and every entry is valid. */
  valid: boolean;
  entries: BundleEntryVerification[];
};

/**
 * Verifies every entry of a served bundle against the record root read from the chain (not the
 * root the bundle declares, which is only compared). A client holding part of the set — a viewer
 * with narrower scopes — can verify each entry it received. Never throws.
 *
 * @example
 * const { valid, entries } = verifyBundle(bundle, await relationship.read.relationshipOf([id]).recordRoot)
 */
export function verifyBundle(bundle: unknown, onChainRoot: Hash): BundleVerification {
  const { root, entries } = readBundleProofs(bundle);
  const rootMatches = isHash(onChainRoot) && root !== undefined && root === onChainRoot.toLowerCase();
  const results = entries.map(
    (entry): BundleEntryVerification => ({
      ...entry,
      valid:
        entry.leaf !== undefined &&
        entry.proof !== undefined &&
        verifyProof({ leaf: entry.leaf, proof: entry.proof, root: onChainRoot }),
    }),
  );
  return { rootMatches, valid: rootMatches && results.every((entry) => entry.valid), entries: results };
}
