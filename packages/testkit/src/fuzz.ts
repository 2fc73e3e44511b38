/**
 * Property-based HTTP fuzzing of a real server over raw sockets (`node:net`), so that request
 * lines, percent-encoding, headers and framing reach the server exactly as generated — no client
 * library normalises or refuses them. Seeded with fast-check: `FUZZ_SEED` picks the seed (a fixed
 * one by default), and a failure prints the seed, the path and the request that broke a property.
 *
 * The properties of every reply ({@link replyProblems}): a status below 600; every 4xx/5xx is one
 * RFC 9457 problem+json (type, title, status = the reply's, detail); no error body carries a stack
 * trace or a file path. Unreadable HTTP may instead be refused by Node's own parser (an empty 400,
 * 408, 413 or 431 that closes the connection) or closed — only where the caller allows it.
 */
import { connect } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";

/** The seed of a fuzz run: `FUZZ_SEED` when set (an integer), else `fallback`. */
export function fuzzSeed(fallback = 20261207, env: NodeJS.ProcessEnv = process.env): number {
  const given = env.FUZZ_SEED;
  if (given === undefined || given === "") return fallback;
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not ${given}`);
  return seed;
}

/** How the body is framed on the wire, lies included. */
export type Framing =
  | "length"
  | "none"
  | "length-lie-longer"
  | "length-lie-shorter"
  | "length-huge"
  | "length-negative"
  | "chunked"
  | "chunked-garbage"
  | "length-and-chunked";

/** One request as it goes on the wire. `raw`, when set, is sent instead of the rest. */
export type FuzzRequest = {
  method: string;
  target: string;
  headers: readonly (readonly [string, string])[];
  body?: Buffer;
  framing?: Framing;
  raw?: Buffer;
  /**
   * The request never completes (a body shorter than announced, a head without its end): the
   * client half-closes after sending, and the server may close without an answer.
   */
  mayClose?: boolean;
};

/** A request of the hand-written corpus: a name that says what it tries. */
export type NamedRequest = FuzzRequest & { name: string };

const CRLF = "\r\n";

/** The request's bytes: request line, headers (plus Host and `Connection: close`), framed body. */
export function serializeRequest(request: FuzzRequest): Buffer {
  if (request.raw) return request.raw;
  const body = request.body ?? Buffer.alloc(0);
  const framing = request.framing ?? (request.body ? "length" : "none");
  const head = [`${request.method} ${request.target} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [name, value] of request.headers) head.push(`${name}: ${value}`);
  let payload = body;
  switch (framing) {
    case "length":
      head.push(`Content-Length: ${body.length}`);
      break;
    case "length-lie-longer":
      head.push(`Content-Length: ${body.length + 17}`);
      break;
    case "length-lie-shorter":
      head.push(`Content-Length: ${Math.max(0, body.length - 5)}`);
      break;
    case "length-huge":
      head.push("Content-Length: 99999999999999999999");
      break;
    case "length-negative":
      head.push("Content-Length: -1");
      break;
    case "chunked":
      head.push("Transfer-Encoding: chunked");
      payload = Buffer.concat([
        Buffer.from(`${body.length.toString(16)}${CRLF}`),
        body,
        Buffer.from(`${CRLF}0${CRLF}${CRLF}`),
      ]);
      break;
    case "chunked-garbage":
      head.push("Transfer-Encoding: chunked");
      payload = Buffer.concat([Buffer.from(`zz${CRLF}`), body, Buffer.from(`${CRLF}-3${CRLF}`)]);
      break;
    case "length-and-chunked":
      head.push(`Content-Length: ${body.length}`, "Transfer-Encoding: chunked");
      break;
    case "none":
      payload = Buffer.alloc(0);
      break;
  }
  return Buffer.concat([Buffer.from(head.join(CRLF) + CRLF + CRLF, "latin1"), payload]);
}

/** What came back: one parsed answer, a connection closed without one, or nothing in time. */
export type RawReply =
  | { kind: "answer"; status: number; headers: Record<string, string>; body: Buffer; trailing: number }
  | { kind: "closed"; bytes: number }
  | { kind: "timeout" };

/**
 * Splits a response (read to the end of the connection) into status, headers and body
 * (de-chunked; none for a HEAD). Bytes after the body (a second answer) are `trailing`.
 */
