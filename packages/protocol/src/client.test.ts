import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import { GatekeeperRequestError, gatekeeperJson, nextLink, signIn } from "./client.ts";
import { verifySignIn } from "./siwe.ts";

const account = privateKeyToAccount(`0x${"11".repeat(32)}`);
const CHAIN_ID = 633732;

/** A gatekeeper stand-in that checks sign-ins with the protocol's own verifier. */
function handler(baseUrl: () => string) {
  const issued = new Set<string>();
  return async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown, type = "application/json") => {
      res.writeHead(status, { "content-type": type });
      res.end(JSON.stringify(body));
    };
    if (req.url === "/v1/auth/nonce") {
      const nonce = `n${issued.size}abcdefghijklmnopq`;
      issued.add(nonce);
      return send(200, { nonce });
    }
    if (req.url === "/v1/auth/session" && req.method === "POST") {
      let text = "";
      for await (const chunk of req) text += chunk;
      const { message, signature } = JSON.parse(text) as { message: string; signature: string };
      try {
        const { address, nonce } = await verifySignIn({
          message,
          signature,
          expected: { baseUrl: baseUrl(), chainId: CHAIN_ID },
          now: new Date(),
        });
        if (!issued.delete(nonce)) throw new Error("nonce");
        return send(200, {
          token: "t".repeat(32),
          address,
          expiresAt: new Date(Date.now() + 60_000).toISOString(),
        });
      } catch {
        return send(
          401,
          { type: "about:blank", title: "Unauthorized", status: 401, detail: "The sign-in was refused." },
          "application/problem+json",
        );
      }
    }
    if (req.url === "/plain") {
      res.writeHead(502, { "content-type": "text/html" });
      return res.end("<html>bad gateway</html>");
    }
    return send(
      404,
      { type: "about:blank", title: "Not Found", status: 404, detail: "No such route." },
      "application/problem+json",
    );
  };
}

describe("gatekeeper client", () => {
  let url = "";
  const handle = handler(() => url);
  const server = createServer((req, res) => void handle(req, res));
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test("default: signIn gets a session with a message the protocol's verifier accepts", async () => {
    const session = await signIn({ gatekeeperUrl: url, account, chainId: CHAIN_ID });
    assert.equal(session.address, account.address);
    assert.equal(session.token.length, 32);
  });

  test("behavior: a trailing slash on the base URL changes nothing", async () => {
    const session = await signIn({ gatekeeperUrl: `${url}/`, account, chainId: CHAIN_ID });
    assert.equal(session.address, account.address);
  });

  test("error: a refused sign-in throws with the status and the problem", async () => {
    await assert.rejects(signIn({ gatekeeperUrl: url, account, chainId: 1 }), (error: unknown) => {
      assert.ok(error instanceof GatekeeperRequestError);
      assert.equal(error.status, 401);
      assert.equal(error.problem?.detail, "The sign-in was refused.");
      return true;
    });
  });

  test("error: an answer that is not problem+json still names the status", async () => {
    await assert.rejects(gatekeeperJson(url, "/plain"), (error: unknown) => {
      assert.ok(error instanceof GatekeeperRequestError);
      assert.equal(error.status, 502);
      assert.equal(error.problem, undefined);
      assert.match(error.message, /GET \/plain failed with 502/);
      return true;
    });
  });
});

describe("nextLink", () => {
  const headers = (link?: string) => new Headers(link ? { link } : {});
  test("default: a relative next link becomes a path under the base URL", () => {
    assert.equal(
      nextLink(headers('</v1/relationships/0xab/audit?after=0xcd&limit=100>; rel="next"'), "http://gk.test"),
      "/v1/relationships/0xab/audit?after=0xcd&limit=100",
    );
  });
  test("behavior: an absolute link under a base URL with a path keeps only what follows the base", () => {
    assert.equal(
      nextLink(headers("<https://gk.test/riverside/v1/x?after=1>; rel=next"), "https://gk.test/riverside"),
      "/v1/x?after=1",
    );
  });
  test("behavior: no header, or no next relation, ends the list", () => {
    assert.equal(nextLink(headers(), "http://gk.test"), undefined);
    assert.equal(nextLink(headers('</v1/x>; rel="prev"'), "http://gk.test"), undefined);
  });
});
