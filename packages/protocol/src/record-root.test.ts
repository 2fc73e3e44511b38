import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import canonicalize from "canonicalize";
import type { FhirResource } from "./fhir.ts";
import {
  annotateBundle,
  BundleProofMismatchError,
  canonicalJson,
  createProofChecker,
  decodeProof,
  EMPTY_RECORD_ROOT,
  encodeProof,
  type Hash,
  hashPair,
  InvalidHashError,
  InvalidRecordError,
  leafHash,
  leafHashAsync,
  RECORD_PROOF_URL,
  RECORD_ROOT_URL,
  readBundleProofs,
  recordRoot,
  recordTree,
  verifyBundle,
  verifyBundleAsync,
  verifyProof,
} from "./record-root.ts";

// Independent reference implementation with node:crypto (not the code under test).
const sha = (data: Buffer | string): Buffer => createHash("sha256").update(data).digest();
const hex = (b: Buffer): Hash => `0x${b.toString("hex")}`;
const buf = (h: string): Buffer => Buffer.from(h.slice(2), "hex");
const parent = (a: Buffer, b: Buffer): Buffer =>
  Buffer.compare(a, b) <= 0 ? sha(Buffer.concat([a, b])) : sha(Buffer.concat([b, a]));
const leafOf = (n: number): Hash => hex(sha(`leaf-${n}`));
const sortedBufs = (leaves: Hash[]): Buffer[] => leaves.map(buf).sort(Buffer.compare);

function flip(h: Hash, position = 10): Hash {
  const c = h[position] === "0" ? "1" : "0";
  return `${h.slice(0, position)}${c}${h.slice(position + 1)}` as Hash;
}

describe("canonicalJson (RFC 8785)", () => {
  test("default: keys sorted, no whitespace", () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, null, "x"], c: { z: 0, y: -0 } }),
      '{"a":[true,null,"x"],"b":1,"c":{"y":0,"z":0}}',
    );
  });

  test("behavior: RFC 8785 §3.2.2 example", () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    );
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test("behavior: number forms", () => {
    assert.equal(
      canonicalJson([1e21, 1e20, 0.000001, 1e-7, 100, 1.5, -0]),
      "[1e+21,100000000000000000000,0.000001,1e-7,100,1.5,0]",
    );
  });

  test("behavior: keys sorted by UTF-16 code units", () => {
    const input = {
      "\u20ac": "Euro",
      "\r": "CR",
      "\ufb33": "Hebrew",
      "1": "One",
      "\ud83d\ude00": "Smiley",
      "\u0080": "Control",
      "\u00f6": "ö",
    };
    assert.equal(
      canonicalJson(input),
      '{"\\r":"CR","1":"One","\u0080":"Control","ö":"ö","€":"Euro","😀":"Smiley","דּ":"Hebrew"}',
    );
  });

  test("error: NaN, Infinity and lone surrogates", () => {
    assert.throws(() => canonicalJson({ a: Number.NaN }), InvalidRecordError);
    assert.throws(() => canonicalJson({ a: Number.POSITIVE_INFINITY }), InvalidRecordError);
    assert.throws(() => canonicalJson({ a: "\ud800" }), InvalidRecordError);
  });
});

/** A seeded generator (mulberry32): the same values on every run. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random JSON-ish values: unicode keys (integer-like ones too), number forms, nesting. */
function jsonValue(next: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T;
  const text = () =>
    Array.from({ length: Math.floor(next() * 6) }, () =>
      pick(["a", "Z", "é", "\u20ac", "😀", "\n", '"', "\\", "\u0001", "10", "2", "\ufb33", "\u00e9"]),
    ).join("");
  const kind = depth > 4 ? Math.floor(next() * 4) : Math.floor(next() * 6);
  switch (kind) {
    case 0:
      return text();
    case 1:
      return pick([
        0,
        -0,
        1,
        -1.5,
        1e21,
        1e-7,
        0.1 + 0.2,
        123456789012345680000,
        5e-324,
        2 ** 53,
        333333333.3333333,
      ]);
    case 2:
      return pick([true, false]);
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(next() * 4) }, () => jsonValue(next, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(next() * 5) }, () => [text(), jsonValue(next, depth + 1)]),
      );
  }
}

