/**
 * Builds the dapp and serves it: the static files of `dist/`, `/config.json` made from the network
 * manifest's PUBLIC fields only (chain id, contracts, deploy block, providers' names, accounts,
 * gatekeeper and RPC URLs — never `demo`), and the single-page fallback to `index.html`. Node's
 * http module only; `./medrec start` and the browser tests use it.
 */
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream";
import { fileURLToPath } from "node:url";

export const PACKAGE_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = path.join(PACKAGE_DIR, "dist");

/** The part of a manifest the browser may see. */
export type PublicConfig = {
  chainId: number;
  contracts: Record<string, string>;
  deployBlock: number;
  providers: { name: string; account: string; gatekeeperUrl: string; rpcUrl: string; wsUrl?: string }[];
};

type ManifestLike = {
  chainId: number;
  contracts: Record<string, string>;
  deployBlock?: unknown;
  providers: { name: string; account: string; gatekeeperUrl: string; rpcUrl: string; wsUrl?: unknown }[];
};

/** Copies the public fields, by name: anything else in the manifest (demo secrets) never leaves. */
export function publicConfig(manifest: ManifestLike): PublicConfig {
  return {
    chainId: manifest.chainId,
    contracts: { ...manifest.contracts },
    deployBlock: typeof manifest.deployBlock === "number" ? manifest.deployBlock : 0,
    providers: manifest.providers.map((p) => ({
      name: p.name,
      account: p.account,
      gatekeeperUrl: p.gatekeeperUrl,
      rpcUrl: p.rpcUrl,
      ...(typeof p.wsUrl === "string" && p.wsUrl ? { wsUrl: p.wsUrl } : {}),
    })),
  };
}

async function newestMtime(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(target)) {
    if (entry === "node_modules" || entry === "dist") continue;
    newest = Math.max(newest, await newestMtime(path.join(target, entry)));
  }
  return newest;
}

/**
 * Builds `dist/` with Vite unless it is newer than every source (the dapp's and the protocol's).
 * Resolves to whether it built.
 */
