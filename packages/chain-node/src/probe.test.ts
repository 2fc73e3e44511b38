import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, describe, test } from "node:test";
import { ProbeParametersError, probeSigningSurface } from "./probe.ts";

type Handler = (method: string, params: unknown[]) => { result?: unknown; error?: string } | "garbage";

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A stand-in JSON-RPC endpoint answering per `handler` (the real-geth cases are in test/network.int.test.ts). */
async function endpoint(handler: Handler): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      const { id, method, params } = JSON.parse(body) as { id: number; method: string; params: unknown[] };
      calls.push(method);
      const out = handler(method, params);
      if (out === "garbage") return res.end("<html>nope</html>");
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify(
          out.error
            ? { jsonrpc: "2.0", id, error: { code: -32000, message: out.error } }
            : { jsonrpc: "2.0", id, result: out.result },
        ),
      );
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls };
}

const reads: Handler = (method) =>
  method === "eth_chainId" || method === "eth_blockNumber"
    ? { result: "0x1" }
    : method === "eth_accounts"
      ? { result: [] }
      : { error: "unknown account" };
const A = "0x1111111111111111111111111111111111111111";

describe("probeSigningSurface", () => {
  test("default: reads work, no account, every signing call refused → ok; every method is tried", async () => {
    const { url, calls } = await endpoint(reads);
    assert.deepEqual(await probeSigningSurface(url, { addresses: [A] }), { ok: true, violations: [] });
    for (const m of [
      "eth_chainId",
      "eth_blockNumber",
      "eth_accounts",
      "eth_sign",
      "eth_signTransaction",
      "eth_sendTransaction",
      "eth_signTypedData_v4",
      "personal_sign",
      "personal_unlockAccount",
      "personal_listAccounts",
      "personal_newAccount",
    ])
      assert.ok(calls.includes(m), m);
    // Per address (A and a random one) for the six signing calls.
    assert.equal(calls.filter((m) => m === "eth_sign").length, 2);
  });

  test("behavior: 'insufficient funds' from eth_sendTransaction means the node signed → violation", async () => {
    const { url } = await endpoint((method, params) =>
      method === "eth_sendTransaction" && (params[0] as { from: string }).from === A
        ? { error: "insufficient funds for gas * price + value" }
        : reads(method, params),
    );
    const report = await probeSigningSurface(url, { addresses: [A] });
    assert.equal(report.ok, false);
    assert.deepEqual(report.violations.length, 1);
    assert.match(report.violations[0] ?? "", new RegExp(`^eth_sendTransaction for ${A} signed`));
  });

  test("behavior: listed accounts, a personal namespace and a non-JSON answer are violations", async () => {
    const { url } = await endpoint((method, params) =>
      method === "eth_accounts"
        ? { result: [A] }
        : method === "personal_listAccounts"
          ? { result: [] }
          : method === "eth_signTypedData_v4"
            ? "garbage"
            : reads(method, params),
    );
    const text = (await probeSigningSurface(url, { addresses: [A] })).violations.join("\n");
    assert.match(text, /eth_accounts must be \[\] but returned/);
    assert.match(text, /^personal_listAccounts succeeded/m);
    assert.match(text, /eth_signTypedData_v4 got no JSON-RPC answer/);
  });

  test("error: a non-HTTP/WS URL is refused", async () => {
    await assert.rejects(probeSigningSurface("/tmp/geth.ipc"), ProbeParametersError);
  });
});