export function parseResponse(bytes: Buffer, { head = false }: { head?: boolean } = {}): RawReply {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return { kind: "closed", bytes: bytes.length };
  const lines = bytes.subarray(0, end).toString("latin1").split(CRLF);
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
  if (!status) return { kind: "closed", bytes: bytes.length };
  // An interim answer (100 Continue) precedes the real one.
  if (/^HTTP\/1\.[01] 1\d\d/.test(lines[0] ?? "")) return parseResponse(bytes.subarray(end + 4), { head });
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = bytes.subarray(end + 4);
  // A HEAD's answer has no body — unless the parser refused the request before it knew the method.
  if (head && body.length !== Number(headers["content-length"]))
    return {
      kind: "answer",
      status: Number(status[1]),
      headers,
      body: Buffer.alloc(0),
      trailing: body.length,
    };
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = body.indexOf(CRLF, at);
      if (lineEnd < 0) break;
      const size = Number.parseInt(body.subarray(at, lineEnd).toString("latin1"), 16);
      if (!(size > 0)) {
        // The last chunk, then the (empty) trailer section.
        if (size === 0) at = lineEnd + 4;
        break;
      }
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    return {
      kind: "answer",
      status: Number(status[1]),
      headers,
      body: Buffer.concat(parts),
      trailing: body.length - at,
    };
  }
  const length = headers["content-length"] === undefined ? body.length : Number(headers["content-length"]);
  return {
    kind: "answer",
    status: Number(status[1]),
    headers,
    body: body.subarray(0, length),
    trailing: Math.max(0, body.length - length),
  };
}

/** Whether the request as framed never completes, so that only a half-close ends it. */
export function isIncomplete(request: FuzzRequest): boolean {
  return (
    request.mayClose === true || request.framing === "length-lie-longer" || request.framing === "length-huge"
  );
}

/**
 * Sends the request on a fresh connection and reads until the server closes it (every request
 * says `Connection: close`). An incomplete request is half-closed after sending, which Node's
 * server takes as the client leaving. Connection resets after an answer are the server closing
 * early (e.g. on a 431 while the request was still being written).
 */
export function sendRequest(
  server: { host?: string; port: number },
  request: FuzzRequest,
  options: { timeoutMs?: number } = {},
): Promise<RawReply> {
  return sendRaw(server, serializeRequest(request), {
    ...options,
    halfClose: isIncomplete(request),
    head: !request.raw && request.method === "HEAD",
  });
}

/** Sends `bytes` on a fresh connection (then half-closes it when `halfClose`) and reads until the server closes. */
export function sendRaw(
  { host = "127.0.0.1", port }: { host?: string; port: number },
  bytes: Buffer,
  {
    timeoutMs = 15_000,
    halfClose = false,
    head = false,
  }: { timeoutMs?: number; halfClose?: boolean; head?: boolean } = {},
): Promise<RawReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    let settled = false;
    const finish = (reply?: RawReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply ?? parseResponse(Buffer.concat(chunks), { head }));
    };
    const timer = setTimeout(() => finish({ kind: "timeout" }), timeoutMs);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => finish());
    socket.on("close", () => finish());
    socket.on("error", () => finish());
    socket.on("connect", () => {
      if (halfClose) socket.end(bytes);
      else socket.write(bytes);
    });
  });
}

/** Text that only a stack trace or a server-side path would put in a body. */
const LEAK = /\bat [\w.<>$]+ \(|node:internal|\/node_modules\/|\/(?:work|home|root|tmp)\/|\.ts:\d+/;

/** The properties a reply breaks, as sentences (empty when it keeps them all). */
export function replyProblems(request: FuzzRequest, reply: RawReply): string[] {
  if (reply.kind === "timeout") return ["no answer and no close within the time limit"];
  if (reply.kind === "closed")
    return isIncomplete(request) ? [] : [`the connection closed without an answer (${reply.bytes} bytes)`];
  const { status, headers, body } = reply;
  const problems: string[] = [];
  if (reply.trailing > 0)
    problems.push(`${reply.trailing} bytes after the answer (a second answer to one request?)`);
  if (status < 100 || status >= 600) problems.push(`status ${status} is not an HTTP status`);
  const text = body.toString("utf8");
  if (status >= 400) {
    const type = headers["content-type"] ?? "";
    if (!/^application\/problem\+json(;|$)/.test(type))
      problems.push(`a ${status} with content-type "${type}", not application/problem+json`);
    const head = request.raw ? "" : request.method;
    if (!(head === "HEAD" && body.length === 0)) {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        problems.push(`a ${status} whose body is not JSON: ${text.slice(0, 120)}`);
      }
      if (json) {
        for (const key of ["type", "title", "detail"])
          if (typeof json[key] !== "string") problems.push(`problem.${key} is not a string`);
        if (json.status !== status) problems.push(`problem.status ${String(json.status)} ≠ ${status}`);
      }
    }
    if (LEAK.test(text)) problems.push(`a ${status} body leaks a stack trace or path: ${text.slice(0, 200)}`);
  }
  if (status >= 500 && status !== 503) problems.push(`a server fault ${status}: ${text.slice(0, 200)}`);
  return problems;
}

