/**
 * The gatekeeper behind TLS, natively: HTTPS with a self-signed certificate made here (openssl
 * CLI) and SIWE checked against the https PUBLIC_URL; and behind a TLS-terminating proxy, where
 * X-Forwarded-For names the client only on requests that come from TRUST_PROXY's address.
 * Distinct client addresses are distinct loopback addresses (127.0.0.x) the sockets bind to.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort } from "@medrec/protocol/node";
import { signInBody } from "@medrec/testkit";
import { pino } from "pino";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createAuth } from "../src/auth/index.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

const CHAIN_ID = 633732;
const silent = pino({ level: "silent" });

type Reply = { status: number; text: string; json: unknown };

/** One request; `localAddress` picks the client's loopback address, `ca` trusts a certificate. */
function call(
  url: string,
  init: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    localAddress?: string;
    ca?: Buffer;
  } = {},
): Promise<Reply> {
  const { protocol, hostname, port, pathname } = new URL(url);
  const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
  const send = protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: hostname,
        port,
        path: pathname,
        method: init.method ?? "GET",
        headers: {
          ...init.headers,
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(init.localAddress ? { localAddress: init.localAddress } : {}),
        ...(init.ca ? { ca: init.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

let pg: TestPostgres;
let dir: string;

before(async () => {
  pg = await startTestPostgres();
  dir = await mkdtemp(join(tmpdir(), "medrec-tls-"));
});
after(async () => {
  await pg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("HTTPS with TLS_CERT_FILE / TLS_KEY_FILE", () => {
  let gk: Gatekeeper;
  let cert: Buffer;
  let publicUrl: string;

  before(async () => {
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { encoding: "utf8" },
    );
    assert.equal(made.status, 0, made.stderr);
    cert = await readFile(certFile);
    const port = await freePort();
    publicUrl = `https://127.0.0.1:${port}`;
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: await createTestDatabase(pg.url, "tls_https"),
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
    });
    assert.equal(config.PUBLIC_URL, publicUrl, "TLS makes the default PUBLIC_URL https");
    gk = await startGatekeeper({
      chain: false,
      config,
      logger: silent,
      modules: (db) => [createAuth({ config, db, chainId: CHAIN_ID }).module],
    });
  });
  after(async () => {
    await gk?.stop();
  });

  test("default: serves HTTPS with the configured certificate, and its url says so", async () => {
    assert.equal(gk.url, publicUrl);
    const r = await call(`${gk.url}/openapi.json`, { ca: cert });
    assert.equal(r.status, 200);
    assert.deepEqual((r.json as { servers: { url: string }[] }).servers?.[0]?.url, publicUrl);
  });

  test("error: plain HTTP to the TLS port is not served", async () => {
    await assert.rejects(call(`${gk.url.replace("https:", "http:")}/openapi.json`));
  });

  test("behavior: SIWE is checked against the https PUBLIC_URL", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const { host } = new URL(publicUrl);
    const signIn = async (uri: string, domain = host) => {
      const nonce = ((await call(`${publicUrl}/v1/auth/nonce`, { ca: cert })).json as { nonce: string })
        .nonce;
      return call(`${publicUrl}/v1/auth/session`, {
        method: "POST",
        body: await signInBody({ account, publicUrl, chainId: CHAIN_ID, nonce, domain, uri }),
        ca: cert,
      });
    };
    const ok = await signIn(publicUrl);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(
      (await signIn(publicUrl.replace("https:", "http:"))).status,
      401,
      "uri on http is not under it",
    );
    assert.equal((await signIn(publicUrl, "127.0.0.1:1")).status, 401, "another domain");
  });

  test("error: unreadable certificate files stop the start-up, naming the variable only", async () => {
    const config = loadConfig({
      PORT: "0",
      DATABASE_URL: await createTestDatabase(pg.url, "tls_missing"),
      TLS_CERT_FILE: join(dir, "missing-cert.pem"),
      TLS_KEY_FILE: join(dir, "missing-key.pem"),
    });
    const error = await startGatekeeper({ chain: false, config, logger: silent }).then(
      () => assert.fail("started without its certificate"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      "TLS_CERT_FILE: cannot be read (ENOENT)",
      "TLS_KEY_FILE: cannot be read (ENOENT)",
    ]);
  });
});

describe("behind a TLS proxy: TRUST_PROXY", () => {
  const LIMIT = 3;
  let gk: Gatekeeper;
  let proxy: Server;
  let proxyUrl: string;

  before(async () => {
    gk = await startGatekeeper({
      chain: false,
      config: loadConfig({
        HOST: "127.0.0.1",
        PORT: "0",
        DATABASE_URL: await createTestDatabase(pg.url, "tls_proxy"),
        RATE_LIMIT_PER_MINUTE: String(LIMIT),
        TRUST_PROXY: "127.0.0.1",
      }),
      logger: silent,
    });
    const upstream = new URL(gk.url);
    // A tiny reverse proxy on 127.0.0.1, as nginx's `X-Forwarded-For $remote_addr`: it replaces
    // whatever the client sent with the address the client connected from.
    proxy = createServer((req, res) => {
      const forwarded = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          localAddress: "127.0.0.1",
          headers: { ...req.headers, "x-forwarded-for": req.socket.remoteAddress ?? "" },
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forwarded.on("error", () => res.destroy());
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const address = proxy.address();
    proxyUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  after(async () => {
    await new Promise((r) => proxy?.close(r));
    await gk?.stop();
  });

  const statuses = async (n: number, request: (i: number) => Promise<Reply>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await request(i)).status);
    return out;
  };

  test("default: through the trusted proxy, each forwarded client has its own rate limit", async () => {
    const viaProxy = (client: string) => () =>
      call(`${proxyUrl}/openapi.json`, { localAddress: client, headers: { "x-forwarded-for": "10.9.9.9" } });
    assert.deepEqual(await statuses(LIMIT + 1, viaProxy("127.0.0.11")), [200, 200, 200, 429]);
    assert.deepEqual(
      await statuses(LIMIT, viaProxy("127.0.0.12")),
      [200, 200, 200],
      "another client behind the same proxy is not limited by the first",
    );
  });

  test("error: X-Forwarded-For from an address that is not the proxy is ignored", async () => {
    // A direct client rotating the header still counts as itself.
    const direct = (i: number) =>
      call(`${gk.url}/openapi.json`, {
        localAddress: "127.0.0.21",
        headers: { "x-forwarded-for": `198.51.100.${i + 1}` },
      });
    assert.deepEqual(await statuses(LIMIT + 1, direct), [200, 200, 200, 429]);
    // …and cannot borrow a proxied client's allowance either: 127.0.0.22 is limited on its own.
    const other = () =>
      call(`${gk.url}/openapi.json`, {
        localAddress: "127.0.0.22",
        headers: { "x-forwarded-for": "127.0.0.21" },
      });
    assert.deepEqual(await statuses(LIMIT, other), [200, 200, 200]);
  });
});
