import canonicalize from "canonicalize";
import { bytesToHex, type Hex, hexToBytes, sha256 } from "viem";
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

/** Thrown inside {@link plainCanonical} for anything it leaves to the `canonicalize` package. */
const NOT_PLAIN = Symbol("not plain JSON");
/** Deeper than this, the `canonicalize` package (iterative, detects cycles) takes over. */
const MAX_PLAIN_DEPTH = 200;

type WellFormed = { isWellFormed(): boolean };

function plainString(value: string): string {
  // RFC 8785 refuses lone surrogates; `canonicalize` throws for them, so the slow path decides.
  if (!(value as unknown as WellFormed).isWellFormed()) throw NOT_PLAIN;
  return JSON.stringify(value);
}

/**
 * RFC 8785 for what JSON.parse produces — plain objects, arrays, well-formed strings, finite
 * numbers, booleans, null — which is every record a gatekeeper serves. Anything else (undefined,
 * functions, `toJSON`, boxed values, NaN, lone surrogates, very deep nesting) throws
 * {@link NOT_PLAIN} and is left to `canonicalize`, so the output is that package's, byte for byte
 * (`record-root.test.ts` compares them); this path is only faster (no cycle set, no frames).
 */
function plainCanonical(value: unknown, depth: number): string {
  switch (typeof value) {
    case "string":
      return plainString(value);
    case "number":
      if (!Number.isFinite(value)) throw NOT_PLAIN;
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (depth > MAX_PLAIN_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === "function")
        throw NOT_PLAIN;
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += plainCanonical(value[i], depth + 1);
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw NOT_PLAIN;
      // The default sort compares UTF-16 code units: the order RFC 8785 requires.
      const keys = Object.keys(value).sort();
      let out = "{";
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        if (i > 0) out += ",";
        out += `${plainString(key)}:${plainCanonical((value as Record<string, unknown>)[key], depth + 1)}`;
      }
      return `${out}}`;
    }
    default:
      throw NOT_PLAIN;
  }
}

/**
 * The RFC 8785 (JCS) canonical JSON of a value: sorted keys, ECMAScript number forms, no whitespace.
 *
 * @throws {InvalidRecordError} for values JSON cannot represent (undefined, NaN, Infinity, BigInt, cycles).
 */
export function canonicalJson(value: unknown): string {
  try {
    return plainCanonical(value, 0);
  } catch (error) {
    if (error !== NOT_PLAIN) throw error;
  }
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
  return sha256(leafBytes(resource), "hex");
}

const encoder = new TextEncoder();

/** What a leaf hashes: the UTF-8 of the resource's canonical JSON. */
function leafBytes(resource: unknown) {
  if (!isObject(resource)) throw new InvalidRecordError("A record must be a FHIR resource (a JSON object).");
  return encoder.encode(canonicalJson(resource));
}

/** The platform's WebCrypto, when it has one (browsers in a secure context, Node). */
const subtle: typeof globalThis.crypto.subtle | undefined = globalThis.crypto?.subtle;

/**
 * {@link leafHash} with WebCrypto's native SHA-256 where the platform has it (the hashing runs off
 * the JavaScript thread); the same value, for many records at once without blocking a page.
 *
 * @throws {InvalidRecordError} if `resource` is not a JSON object.
 */
