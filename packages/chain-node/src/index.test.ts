import assert from "node:assert/strict";
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
});