describe("canonicalJson and the canonicalize package", () => {
  test("behavior: byte for byte the same on 2,000 random JSON values", () => {
    const next = random(8785);
    for (let i = 0; i < 2000; i++) {
      const value = jsonValue(next);
      assert.equal(canonicalJson(value), canonicalize(value), JSON.stringify(value));
    }
  });

  test("behavior: what JSON.parse cannot produce is still the package's answer", () => {
    class Box {
      v: number;
      constructor(v: number) {
        this.v = v;
      }
    }
    const values: unknown[] = [
      { a: undefined, b: 1 },
      [undefined, () => 1],
      { d: new Date(0) },
      { toJSON: () => ({ z: 1, a: 2 }) },
      Object.assign(Object.create(null), { b: 2, a: 1 }),
      { n: new Number(3), s: new String("x") },
      new Box(4),
      { 10: "a", 9: "b", x: "c" },
    ];
    let deep: unknown = "bottom";
    for (let i = 0; i < 500; i++) deep = { [`k${i % 3}`]: [deep] };
    values.push(deep);
    for (const value of values) assert.equal(canonicalJson(value), canonicalize(value));
    assert.equal(canonicalJson({ 10: "a", 9: "b" }), '{"10":"a","9":"b"}');
  });

  test("error: a cycle is an InvalidRecordError", () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    assert.throws(() => canonicalJson(cycle), InvalidRecordError);
    assert.throws(() => canonicalJson({ a: 1n }), InvalidRecordError);
  });
});

describe("leafHash", () => {
  test("default: SHA-256 of the canonical JSON", () => {
    const resource = { resourceType: "Patient", id: "p1", name: [{ family: "Müller" }] };
    const expected = hex(
      sha(Buffer.from('{"id":"p1","name":[{"family":"Müller"}],"resourceType":"Patient"}', "utf8")),
    );
    assert.equal(leafHash(resource), expected);
  });

  test("behavior: key order does not change the leaf", () => {
    assert.equal(
      leafHash({ resourceType: "Condition", id: "c", code: { text: "x" } }),
      leafHash({ code: { text: "x" }, id: "c", resourceType: "Condition" }),
    );
  });

  test("error: not an object", () => {
    assert.throws(() => leafHash("Patient"), InvalidRecordError);
    assert.throws(() => leafHash([1]), InvalidRecordError);
    assert.throws(() => leafHash(null), InvalidRecordError);
  });
});

describe("leafHashAsync", () => {
  test("behavior: the same leaf as leafHash (WebCrypto), for random resources", async () => {
    const next = random(2771);
    for (let i = 0; i < 200; i++) {
      const resource = { resourceType: "Observation", id: `o${i}`, value: jsonValue(next) };
      assert.equal(await leafHashAsync(resource), leafHash(resource));
    }
  });

  test("error: not an object", async () => {
    await assert.rejects(leafHashAsync("Patient"), InvalidRecordError);
    await assert.rejects(leafHashAsync({ a: Number.NaN }), InvalidRecordError);
  });
});

