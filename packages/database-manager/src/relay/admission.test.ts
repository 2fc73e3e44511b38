import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentAbi, relationshipAbi } from "@medrec/protocol";
import { encodeFunctionData, getAddress, zeroHash } from "viem";
import { looksProtective, PROTECTIVE_FUNCTIONS, prioritySerial, staticLane } from "./admission.ts";
import { RELAYED_FUNCTIONS } from "./allowlist.ts";

const someone = getAddress("0x3000000000000000000000000000000000000003");
const body = (data: string) => ({ request: { data } });

describe("relay admission", () => {
  test("default: every protective function is a relayed one", () => {
    for (const [contract, names] of Object.entries(PROTECTIVE_FUNCTIONS))
      for (const name of names)
        assert.ok(
          (RELAYED_FUNCTIONS[contract as keyof typeof RELAYED_FUNCTIONS] as readonly string[]).includes(name),
          `${contract}.${name}`,
        );
  });

  test("behavior: revoke and cancelRecovery look protective by selector; grant, register and junk do not", () => {
    const revoke = encodeFunctionData({
      abi: relationshipAbi,
      functionName: "revoke",
      args: [zeroHash, someone],
    });
    const cancel = encodeFunctionData({ abi: agentAbi, functionName: "cancelRecovery", args: [someone] });
    const grant = encodeFunctionData({
      abi: relationshipAbi,
      functionName: "grant",
      args: [zeroHash, someone, 1, 1n, "0x"],
    });
    const register = encodeFunctionData({ abi: agentAbi, functionName: "register", args: [zeroHash, [], 0] });
    assert.equal(looksProtective(body(revoke)), true);
    assert.equal(looksProtective(body(cancel.toUpperCase().replace("0X", "0x"))), true);
    assert.equal(looksProtective(body(grant)), false);
    assert.equal(looksProtective(body(register)), false);
    for (const junk of [undefined, null, 42, {}, { request: {} }, body("0x12")])
      assert.equal(looksProtective(junk), false);
  });

  test("behavior: a registration and a creation are open-lane work of their signer without reading the chain", () => {
    assert.deepEqual(staticLane("Agent", "register", someone), { lane: "open", key: `signer:${someone}` });
    assert.deepEqual(staticLane("Relationship", "create", someone), {
      lane: "open",
      key: `signer:${someone}`,
    });
    assert.equal(staticLane("Relationship", "revoke", someone), undefined);
    assert.equal(staticLane("Agent", "setEncryptionKey", someone), undefined);
  });

  test("behavior: one task at a time; every waiting protective task runs before any other waiting one", async () => {
    const run = prioritySerial();
    const order: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const task = (name: string, wait?: Promise<void>) => async () => {
      order.push(`start ${name}`);
      await wait;
      order.push(`end ${name}`);
      return name;
    };
    const all = [
      run(false, task("a", gate)),
      run(false, task("b")),
      run(false, task("c")),
      run(true, task("revoke")),
      run(true, task("cancel")),
    ];
    release();
    assert.deepEqual(await Promise.all(all), ["a", "b", "c", "revoke", "cancel"]);
    assert.deepEqual(order, [
      "start a",
      "end a",
      "start revoke",
      "end revoke",
      "start cancel",
      "end cancel",
      "start b",
      "end b",
      "start c",
      "end c",
    ]);
  });

  test("error: a failing task rejects its caller only; the next one still runs", async () => {
    const run = prioritySerial();
    const failed = run(false, async () => {
      throw new Error("boom");
    });
    const next = run(false, async () => "next");
    await assert.rejects(failed, /boom/);
    assert.equal(await next, "next");
  });
});