/** Percent-encodings that do not decode, or decode to what a path must not hold. */
export const BAD_PERCENT = [
  "%",
  "%F",
  "%FF",
  "%E0%A4%A",
  "%C0%AF",
  "%ED%A0%80",
  "%00",
  "%zz",
  "%%",
  "%2e%2e%2f",
  "..%2f..%2f",
  "..%5c..%5c",
  "%252e%252e",
] as const;

/** A segment as a client may put it in a path: encoded, raw, bad or long. */
export const pathSegmentArbitrary: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom(...BAD_PERCENT, "..", ".", "", "~", "*", "%20", "a;b", "a,b", "0x", "null", "-1"),
  fc.stringMatching(/^0x[0-9a-fA-F]{0,70}$/),
  fc.array(fc.constantFrom(...BAD_PERCENT, "a", "/", "%2F"), { maxLength: 8 }).map((p) => p.join("")),
  fc.integer({ min: 200, max: 9_000 }).map((n) => "a".repeat(n)),
);

/** A query string: known names with hostile values, repeated names, bad encodings. */
export function queryArbitrary(names: readonly string[]): fc.Arbitrary<string> {
  const name = fc.oneof(fc.constantFrom(...names, "__proto__", "constructor"), fc.string({ maxLength: 8 }));
  const value = fc.oneof(
    fc.constantFrom("", "0", "-1", "1e9", "NaN", "2026-13-45", "0x", "[]", "a[b]=c", ...BAD_PERCENT),
    fc.integer().map(String),
    pathSegmentArbitrary,
  );
  const pair = fc.tuple(name, value).map(([n, v]) => `${encodeURIComponent(n)}=${v}`);
  return fc.array(pair, { maxLength: 6 }).map((pairs) => (pairs.length ? `?${pairs.join("&")}` : ""));
}

/** JSON text nested `depth` levels deep (arrays or objects). */
export function nestedJson(depth: number, kind: "array" | "object" = "array"): string {
  return kind === "array"
    ? "[".repeat(depth) + "]".repeat(depth)
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}

/** A body and the content type it is sent with (the type may lie). */
export type FuzzBody = { contentType?: string; body: Buffer };

const CONTENT_TYPES = [
  "application/json",
  "application/fhir+json",
  "application/fhir+ndjson",
  "application/x-ndjson",
  "application/json; charset=utf-16",
  "application/json; charset=latin1",
  "application/merge-patch+json",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "application/octet-stream",
  "*/*",
  "application/",
  ";;;",
] as const;

/** Hostile bodies of every kind: random JSON, broken JSON and NDJSON, deep nesting, bytes. */
export const bodyArbitrary: fc.Arbitrary<FuzzBody> = fc
  .tuple(
    fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
    fc.oneof(
      fc.json({ maxDepth: 4 }),
      fc.json({ maxDepth: 3 }).map((j) => j.slice(0, Math.max(0, j.length - 1))),
      fc.array(fc.json({ maxDepth: 2 }), { maxLength: 5 }).map((lines) => `${lines.join("\n")}\n{"broken`),
      fc
        .integer({ min: 1, max: 3_000 })
        .chain((d) => fc.constantFrom(nestedJson(d), nestedJson(d, "object"))),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("latin1")),
      fc.constantFrom("", "null", "true", "1e999", '"\\ud800"', '{"__proto__":{"polluted":1}}', "[]"),
    ),
  )
  .map(([contentType, body]) => ({ ...(contentType ? { contentType } : {}), body: Buffer.from(body) }));