export async function leafHashAsync(resource: unknown): Promise<Hash> {
  const bytes = leafBytes(resource);
  if (!subtle) return sha256(bytes, "hex");
  return bytesToHex(new Uint8Array(await subtle.digest("SHA-256", bytes)));
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

/**
 * Checks many proofs against one root with fewer hashes than {@link verifyProof} each: it accepts
 * a leaf exactly when the leaf is shown to hash up to the root.
 */
export type ProofChecker = {
  readonly root: Hash;
  /** Whether `proof` links `leaf` to the root; never throws. */
  verify(leaf: Hash, proof: readonly Hash[]): boolean;
};

/** A node as a map key: its 32 bytes as one character each (cheaper than hex). */
const nodeKey = (node: Uint8Array) => String.fromCharCode.apply(null, node as unknown as number[]);

/**
 * A {@link ProofChecker} for `root`. It remembers every node it has seen hash up to the root, so a
 * proof stops as soon as its path meets one: that node starts a hash chain ending in the root, so
 * the leaf is proven. Siblings past that point are not looked at — a proof whose upper part is
 * padded or wrong is still accepted where {@link verifyProof} says no, but only for a leaf that is
 * in the set. Proofs of entries of one tree (the pages of one read) share their upper nodes; a
 * page of 100 entries needs about a quarter of the hashes that checking each proof alone would.
 *
 * @example
 * const checker = createProofChecker(onChainRoot)
 * entries.every((e) => checker.verify(e.leaf, e.proof))
 */
export function createProofChecker(root: Hash): ProofChecker {
  const valid = isHash(root);
  const top = valid ? hexToBytes(root) : new Uint8Array(32);
  const proven = new Set<string>(valid ? [nodeKey(top)] : []);
  return {
    root,
    verify(leaf, proof) {
      if (!valid || !isHash(leaf) || !Array.isArray(proof) || !proof.every(isHash)) return false;
      const path: string[] = [];
      let node = hexToBytes(leaf);
      for (let i = 0; ; i++) {
        const key = nodeKey(node);
        if (proven.has(key)) break;
        path.push(key);
        if (i === proof.length) return false; // the path ended elsewhere than the root
        node = hashPairBytes(node, hexToBytes(proof[i] as Hash));
      }
      for (const key of path) proven.add(key);
      return true;
    },
  };
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

/** A bundle's declared root and, per entry, its resource and proof text (not yet hashed). */
function bundleParts(bundle: unknown): {
  root: Hash | undefined;
  items: { index: number; resource: unknown; proofValue: unknown }[];
} {
  if (!isObject(bundle)) return { root: undefined, items: [] };
  const rootValue = isObject(bundle.meta)
    ? extensionValue(bundle.meta.extension, RECORD_ROOT_URL)
    : undefined;
  const root = isHash(rootValue) ? (rootValue.toLowerCase() as Hash) : undefined;
  const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
  return {
    root,
    items: entries.map((entry, index) => ({
      index,
      resource: isObject(entry) ? entry.resource : undefined,
      proofValue: isObject(entry) ? extensionValue(entry.extension, RECORD_PROOF_URL) : undefined,
    })),
  };
}

function entryProof(index: number, leaf: Hash | undefined, value: unknown): BundleEntryProof {
  if (!leaf) return { index, leaf, proof: undefined, problem: "missing-resource" };
  if (value === undefined) return { index, leaf, proof: undefined, problem: "missing-proof" };
  if (typeof value !== "string") return { index, leaf, proof: undefined, problem: "malformed-proof" };
  try {
    return { index, leaf, proof: decodeProof(value) };
  } catch {
    return { index, leaf, proof: undefined, problem: "malformed-proof" };
  }
}

/** Reads the record root and each entry's leaf and proof from a bundle. Never throws. */
export function readBundleProofs(bundle: unknown): BundleProofs {
  const { root, items } = bundleParts(bundle);
  return {
    root,
    entries: items.map(({ index, resource, proofValue }) => {
      let leaf: Hash | undefined;
      try {
        leaf = isObject(resource) ? leafHash(resource) : undefined;
      } catch {
        leaf = undefined;
      }
      return entryProof(index, leaf, proofValue);
    }),
  };
}

/** {@link readBundleProofs} with the leaves hashed by {@link leafHashAsync}. Never rejects. */
export async function readBundleProofsAsync(bundle: unknown): Promise<BundleProofs> {
  const { root, items } = bundleParts(bundle);
  const leaves = await Promise.all(
    items.map(({ resource }) =>
      isObject(resource) ? leafHashAsync(resource).catch(() => undefined) : Promise.resolve(undefined),
    ),
  );
  return {
    root,
    entries: items.map(({ index, proofValue }, i) => entryProof(index, leaves[i], proofValue)),
  };
}

/** The verdict on one bundle entry. */
export type BundleEntryVerification = BundleEntryProof & {
  /** Whether the entry's resource is proven part of the record set with the on-chain root. */
  valid: boolean;
};

/** The verdict on a whole bundle. */
export type BundleVerification = {
  /** The root the bundle declares (`Bundle.meta`), if it declares a well-formed one. */
  declaredRoot: Hash | undefined;
  /** Whether the root the bundle declares equals the on-chain root. */
  rootMatches: boolean;
  /** True when the declared root matches and every entry is valid. */
  valid: boolean;
  entries: BundleEntryVerification[];
};

function judge({ root, entries }: BundleProofs, checker: ProofChecker): BundleVerification {
  const onChainRoot = checker.root;
  const rootMatches = isHash(onChainRoot) && root !== undefined && root === onChainRoot.toLowerCase();
  const results = entries.map(
    (entry): BundleEntryVerification => ({
      ...entry,
      valid: entry.leaf !== undefined && entry.proof !== undefined && checker.verify(entry.leaf, entry.proof),
    }),
  );
  return {
    declaredRoot: root,
    rootMatches,
    valid: rootMatches && results.every((entry) => entry.valid),
    entries: results,
  };
}

/**
 * Verifies every entry of a served bundle against the record root read from the chain (not the
 * root the bundle declares, which is only compared). A client holding part of the set — a viewer
 * with narrower scopes — can verify each entry it received. Never throws.
 *
 * @example
 * const { valid, entries } = verifyBundle(bundle, await relationship.read.relationshipOf([id]).recordRoot)
 */
export function verifyBundle(bundle: unknown, onChainRoot: Hash): BundleVerification {
  return judge(readBundleProofs(bundle), createProofChecker(onChainRoot));
}

/**
 * {@link verifyBundle} for a page: leaves hashed with WebCrypto ({@link leafHashAsync}) and proofs
 * checked by `checker` — pass one {@link createProofChecker} for every page of a read, so that
 * later pages reuse what earlier ones proved. Same verdicts; never rejects.
 */
export async function verifyBundleAsync(
  bundle: unknown,
  onChainRoot: Hash | ProofChecker,
): Promise<BundleVerification> {
  const checker = typeof onChainRoot === "string" ? createProofChecker(onChainRoot) : onChainRoot;
  return judge(await readBundleProofsAsync(bundle), checker);
}
