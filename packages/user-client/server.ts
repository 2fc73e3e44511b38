/**
 * Builds the dapp and serves it: the static files of `dist/`, `/config.json` made from the network
 * manifest's PUBLIC fields only (chain id, contracts, deploy block, providers' names, accounts,
 * gatekeeper and RPC URLs — never `demo`), and the single-page fallback to `index.html`. Node's
 * http module only; `./medrec start` and the browser tests use it.
 */
import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream";
import { fileURLToPath } from "node:url";
// Node's own modules only, here and there: the container runs this file with no node_modules
// (its Dockerfile copies http-guard.ts beside it).
import { guardHttpServer, answerProblem as sendProblem } from "@medrec/protocol/http-guard";

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
  const server = guardHttpServer(
    createServer((req, res) => {
      handle(req, res).catch(() => sendProblem(req, res, "internal", "The server could not answer."));
    }),
    { methods: "GET and HEAD" },
  );
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