/** A route the generator aims at: method and path with `{param}` placeholders. */
export type FuzzRoute = { method: string; path: string };

export type RequestArbitraryParameters = {
  routes: readonly FuzzRoute[];
  /** Values for `{param}` placeholders that the server would accept (mixed with hostile ones). */
  params?: readonly string[];
  /** Query parameter names the routes read. */
  queryNames?: readonly string[];
  /** Authorization / operator headers to send sometimes (valid tokens among them). */
  credentials?: readonly (readonly [string, string])[];
  /** Bodies shaped for these routes (near-valid FHIR, relay requests…), mixed with {@link bodyArbitrary}. */
  bodies?: readonly fc.Arbitrary<FuzzBody>[];
};

const METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS", "TRACE", "PROPFIND", "QUERY"];

/** Requests at the given routes — and around them — with hostile targets, headers, bodies and framing. */
export function requestArbitrary({
  routes,
  params = [],
  queryNames = [],
  credentials = [],
  bodies = [],
}: RequestArbitraryParameters): fc.Arbitrary<FuzzRequest> {
  const param = params.length
    ? fc.oneof(fc.constantFrom(...params), pathSegmentArbitrary)
    : pathSegmentArbitrary;
  const routed = fc
    .tuple(fc.constantFrom(...routes), fc.array(param, { minLength: 4, maxLength: 4 }))
    .map(([route, values]) => {
      let i = 0;
      return { method: route.method, path: route.path.replace(/\{[^}]*\}/g, () => values[i++] ?? "") };
    });
  const wild = fc
    .array(fc.oneof(pathSegmentArbitrary, fc.constantFrom("v1", "healthz", "metrics", "openapi.json")), {
      maxLength: 5,
    })
    .map((segments) => `/${segments.join("/")}`);
  const method = fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(...METHODS) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z-]{1,12}$/) },
  );
  const target = fc.tuple(
    fc.oneof(
      { weight: 4, arbitrary: routed },
      { weight: 1, arbitrary: wild.map((path) => ({ method: "GET", path })) },
    ),
    queryArbitrary(queryNames),
    fc.constantFrom("", "", "", "#frag", "?", "//", "/.."),
  );
  const headerName = fc.oneof(
    fc.constantFrom(
      "X-Request-Id",
      "Accept",
      "Accept-Encoding",
      "Content-Encoding",
      "Origin",
      "X-Forwarded-For",
      "Cookie",
      "Range",
      "If-None-Match",
      "Expect",
      "Upgrade",
    ),
    fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/),
  );
  const headerValue = fc.oneof(
    fc.constantFrom(
      "gzip",
      "deflate",
      "br",
      "identity",
      "x-unknown",
      "100-continue",
      "bytes=0-1,5-",
      "*",
      "null",
    ),
    fc.stringMatching(/^[ -~]{0,80}$/),
    fc.integer({ min: 1_000, max: 12_000 }).map((n) => "v".repeat(n)),
  );
  const headers = fc.tuple(
    fc.array(fc.tuple(headerName, headerValue), { maxLength: 4 }),
    credentials.length
      ? fc.option(fc.constantFrom(...credentials), { nil: undefined })
      : fc.constant(undefined),
    fc.option(
      fc.constantFrom(
        ["Authorization", "Bearer "] as const,
        ["Authorization", "Bearer x.y.z"] as const,
        ["Authorization", "Basic YTpi"] as const,
        ["X-Operator-Key", ""] as const,
        ["X-Operator-Key", "0".repeat(48)] as const,
      ),
      { nil: undefined },
    ),
  );
  const body = fc.option(bodies.length ? fc.oneof(bodyArbitrary, ...bodies) : bodyArbitrary, {
    nil: undefined,
    freq: 3,
  });
  const framing = fc.oneof(
    { weight: 12, arbitrary: fc.constant<Framing>("length") },
    {
      weight: 4,
      arbitrary: fc.constantFrom<Framing>(
        "none",
        "length-lie-longer",
        "length-lie-shorter",
        "length-huge",
        "length-negative",
        "chunked",
        "chunked-garbage",
        "length-and-chunked",
      ),
    },
  );
  return fc
    .record({ method, target, headers, body, framing })
    .map(
      ({
        method,
        target: [route, query, tail],
        headers: [extra, credential, badCredential],
        body,
        framing,
      }) => {
        const all: [string, string][] = extra.map(([n, v]) => [n, v]);
        if (credential) all.push([credential[0], credential[1]]);
        if (badCredential) all.push([badCredential[0], badCredential[1]]);
        if (body?.contentType) all.push(["Content-Type", body.contentType]);
        return {
          method: method ?? route.method,
          target: `${route.path}${query}${tail}`,
          headers: all,
          ...(body ? { body: body.body } : {}),
          framing: body ? framing : "none",
        } satisfies FuzzRequest;
      },
    );
}

