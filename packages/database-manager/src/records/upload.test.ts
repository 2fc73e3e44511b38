import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ProblemError } from "../errors.ts";
import { readNdjson, type UploadLimits } from "./upload.ts";

const LIMITS: UploadLimits = { maxBytes: 64 * 1024 * 1024, maxResources: 1000, maxDepth: 16 };

/** A resource whose deepest value sits `depth` levels down (the resource itself is level 1). */
const resourceOfDepth = (depth: number) =>
  `{"resourceType":"Basic","x":${'{"a":'.repeat(depth - 2)}[1]${"}".repeat(depth - 2)}}`;

/** The text in chunks of `chunk` bytes, as a request stream delivers it. */
const streamOf = (text: string, chunk = 7) => {
  const bytes = Buffer.from(text);
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return Readable.from(parts);
};

const refusal = async (text: string, limits = LIMITS) => {
  try {
    await readNdjson(streamOf(text), limits);
  } catch (error) {
    assert.ok(error instanceof ProblemError, String(error));
    return error;
  }
  assert.fail("the upload was accepted");
};

describe("readNdjson: the depth limit holds on every line", () => {
  test("default: lines exactly JSON_MAX_DEPTH deep are read, each with its line number", async () => {
    const text = `${resourceOfDepth(16)}\n\n${resourceOfDepth(3)}\r\n`;
    const upload = await readNdjson(streamOf(text), LIMITS);
    assert.equal(upload.format, "ndjson");
    assert.deepEqual(upload.format === "ndjson" && upload.lines, [1, 3]);
  });

  test("error: one line a level deeper → 400 naming that line and the limit; nothing is kept", async () => {
    const text = [resourceOfDepth(2), resourceOfDepth(16), resourceOfDepth(17), resourceOfDepth(2)].join(
      "\n",
    );
    const error = await refusal(text);
    assert.equal(error.kind, "bad-request");
    assert.match(error.detail, /^line 3: .*deeper than 16 levels \(JSON_MAX_DEPTH\)/);
  });

  test("error: a line 100,000 levels deep (arrays or objects) is refused without a stack overflow", async () => {
    const deepObject = `{"resourceType":"Basic","x":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}}`;
    const deepArray = `{"resourceType":"Basic","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    for (const deep of [deepObject, deepArray]) {
      const error = await refusal(`${resourceOfDepth(2)}\n${deep}\n`, { ...LIMITS, maxDepth: 64 });
      assert.match(error.detail, /^line 2: /);
    }
  });

  test("behavior (property): the first line deeper than the limit is the one named, wherever it is and however the stream is cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 2, max: 20 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 4, max: 18 }),
        fc.integer({ min: 1, max: 64 }),
        async (depths, maxDepth, chunk) => {
          const text = depths.map(resourceOfDepth).join("\n");
          const limits = { ...LIMITS, maxDepth };
          const first = depths.findIndex((d) => d > maxDepth);
          let outcome: string;
          try {
            await readNdjson(streamOf(text, chunk), limits);
            outcome = "accepted";
          } catch (error) {
            outcome = error instanceof ProblemError ? error.detail : String(error);
          }
          if (first === -1) assert.equal(outcome, "accepted");
          else assert.match(outcome, new RegExp(`^line ${first + 1}: .*JSON_MAX_DEPTH`));
        },
      ),
      { numRuns: 200 },
    );
  });
});
