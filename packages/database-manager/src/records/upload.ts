/**
 * Reading a staff record upload from the request stream, never holding its text whole:
 * - `application/fhir+json` / `application/json`: one FHIR Bundle, parsed as a token stream
 *   (stream-json) with each `Bundle.entry[i]` assembled on its own;
 * - `application/fhir+ndjson` / `application/x-ndjson`: FHIR Bulk Data NDJSON, one resource per
 *   line, each line parsed on its own (a truncated or malformed line names its number).
 * Bytes, resources and JSON depth are limited while reading; every refusal names the limit and
 * what to do instead. See records/README.md.
 */
import type { Readable } from "node:stream";
import { parser } from "stream-json";
import Assembler from "stream-json/assembler.js";
import { ProblemError } from "../errors.ts";
import { exceedsDepth } from "../ops/json-depth.ts";

/** Whether a request is a staff record upload, whose body the records module reads itself (app.ts). */
export function isStreamedUpload(req: { method: string; path: string }): boolean {
  return req.method === "POST" && /^\/v1\/patients\/[^/]+\/records\/?$/.test(req.path);
}

/** The MIME types of NDJSON uploads (FHIR Bulk Data `$import` uses `application/fhir+ndjson`). */
export const NDJSON_TYPES = [
  "application/fhir+ndjson",
  "application/ndjson",
  "application/x-ndjson",
] as const;
/** The MIME types of Bundle uploads. */
export const BUNDLE_TYPES = ["application/fhir+json", "application/json"] as const;

export type UploadLimits = {
  /** Most bytes one upload may carry (RECORDS_UPLOAD_LIMIT_BYTES). */
  maxBytes: number;
  /** Most resources one upload may carry (RECORDS_UPLOAD_MAX_RESOURCES). */
  maxResources: number;
  /** Deepest JSON nesting of the whole upload (JSON_MAX_DEPTH). */
  maxDepth: number;
};

/** An upload as read: a Bundle, or NDJSON resources with the line each came from. */
export type ParsedUpload =
  | {
      format: "bundle";
      bundle: { resourceType?: unknown; type?: unknown; entry?: unknown[] } & Record<string, unknown>;
    }
  | { format: "ndjson"; resources: unknown[]; lines: number[] };

/**
 * An upload not read yet: the request stream and its format. A class, so that the records
 * service tells it from a parsed Bundle (`ingestBundle` takes either) without guessing.
 */
export class UploadStream {
  readonly format: "bundle" | "ndjson";
  readonly stream: Readable;
  /** The limits of this upload (the app's configuration); default: the records service's. */
  readonly limits: UploadLimits | undefined;
  constructor(format: "bundle" | "ndjson", stream: Readable, limits?: UploadLimits) {
    this.format = format;
    this.stream = stream;
    this.limits = limits;
  }
}

/** Where app.ts leaves the configured limits for the records route (`res.locals`). */
export const UPLOAD_LIMITS_LOCAL = "recordsUploadLimits";

export const ALTERNATIVE =
  "Split the history into several uploads (each is validated and stored all or nothing); NDJSON (Content-Type: application/fhir+ndjson, one resource per line) is the bulk format.";

export function tooLarge(limits: UploadLimits): ProblemError {
  return new ProblemError(
    "payload-too-large",
    `A record upload may carry at most ${limits.maxBytes} bytes (RECORDS_UPLOAD_LIMIT_BYTES). ${ALTERNATIVE}`,
  );
}

export function tooManyResources(limits: UploadLimits): ProblemError {
  return new ProblemError(
    "payload-too-large",
    `A record upload may carry at most ${limits.maxResources} resources (RECORDS_UPLOAD_MAX_RESOURCES). ${ALTERNATIVE}`,
  );
}

const tooDeep = (limits: UploadLimits) =>
  new ProblemError("bad-request", `The JSON body nests deeper than ${limits.maxDepth} levels.`);

/** Counts the bytes flowing through, failing the upload past the limit (the rest is not read). */
async function* limited(stream: Readable, limits: UploadLimits): AsyncGenerator<Buffer> {
  let bytes = 0;
  // The request is not destroyed when reading stops early: the caller still answers on it.
  for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += buffer.length;
    if (bytes > limits.maxBytes) throw tooLarge(limits);
    yield buffer;
  }
}

/**
 * NDJSON: one JSON object per line (`\n` or `\r\n`); empty lines are skipped. A line that is not a
 * JSON object — a truncated last line included — is a 422 naming the line; a line nesting deeper
 * than `maxDepth` is a 400 naming the line.
 */