const raw = (text: string) => Buffer.from(text, "latin1");
const get = (target: string): FuzzRequest => ({ method: "GET", target, headers: [] });

/** Known-bad requests any HTTP server here must survive; servers add their own next to their tests. */
export const KNOWN_BAD: readonly NamedRequest[] = [
  ...BAD_PERCENT.map((p) => ({ name: `percent-encoding /${p}`, ...get(`/${p}`) })),
  { name: "/%FF (crashed the dapp server: decodeURIComponent threw)", ...get("/%FF") },
  { name: "traversal ..%2f..%2f..%2fetc%2fpasswd", ...get("/..%2f..%2f..%2fetc%2fpasswd") },
  { name: "traversal /../../etc/passwd", ...get("/../../etc/passwd") },
  { name: "null byte in path", ...get("/index.html%00.js") },
  { name: "authority-form target //[", ...get("//[") },
  { name: "absolute-form target", ...get("http://[::1/") },
  { name: "asterisk-form target", ...get("*") },
  { name: "an 8 KiB path", ...get(`/${"a".repeat(8_192)}`) },
  { name: "a 20 KiB path", ...get(`/${"a".repeat(20_000)}`) },
  { name: "a 1 MiB header", method: "GET", target: "/", headers: [["X-Big", "b".repeat(1 << 20)]] },
  {
    name: "10,000 headers",
    method: "GET",
    target: "/",
    headers: Array.from({ length: 10_000 }, (_, i) => [`x-${i}`, "1"] as const),
  },
  { name: "lower-case method", method: "get", target: "/", headers: [] },
  { name: "CONNECT", method: "CONNECT", target: "127.0.0.1:1", headers: [] },
  { name: "unknown method", method: "BREW", target: "/", headers: [] },
  {
    name: "websocket upgrade",
    method: "GET",
    target: "/",
    headers: [
      ["Upgrade", "websocket"],
      ["Connection", "Upgrade"],
    ],
  },
  {
    name: "Expect: 100-continue",
    method: "POST",
    target: "/",
    headers: [["Expect", "100-continue"]],
    body: Buffer.from("{}"),
  },
  {
    name: "Expect: something else",
    method: "POST",
    target: "/",
    headers: [["Expect", "teapot"]],
    body: Buffer.from("{}"),
  },
  {
    name: "a JSON body nested 100,000 deep",
    method: "POST",
    target: "/",
    headers: [["Content-Type", "application/json"]],
    body: Buffer.from(nestedJson(100_000)),
  },
  {
    name: "Content-Length a lie (huge)",
    method: "POST",
    target: "/",
    headers: [["Content-Type", "application/json"]],
    body: Buffer.from("{}"),
    framing: "length-huge",
  },
  {
    name: "Content-Length a lie (longer)",
    method: "POST",
    target: "/",
    headers: [["Content-Type", "application/json"]],
    body: Buffer.from("{}"),
    framing: "length-lie-longer",
  },
  {
    name: "chunked garbage",
    method: "POST",
    target: "/",
    headers: [["Content-Type", "application/json"]],
    body: Buffer.from("{}"),
    framing: "chunked-garbage",
  },
  {
    name: "Content-Length and chunked",
    method: "POST",
    target: "/",
    headers: [],
    body: Buffer.from("{}"),
    framing: "length-and-chunked",
  },
  {
    name: "not HTTP at all",
    method: "",
    target: "",
    headers: [],
    raw: raw("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
  },
  {
    name: "HTTP/2 preface",
    method: "",
    target: "",
    headers: [],
    raw: raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
  },
  { name: "HTTP/0.9", method: "", target: "", headers: [], raw: raw("GET /\r\n\r\n") },
  {
    name: "HTTP/3.0 version",
    method: "",
    target: "",
    headers: [],
    raw: raw("GET / HTTP/3.0\r\nHost: x\r\nConnection: close\r\n\r\n"),
  },
  {
    name: "bare LF line ends",
    method: "",
    target: "",
    headers: [],
    raw: raw("GET / HTTP/1.1\nHost: x\nConnection: close\n\n"),
  },
  {
    name: "header without colon",
    method: "",
    target: "",
    headers: [],
    raw: raw("GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\nConnection: close\r\n\r\n"),
  },
  {
    name: "NUL in the request line",
    method: "",
    target: "",
    headers: [],
    raw: raw("GET /\0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  },
  {
    name: "space in the target",
    method: "",
    target: "",
    headers: [],
    raw: raw("GET /a b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  },
  {
    name: "a request line only, then close",
    method: "",
    target: "",
    headers: [],
    raw: raw("GET / HTTP/1.1\r\n"),
    mayClose: true,
  },
  { name: "empty connection", method: "", target: "", headers: [], raw: Buffer.alloc(0), mayClose: true },
];

/** Heap in use after a full garbage collection (bytes): `--expose-gc` switched on here if it is not. */
export function heapUsedAfterGc(): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export type FuzzParameters = {
  server: { host?: string; port: number };
  arbitrary: fc.Arbitrary<FuzzRequest>;
  /** At least this many generated requests are sent (default 10,000). */
  requests?: number;
  /** Requests in flight at once (one property run each; default 25). */
  batch?: number;
  seed?: number;
  /** Extra properties of a reply (e.g. "no record content"), as {@link replyProblems} states them. */
  check?: (request: FuzzRequest, reply: RawReply) => string[];
};

export type FuzzResult = {
  seed: number;
  requests: number;
  ms: number;
  /** How many answers of each status (and `closed`). */
  statuses: Record<string, number>;
};

/** A request as a failure message shows it: method, target and the first bytes. */
export function describeRequest(request: FuzzRequest): string {
  const bytes = serializeRequest(request);
  const shown = bytes.subarray(0, 400).toString("latin1");
  return JSON.stringify(bytes.length > 400 ? `${shown}… (${bytes.length} bytes)` : shown);
}

/**
 * Sends `requests` generated requests, `batch` at a time, and asserts every reply's properties
 * with fast-check (seeded; on failure it prints the seed and shrinks to a smallest request).
 */
export async function fuzzHttp({
  server,
  arbitrary,
  requests = 10_000,
  batch = 25,
  seed = fuzzSeed(),
  check,
}: FuzzParameters): Promise<FuzzResult> {
  const statuses: Record<string, number> = {};
  let sent = 0;
  const started = performance.now();
  // fc.check, not fc.assert: the report names the seed, the replay path and the one request that
  // broke a property, instead of printing whole batches of megabyte bodies.
  const details = await fc.check(
    fc.asyncProperty(fc.array(arbitrary, { minLength: batch, maxLength: batch }), async (group) => {
      const replies = await Promise.all(group.map((r) => sendRequest(server, r)));
      sent += group.length;
      group.forEach((request, i) => {
        const reply = replies[i] as RawReply;
        const key = reply.kind === "answer" ? String(reply.status) : reply.kind;
        statuses[key] = (statuses[key] ?? 0) + 1;
        const problems = [...replyProblems(request, reply), ...(check?.(request, reply) ?? [])];
        if (problems.length > 0)
          throw new Error(`${problems.join("; ")}\n  request: ${describeRequest(request)}`);
      });
    }),
    {
      seed,
      numRuns: Math.ceil(requests / batch),
      endOnFailure: process.env.FUZZ_SHRINK !== "1",
      ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
    },
  );
  if (details.failed) {
    const cause =
      details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(
      `fuzzing failed after ${details.numRuns} batches — replay with FUZZ_SEED=${details.seed} FUZZ_PATH=${details.counterexamplePath ?? ""} (FUZZ_SHRINK=1 to shrink): ${cause}`,
    );
  }
  return { seed, requests: sent, ms: performance.now() - started, statuses };
}