export async function buildDapp({ force = false }: { force?: boolean } = {}): Promise<boolean> {
  const built = await stat(path.join(DIST_DIR, "index.html")).catch(() => undefined);
  if (built && !force) {
    const sources = await Promise.all(
      ["src", "public", "index.html", "vite.config.ts", "package.json", "../protocol/src"].map((p) =>
        newestMtime(path.join(PACKAGE_DIR, p)),
      ),
    );
    if (Math.max(...sources) < built.mtimeMs) return false;
  }
  const { build } = await import("vite");
  // Earlier builds' hashed chunks stay: a page opened before this build (another test, another
  // start) still finds the chunks it will lazy-load. They are small and dist/ is git-ignored.
  await build({
    root: PACKAGE_DIR,
    logLevel: "warn",
    configFile: path.join(PACKAGE_DIR, "vite.config.ts"),
    build: { emptyOutDir: false },
  });
  return true;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** A strict CSP: scripts and styles from this server, connections only to the network's own endpoints. */
export function contentSecurityPolicy(config: PublicConfig): string {
  const connect = new Set<string>(["'self'"]);
  for (const p of config.providers)
    for (const url of [p.gatekeeperUrl, p.rpcUrl, p.wsUrl]) {
      const origin = url ? originOf(url.replace(/^ws/, "http")) : undefined;
      if (url && origin) connect.add(url.startsWith("ws") ? origin.replace(/^http/, "ws") : origin);
    }
  return [
    "default-src 'self'",
    "script-src 'self'",
    // Radix positions dialogs with inline styles.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src ${[...connect].join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
  ].join("; ");
}

// Node's own modules only: the container runs this file with no node_modules (Dockerfile).
const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The kinds of failure this server answers, as the gatekeeper names them (adr/0007). */
const PROBLEMS = {
  "bad-request": [400, "Bad request"],
  "not-found": [404, "Not found"],
  "method-not-allowed": [405, "Method not allowed"],
  "request-timeout": [408, "Request timeout"],
  "expectation-failed": [417, "Expectation failed"],
  "headers-too-large": [431, "Request header fields too large"],
  internal: [500, "Internal server error"],
  unavailable: [503, "Service unavailable"],
} as const;
type ProblemKind = keyof typeof PROBLEMS;

/** An RFC 9457 problem document as its bytes. */
function problemBody(kind: ProblemKind, detail: string): string {
  const [status, title] = PROBLEMS[kind];
  return JSON.stringify({ type: `https://medrec.dev/problems/${kind}`, title, status, detail });
}

/** Answers one problem+json, or ends the response when its head is already sent. */
function sendProblem(
  req: IncomingMessage,
  res: ServerResponse,
  kind: ProblemKind,
  detail: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = problemBody(kind, detail);
  res.writeHead(PROBLEMS[kind][0], {
    ...headers,
    "content-type": PROBLEM_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * The request's path, decoded; undefined when the target is not a URL path or decodes to
 * something no file name holds (bad percent-encoding, NUL).
 */
function requestPath(target: string | undefined): string | undefined {
  try {
    const pathname = decodeURIComponent(new URL(target ?? "/", "http://x").pathname);
    return pathname.includes("\0") ? undefined : pathname;
  } catch {
    return undefined;
  }
}

/** Connections whose request said `Connection: close`: nothing after that request is answered. */
const closing = new WeakSet<Socket>();

/**
 * What Node's HTTP parser could not read (a bad request line, headers over the limit, a broken
 * body, a timeout) gets one problem+json too, then the connection closes: through the response
 * of a request whose handler has not answered yet, else written on the socket.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const kind: ProblemKind =
    error.code === "HPE_HEADER_OVERFLOW"
      ? "headers-too-large"
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "request-timeout"
        : "bad-request";
  const detail = "The request could not be read as HTTP/1.1.";
  // Node's own default handler reads the same field: the response under way on this connection.
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (current && !current.headersSent && socket.writable) {
    current.once("finish", () => socket.destroy());
    sendProblem(current.req, current, kind, detail, { connection: "close" });
    return;
  }
  // One request, one answer: nothing more for a response already sent, or for bytes after a
  // request that said `Connection: close` (a body longer than its Content-Length).
  if (!socket.writable || error.code === "ECONNRESET" || current || closing.has(socket)) {
    socket.destroy();
    return;
  }
  socket.end(rawAnswer(PROBLEMS[kind][0], problemBody(kind, detail)));
}

/** A whole HTTP/1.1 problem answer for a socket no `ServerResponse` owns; the connection then closes. */
function rawAnswer(status: number, body: string): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export type DappServer = { url: string; port: number; server: Server; close(): Promise<void> };

/**
 * Serves `dist/` and `/config.json` on `host:port` (port 0 = a free one). `getConfig` is read on
 * every request, so the server can start before the network it describes (`./medrec start` needs
 * its origin first, to let the gatekeepers and RPC nodes accept it); until it returns a config,
 * `/config.json` answers 503. Every failure is one problem+json answer; none stops the server.
 */
export async function startDappServer({
  port = 0,
  host = "127.0.0.1",
  dist = DIST_DIR,
  getConfig,
}: {
  port?: number;
  host?: string;
  dist?: string;
  getConfig: () => PublicConfig | undefined;
}): Promise<DappServer> {
  const root = path.resolve(dist);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const config = getConfig();
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("cross-origin-opener-policy", "same-origin");
    if (config) res.setHeader("content-security-policy", contentSecurityPolicy(config));
    if (req.method !== "GET" && req.method !== "HEAD") {
      sendProblem(req, res, "method-not-allowed", "This server only serves files: GET or HEAD.", {
        allow: "GET, HEAD",
      });
      return;
    }
    const pathname = requestPath(req.url);
    if (pathname === undefined) {
      sendProblem(req, res, "bad-request", "The request target is not a valid URL path.");
      return;
    }
    if (pathname === "/config.json") {
      if (!config) {
        sendProblem(req, res, "unavailable", "The network is still starting; try again shortly.", {
          "retry-after": "2",
        });
        return;
      }
      // Public by design (no secret is in it): Vite's dev server on another origin may read it too.
      res.writeHead(200, {
        "content-type": "application/json",
        "cache-control": "no-store",
        "access-control-allow-origin": "*",
      });
      res.end(JSON.stringify(config));
      return;
    }
    let file = path.resolve(root, `.${pathname}`);
    if (!file.startsWith(root + path.sep) && file !== root) {
      sendProblem(req, res, "not-found", "No such file.");
      return;
    }
    let info = await stat(file).catch(() => undefined);
    // Answered meanwhile: the parser refused the rest of the request.
    if (res.headersSent) return;
    if (!info?.isFile()) {
      // A route of the single-page app (no extension): index.html. A missing asset: 404.
      if (path.extname(pathname)) {
        sendProblem(req, res, "not-found", "No such file.");
        return;
      }
      file = path.join(root, "index.html");
      info = await stat(file).catch(() => undefined);
      if (res.headersSent) return;
      if (!info) {
        sendProblem(req, res, "unavailable", "The dapp is not built.");
        return;
      }
    }
    const immutable = file.includes(`${path.sep}assets${path.sep}`);
    const head = {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "content-length": info.size,
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    };
    if (req.method === "HEAD") {
      res.writeHead(200, head).end();
      return;
    }
    // Opened before the head is sent, so a file that vanished since `stat` is still a 404.
    const stream = createReadStream(file);
    stream.once("open", () => {
      // The client may have left (or sent what the parser refused) while the file opened.
      if (res.destroyed || res.headersSent) {
        stream.destroy();
        return;
      }
      res.writeHead(200, head);
      // A read that fails midway, or a client that leaves, ends the response (never the server).
      pipeline(stream, res, () => undefined);
    });
    stream.once("error", () => {
      if (!res.headersSent) sendProblem(req, res, "not-found", "No such file.");
      else res.destroy();
    });
  };
  const server = createServer((req, res) => {
    if (/\bclose\b/i.test(req.headers.connection ?? "")) closing.add(req.socket);
    handle(req, res).catch(() => sendProblem(req, res, "internal", "The server could not answer."));
  });
  server.on("clientError", answerClientError);
  // An `Expect` other than 100-continue: Node would answer an empty 417.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) =>
    sendProblem(req, res, "expectation-failed", "Only `Expect: 100-continue` is understood here."),
  );
  // CONNECT (a proxy's method) would otherwise close the connection without a word.
  server.on("connect", (_req: IncomingMessage, socket: Socket) => {
    const body = problemBody("method-not-allowed", "This server only serves files: GET or HEAD.");
    socket.end(rawAnswer(405, body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
