import assert from "node:assert/strict";
import { describe, test } from "node:test";
import * as protocol from "./index.ts";
import * as node from "./node.ts";

describe("entry points", () => {
  test("default: the public API is exported", () => {
    for (const name of [
      "recordRoot",
      "verifySignIn",
      "requiredScopes",
      "accountFromMnemonic",
      "getMedRecContracts",
      "BaseError",
      "signIn",
      "gatekeeperJson",
      "verifyAuditEntries",
      "relayAndWait",
      "signForwardRequest",
    ])
      assert.equal(typeof (protocol as Record<string, unknown>)[name], "function", name);
    for (const name of [
      "networkManifestSchema",
      "problemSchema",
      "sessionRequestSchema",
      "relayRequestSchema",
    ])
      assert.equal(
        typeof (protocol as unknown as Record<string, { safeParse?: unknown }>)[name]?.safeParse,
        "function",
        name,
      );
    assert.ok(Array.isArray(protocol.relationshipAbi));
  });

  test("behavior: file helpers only in ./node", () => {
    assert.equal("readManifest" in protocol, false);
    assert.equal(typeof node.readManifest, "function");
    assert.equal("freePorts" in protocol, false);
    assert.equal(typeof node.freePorts, "function");
    assert.equal(node.recordRoot, protocol.recordRoot);
  });

  test("behavior: every exported error extends BaseError", () => {
    const errors = Object.entries(node).filter(
      ([name, value]) => typeof value === "function" && name.endsWith("Error") && name !== "BaseError",
    );
    assert.equal(errors.length, 17);
    for (const [name, value] of errors) {
      assert.ok((value as { prototype: unknown }).prototype instanceof protocol.BaseError, name);
    }
    assert.equal(new protocol.SignInError({ reason: "expired" }).name, "SignInError");
    assert.equal(new node.ManifestNotFoundError({ path: "/x" }).name, "ManifestNotFoundError");
    assert.equal(new protocol.InvalidHashError({ value: "0x" }).name, "InvalidHashError");
  });
});
