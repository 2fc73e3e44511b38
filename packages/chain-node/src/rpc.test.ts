import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { freePorts } from "@medrec/protocol/node";
import { ipcRpc } from "./ipc.ts";
import { httpRpc, RpcTimeoutError, RpcUnreachableError } from "./rpc.ts";

// A server that accepts connections and never answers: the case that must not hang.
const silent: Server = createServer(() => {});
await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
const silentPort = (silent.address() as { port: number }).port;
const dir = await mkdtemp(join(tmpdir(), "medrec-ipc-"));
const silentIpc = createServer(() => {});
await new Promise<void>((r) => silentIpc.listen(join(dir, "silent.ipc"), () => r()));
after(async () => {
  silent.close();
  silentIpc.close();
  await rm(dir, { recursive: true, force: true });
});

describe("httpRpc", () => {
  test("error: nothing listening → RpcUnreachableError at once, not a timeout", async () => {
    const [port] = await freePorts(1);
    // A refused connection is reported as such; waiting out the timeout would be an RpcTimeoutError.
    await assert.rejects(
      httpRpc(`http://127.0.0.1:${port}`, "eth_chainId", [], { timeoutMs: 60_000 }),
      (e: unknown) => {
        assert.ok(e instanceof RpcUnreachableError);
        assert.equal(e.name, "RpcUnreachableError");
        assert.match(e.message, /not reachable at http:\/\/127\.0\.0\.1:\d+ \(eth_chainId\)/);
        return true;
      },
    );
  });

  test("error: a server that never answers → RpcTimeoutError after the timeout, not a hang", async () => {
    await assert.rejects(
      httpRpc(`http://127.0.0.1:${silentPort}`, "eth_chainId", [], { timeoutMs: 300 }),
      (e: unknown) => e instanceof RpcTimeoutError && /no answer within 300 ms/.test(e.shortMessage),
    );
  });
});

describe("ipcRpc", () => {
  test("error: no socket → RpcUnreachableError", async () => {
    await assert.rejects(ipcRpc(join(dir, "none.ipc"), "clique_getSigners"), RpcUnreachableError);
  });
  test("error: a socket that never answers → RpcTimeoutError", async () => {
    await assert.rejects(
      ipcRpc(join(dir, "silent.ipc"), "clique_getSigners", [], { timeoutMs: 300 }),
      RpcTimeoutError,
    );
  });
});