export async function readNdjson(stream: Readable, limits: UploadLimits): Promise<ParsedUpload> {
  const resources: unknown[] = [];
  const lines: number[] = [];
  let pending: Buffer[] = [];
  let line = 0;
  const take = (bytes: Buffer) => {
    line += 1;
    const text = bytes.toString("utf8").trim();
    if (text === "") return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new ProblemError(
        "unprocessable",
        `line ${line}: not valid JSON (truncated or malformed); nothing was stored.`,
      );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new ProblemError("unprocessable", `line ${line}: must be one FHIR resource (a JSON object)`);
    }
    // Each line is a JSON document of its own: the same depth limit as any JSON body.
    if (exceedsDepth(value, limits.maxDepth)) {
      throw new ProblemError(
        "bad-request",
        `line ${line}: the JSON nests deeper than ${limits.maxDepth} levels (JSON_MAX_DEPTH); nothing was stored.`,
      );
    }
    if (resources.length >= limits.maxResources) throw tooManyResources(limits);
    resources.push(value);
    lines.push(line);
  };
  for await (const chunk of limited(stream, limits)) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, nl));
      take(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending));
      pending = [];
      start = nl + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length) take(Buffer.concat(pending));
  if (resources.length === 0) throw new ProblemError("unprocessable", "line 1: the upload holds no resource");
  return { format: "ndjson", resources, lines };
}

type Token = { name: string; value?: unknown };

/**
 * A FHIR Bundle from a token stream: the top-level members assembled one by one, `entry` one
 * element at a time (so the entry count is checked as they arrive). Malformed JSON is a 400 as
 * for every other JSON body.
 */
export async function readBundle(stream: Readable, limits: UploadLimits): Promise<ParsedUpload> {
  const source = limited(stream, limits);
  const json = parser.asStream({ streamValues: false });
  // Feeds the parser from the limited source; a failure of either ends both.
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (json.destroyed) return;
        if (!json.write(chunk)) await waitDrain(json);
      }
      if (!json.destroyed) json.end();
    } catch (error) {
      json.destroy(error as Error);
    }
  })();
  const bundle: Record<string, unknown> = {};
  const entries: unknown[] = [];
  let depth = 0;
  let key: string | undefined;
  let inEntries = false;
  let asm: Assembler | undefined;
  let sawTop = false;
  try {
    for await (const token of json as AsyncIterable<Token>) {
      const opens = token.name === "startObject" || token.name === "startArray";
      const closes = token.name === "endObject" || token.name === "endArray";
      if (opens) {
        depth += 1;
        if (depth > limits.maxDepth) throw tooDeep(limits);
      }
      if (!sawTop) {
        if (token.name !== "startObject")
          throw new ProblemError("unprocessable", "Bundle: expected a FHIR R4 Bundle (a JSON object)");
        sawTop = true;
        continue;
      }
      if (asm) {
        asm.consume(token as never);
        if (closes) depth -= 1;
        if (asm.done) {
          if (inEntries) {
            if (entries.length >= limits.maxResources) throw tooManyResources(limits);
            entries.push(asm.current);
          } else if (key !== undefined) bundle[key] = asm.current;
          asm = undefined;
        }
        continue;
      }
      if (closes) depth -= 1;
      if (inEntries) {
        if (token.name === "endArray") {
          inEntries = false;
          continue;
        }
        asm = new Assembler();
        asm.consume(token as never);
        if (asm.done) {
          entries.push(asm.current);
          asm = undefined;
        }
        continue;
      }
      if (token.name === "keyValue") {
        key = token.value as string;
        continue;
      }
      if (token.name === "endObject" && depth === 0) continue;
      if (key === "entry" && token.name === "startArray") {
        inEntries = true;
        bundle.entry = entries;
        continue;
      }
      asm = new Assembler();
      asm.consume(token as never);
      if (asm.done) {
        if (key !== undefined) bundle[key] = asm.current;
        asm = undefined;
      }
    }
  } catch (error) {
    json.destroy();
    await feeding;
    if (error instanceof ProblemError) throw error;
    throw new ProblemError("bad-request", "The request body is not valid JSON.");
  }
  await feeding;
  return { format: "bundle", bundle };
}

/** Until the parser takes more input, or is gone. */
function waitDrain(stream: NodeJS.WritableStream & { destroyed: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.once("drain", done);
    stream.once("close", done);
  });
}

/** Reads an upload stream in its format. @throws {ProblemError} 400, 413 or 422. */
export function readUpload({ format, stream }: UploadStream, limits: UploadLimits): Promise<ParsedUpload> {
  return format === "ndjson" ? readNdjson(stream, limits) : readBundle(stream, limits);
}