describe("recordRoot", () => {
  test("behavior: no leaves → 32 zero bytes", () => {
    assert.equal(recordRoot([]), `0x${"0".repeat(64)}`);
    assert.equal(EMPTY_RECORD_ROOT, `0x${"0".repeat(64)}`);
  });

  test("behavior: one leaf → the leaf", () => {
    assert.equal(recordRoot([leafOf(1)]), leafOf(1));
  });

  test("default: two leaves", () => {
    const [a, b] = [leafOf(1), leafOf(2)];
    assert.equal(recordRoot([a, b]), hex(parent(buf(a), buf(b))));
    // sorted pair: min ‖ max, by hand
    const [lo, hi] = sortedBufs([a, b]) as [Buffer, Buffer];
    assert.equal(recordRoot([a, b]), hex(sha(Buffer.concat([lo, hi]))));
  });

  test("behavior: three leaves (lone node carried up)", () => {
    const leaves = [leafOf(1), leafOf(2), leafOf(3)];
    const [l0, l1, l2] = sortedBufs(leaves) as [Buffer, Buffer, Buffer];
    assert.equal(recordRoot(leaves), hex(parent(parent(l0, l1), l2)));
  });

  test("behavior: five leaves", () => {
    const leaves = [leafOf(1), leafOf(2), leafOf(3), leafOf(4), leafOf(5)];
    const [l0, l1, l2, l3, l4] = sortedBufs(leaves) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    assert.equal(recordRoot(leaves), hex(parent(parent(parent(l0, l1), parent(l2, l3)), l4)));
  });

  test("behavior: root of resources", () => {
    const resources = [
      { resourceType: "Patient", id: "p" },
      { resourceType: "Condition", id: "c" },
    ];
    const leaves = resources.map((r) => hex(sha(JSON.stringify(r, Object.keys(r).sort()))));
    assert.deepEqual(resources.map(leafHash), leaves);
    assert.equal(
      recordRoot(resources.map(leafHash)),
      hex(parent(buf(leaves[0] as Hash), buf(leaves[1] as Hash))),
    );
  });

  test("behavior: independent of leaf order and case", () => {
    const leaves = Array.from({ length: 9 }, (_, i) => leafOf(i));
    const root = recordRoot(leaves);
    assert.equal(recordRoot([...leaves].reverse()), root);
    assert.equal(recordRoot([...leaves].sort()), root);
    assert.equal(recordRoot(leaves.map((l) => l.toUpperCase().replace("0X", "0x") as Hash)), root);
    assert.match(root, /^0x[0-9a-f]{64}$/);
  });

  test("error: malformed leaf", () => {
    assert.throws(() => recordRoot(["0x1234"]), InvalidHashError);
    assert.throws(() => recordRoot([leafOf(1), "nope" as Hash]), InvalidHashError);
  });
});

describe("hashPair", () => {
  test("default: symmetric", () => {
    const [a, b] = [leafOf(1), leafOf(2)];
    assert.equal(hashPair(a, b), hashPair(b, a));
    assert.equal(hashPair(a, b), hex(parent(buf(a), buf(b))));
  });
});

