import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { BaseError as ProtocolBaseError } from "@medrec/protocol";
import * as chainNode from "./index.ts";

/** Arguments each exported error's constructor accepts (by the shape of its constructor). */
const SAMPLE_ARGUMENTS: Record<string, unknown[]> = {
  CursorFileError: [{ path: "/tmp/cursor.json", problem: "not JSON" }],
  GenesisParametersError: [[{ field: "chainId", message: "must be positive" }]],
  ProbeParametersError: [{ url: "/tmp/geth.ipc" }],
  RegistryNotFoundError: [{ address: "0x00000000000000000000000000000000000000aa", rpcUrl: "http://x" }],
  RpcResponseError: [{ endpoint: "http://x", method: "eth_call", code: -32000, message: "boom" }],
  RpcTimeoutError: [{ endpoint: "http://x", method: "eth_call", timeoutMs: 1 }],
  RpcUnreachableError: [{ endpoint: "http://x", method: "eth_call", reason: "refused" }],
};

describe("chain-node exports", () => {
  test("behavior: every exported error extends BaseError and names itself", () => {
    assert.equal(chainNode.BaseError, ProtocolBaseError, "errors.ts re-exports protocol's BaseError");
    const errors = Object.entries(chainNode).filter(
      ([name, value]) => typeof value === "function" && name.endsWith("Error") && name !== "BaseError",
    );
    assert.equal(errors.length, 14);
    for (const [name, value] of errors) {
      const ErrorClass = value as new (...args: unknown[]) => ProtocolBaseError;
      assert.ok(ErrorClass.prototype instanceof ProtocolBaseError, name);
      const error = new ErrorClass(...(SAMPLE_ARGUMENTS[name] ?? ["something failed."]));
      assert.equal(error.name, name);
      assert.ok(error.shortMessage.length > 0, name);
    }
  });

  test("behavior: a wrapped cause stays reachable", () => {
    const cause = new Error("ECONNREFUSED");
    const error = new chainNode.RpcUnreachableError({ endpoint: "http://x", method: "eth_chainId", cause });
    assert.equal(error.cause, cause);
    assert.equal(error.details, "ECONNREFUSED");
    assert.equal(error.shortMessage, "geth is not reachable at http://x (eth_chainId).");
  });

  test("behavior: no module throws a bare Error, TypeError or RangeError, or extends Error itself", () => {
    const src = new URL(".", import.meta.url);
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter(
      (f) => f.endsWith(".ts") && !f.endsWith(".test.ts"),
    );
    assert.ok(files.length > 10);
    for (const file of files)
      assert.doesNotMatch(
        readFileSync(new URL(file, src), "utf8"),
        /\bnew (?:Type|Range)?Error\(|\bextends Error\b/,
        file,
      );
  });
});