describe("recordTree / verifyProof", () => {
  test("default: every proof of trees of 1..33 leaves verifies", () => {
    for (let n = 1; n <= 33; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leafOf(n * 100 + i));
      const { root, proofs } = recordTree(leaves);
      assert.equal(root, recordRoot(leaves), `root n=${n}`);
      assert.equal(proofs.length, n);
      leaves.forEach((leaf, i) => {
        const proof = proofs[i] as Hash[];
        assert.ok(proof.length <= Math.ceil(Math.log2(n)), `proof length n=${n}`);
        assert.ok(verifyProof({ leaf, proof, root }), `proof n=${n} i=${i}`);
      });
    }
  });

  test("behavior: the root recomputed independently from a proof", () => {
    const leaves = Array.from({ length: 5 }, (_, i) => leafOf(i));
    const { root, proofs } = recordTree(leaves);
    leaves.forEach((leaf, i) => {
      const folded = (proofs[i] as Hash[]).reduce((node, sibling) => parent(node, buf(sibling)), buf(leaf));
      assert.equal(hex(folded), root);
    });
  });

  test("behavior: empty tree", () => {
    assert.deepEqual(recordTree([]), { root: EMPTY_RECORD_ROOT, proofs: [] });
  });

  test("error: tampered leaf, proof or root fails", () => {
    for (const n of [2, 3, 8, 13]) {
      const leaves = Array.from({ length: n }, (_, i) => leafOf(1000 + n * 10 + i));
      const { root, proofs } = recordTree(leaves);
      leaves.forEach((leaf, i) => {
        const proof = proofs[i] as Hash[];
        assert.equal(verifyProof({ leaf: flip(leaf), proof, root }), false);
        assert.equal(verifyProof({ leaf, proof, root: flip(root) }), false);
        proof.forEach((_, k) => {
          const tampered = proof.map((s, j) => (j === k ? flip(s) : s));
          assert.equal(verifyProof({ leaf, proof: tampered, root }), false);
        });
        assert.equal(verifyProof({ leaf, proof: proof.slice(0, -1), root }), false);
        assert.equal(verifyProof({ leaf, proof: [...proof, leafOf(9)], root }), false);
        // another leaf's proof does not prove this leaf
        const other = proofs[(i + 1) % n] as Hash[];
        if (encodeProof(other) !== encodeProof(proof))
          assert.equal(verifyProof({ leaf, proof: other, root }), false);
      });
    }
  });

  test("error: malformed inputs are not valid proofs", () => {
    const leaves = [leafOf(1), leafOf(2)];
    const { root, proofs } = recordTree(leaves);
    assert.equal(verifyProof({ leaf: "0x12" as Hash, proof: proofs[0] as Hash[], root }), false);
    assert.equal(verifyProof({ leaf: leaves[0] as Hash, proof: ["0xzz" as Hash], root }), false);
    assert.equal(
      verifyProof({ leaf: leaves[0] as Hash, proof: proofs[0] as Hash[], root: "0x" as Hash }),
      false,
    );
  });

  test("behavior: a tree of 10,000 leaves proves its leaves and no other", () => {
    // How long building it takes is a figure for a benchmark, not an assertion here.
    const leaves = Array.from({ length: 10_000 }, (_, i) => leafOf(i));
    const { root, proofs } = recordTree(leaves);
    assert.equal(proofs.length, leaves.length);
    for (const i of [0, 1, 4321, 9998, 9999])
      assert.ok(verifyProof({ leaf: leaves[i] as Hash, proof: proofs[i] as Hash[], root }), `leaf ${i}`);
    assert.equal(verifyProof({ leaf: leafOf(10_000), proof: proofs[4321] as Hash[], root }), false);
    assert.equal(verifyProof({ leaf: leaves[4321] as Hash, proof: proofs[4322] as Hash[], root }), false);
  });
});

describe("createProofChecker", () => {
  test("default: one checker accepts every proof of a tree, in any order", () => {
    const next = random(33);
    for (let n = 1; n <= 40; n++) {
      const leaves = Array.from({ length: n }, (_, i) => leafOf(5000 + n * 100 + i));
      const { root, proofs } = recordTree(leaves);
      const checker = createProofChecker(root);
      const order = leaves.map((_, i) => i).sort(() => next() - 0.5);
      for (const i of order)
        assert.ok(checker.verify(leaves[i] as Hash, proofs[i] as Hash[]), `n=${n} i=${i}`);
    }
  });

  test("error: accepts a leaf only if it is in the set — however many proofs came before", () => {
    for (const n of [2, 3, 8, 13, 100]) {
      const leaves = Array.from({ length: n }, (_, i) => leafOf(7000 + n * 10 + i));
      const { root, proofs } = recordTree(leaves);
      const checker = createProofChecker(root);
      leaves.forEach((leaf, i) => {
        const proof = proofs[i] as Hash[];
        // Before and after its own proof was accepted: a leaf not in the set never passes.
        assert.equal(checker.verify(flip(leaf), proof), false, `flipped leaf n=${n} i=${i}`);
        assert.equal(checker.verify(leafOf(-1 - i), proofs[(i + 1) % n] as Hash[]), false);
        assert.ok(checker.verify(leaf, proof));
        assert.equal(checker.verify(flip(leaf), proof), false);
        assert.equal(checker.verify(leafOf(-1 - i), proof), false);
      });
      const other = createProofChecker(flip(root));
      leaves.forEach((leaf, i) => {
        assert.equal(other.verify(leaf, proofs[i] as Hash[]), false);
      });
    }
  });

  test("behavior: a first proof gets verifyProof's verdict, tampered or not", () => {
    for (const n of [2, 5, 13]) {
      const leaves = Array.from({ length: n }, (_, i) => leafOf(9000 + n * 10 + i));
      const { root, proofs } = recordTree(leaves);
      leaves.forEach((leaf, i) => {
        const proof = proofs[i] as Hash[];
        const variants = [
          proof,
          proof.slice(0, -1),
          ...proof.map((_, k) => proof.map((s, j) => (j === k ? flip(s) : s))),
        ];
        for (const variant of variants)
          assert.equal(
            createProofChecker(root).verify(leaf, variant),
            verifyProof({ leaf, proof: variant, root }),
          );
      });
    }
  });

  test("error: malformed inputs are not valid proofs", () => {
    const leaves = [leafOf(1), leafOf(2)];
    const { root, proofs } = recordTree(leaves);
    assert.equal(createProofChecker(root).verify("0x12" as Hash, proofs[0] as Hash[]), false);
    assert.equal(createProofChecker(root).verify(leaves[0] as Hash, ["0xzz" as Hash]), false);
    assert.equal(createProofChecker("0x" as Hash).verify(leaves[0] as Hash, proofs[0] as Hash[]), false);
  });
});

describe("proof encoding", () => {
  test("default: round-trip", () => {
    const proof = [leafOf(1), leafOf(2)];
    assert.equal(encodeProof(proof), `${proof[0]},${proof[1]}`);
    assert.deepEqual(decodeProof(encodeProof(proof)), proof);
    assert.deepEqual(decodeProof(""), []);
  });

  test("error: bad sibling", () => {
    assert.throws(() => decodeProof(`${leafOf(1)},0x12`), InvalidHashError);
    assert.throws(() => decodeProof(`${leafOf(1)}, ${leafOf(2)}`), InvalidHashError);
  });
});

describe("bundles", () => {
  const patient = { resourceType: "Patient", id: "p" };
  const condition = { resourceType: "Condition", id: "c", code: { text: "asthma" } };
  const observation = {
    resourceType: "Observation",
    id: "o",
    status: "final",
    valueQuantity: { value: 0.000001 },
  };
  const resources: FhirResource[] = [patient, condition, observation];
  const tree = recordTree(resources.map(leafHash));
  const bundle = {
    resourceType: "Bundle" as const,
    type: "searchset",
    meta: {
      lastUpdated: "2024-01-01T00:00:00Z",
      extension: [{ url: RECORD_ROOT_URL, valueString: "0xstale" }],
    },
    entry: resources.map((resource) => ({
      resource,
      extension: [{ url: "https://example.org/other", valueString: "keep" }],
    })),
  };

  test("default: annotate then verify", () => {
    const annotated = annotateBundle(bundle, tree);
    assert.deepEqual(annotated.meta?.extension, [{ url: RECORD_ROOT_URL, valueString: tree.root }]);
    assert.equal(annotated.meta?.lastUpdated, "2024-01-01T00:00:00Z");
    annotated.entry?.forEach((entry, i) => {
      assert.deepEqual(entry.extension, [
        { url: "https://example.org/other", valueString: "keep" },
        { url: RECORD_PROOF_URL, valueString: (tree.proofs[i] as Hash[]).join(",") },
      ]);
    });
    // the input is not mutated
    assert.equal(bundle.meta.extension[0]?.valueString, "0xstale");
    const result = verifyBundle(JSON.parse(JSON.stringify(annotated)), tree.root);
    assert.equal(result.valid, true);
    assert.equal(result.rootMatches, true);
    assert.deepEqual(
      result.entries.map((e) => e.valid),
      [true, true, true],
    );
  });

  test("behavior: a filtered bundle verifies against the full root", () => {
    const partial = { resourceType: "Bundle" as const, type: "searchset", entry: [{ resource: condition }] };
    const annotated = annotateBundle(partial, { root: tree.root, proofs: [tree.proofs[1] as Hash[]] });
    assert.equal(verifyBundle(annotated, tree.root).valid, true);
    const read = readBundleProofs(annotated);
    assert.equal(read.root, tree.root);
    assert.deepEqual(read.entries[0]?.proof, tree.proofs[1]);
  });

  test("behavior: one-record set has an empty proof", () => {
    const single = { resourceType: "Bundle" as const, entry: [{ resource: patient }] };
    const one = recordTree([leafHash(patient)]);
    const annotated = annotateBundle(single, one);
    assert.equal(annotated.entry?.[0]?.extension?.[0]?.valueString, "");
    assert.equal(verifyBundle(annotated, one.root).valid, true);
  });

  test("error: tampered resource, wrong on-chain root, missing and malformed proofs", () => {
    const annotated = JSON.parse(JSON.stringify(annotateBundle(bundle, tree)));
    annotated.entry[1].resource.code.text = "nothing";
    annotated.entry[2].extension = [];
    annotated.entry[0].extension[1].valueString = "0x1234";
    const result = verifyBundle(annotated, tree.root);
    assert.equal(result.valid, false);
    assert.deepEqual(
      result.entries.map((e) => [e.valid, e.problem]),
      [
        [false, "malformed-proof"],
        [false, undefined],
        [false, "missing-proof"],
      ],
    );
    const wrongRoot = verifyBundle(annotateBundle(bundle, tree), flip(tree.root));
    assert.equal(wrongRoot.rootMatches, false);
    assert.ok(wrongRoot.entries.every((e) => !e.valid));
    const noResource = verifyBundle({ resourceType: "Bundle", entry: [{}] }, tree.root);
    assert.equal(noResource.entries[0]?.problem, "missing-resource");
    assert.equal(verifyBundle("nope", tree.root).valid, false);
  });

  test("behavior: a bundle claiming a root it does not prove", () => {
    // Declared root matches the chain, but the entry's proof is for another set.
    const other = recordTree([leafOf(1), leafOf(2)]);
    const forged = annotateBundle(
      { resourceType: "Bundle", entry: [{ resource: patient }] },
      {
        root: tree.root,
        proofs: [other.proofs[0] as Hash[]],
      },
    );
    const result = verifyBundle(forged, tree.root);
    assert.equal(result.rootMatches, true);
    assert.equal(result.valid, false);
  });

  test("behavior: verifyBundleAsync gives verifyBundle's verdicts", async () => {
    const tampered = JSON.parse(JSON.stringify(annotateBundle(bundle, tree)));
    tampered.entry[1].resource.code.text = "nothing";
    tampered.entry[2].extension = [];
    tampered.entry[0].extension[1].valueString = "0x1234";
    const cases: [unknown, Hash][] = [
      [JSON.parse(JSON.stringify(annotateBundle(bundle, tree))), tree.root],
      [tampered, tree.root],
      [annotateBundle(bundle, tree), flip(tree.root)],
      [{ resourceType: "Bundle", entry: [{}] }, tree.root],
      ["nope", tree.root],
    ];
    for (const [input, root] of cases) {
      const sync = verifyBundle(input, root);
      const async = await verifyBundleAsync(input, root);
      assert.deepEqual(async, sync);
      assert.deepEqual(await verifyBundleAsync(input, createProofChecker(root)), sync);
    }
    assert.equal(verifyBundle(annotateBundle(bundle, tree), tree.root).declaredRoot, tree.root);
  });

  test("error: annotate with the wrong number of proofs or a bad root", () => {
    assert.throws(() => annotateBundle(bundle, { root: tree.root, proofs: [] }), BundleProofMismatchError);
    assert.throws(
      () => annotateBundle(bundle, { root: "0x00" as Hash, proofs: tree.proofs }),
      InvalidHashError,
    );
  });
});
