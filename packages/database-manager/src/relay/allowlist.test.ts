import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentAbi, relationshipAbi } from "@medrec/protocol";
import { encodeFunctionData, getAddress, zeroHash } from "viem";
import { createAllowlist, describeAllowlist, RELAYED_FUNCTIONS } from "./allowlist.ts";

const agent = getAddress("0x1000000000000000000000000000000000000001");
const relationship = getAddress("0x2000000000000000000000000000000000000002");
const allowlist = createAllowlist({ Agent: agent, Relationship: relationship });
const someone = getAddress("0x3000000000000000000000000000000000000003");

describe("relay allowlist", () => {
  test("default: the network's Agent and Relationship, in any case; nothing else", () => {
    assert.equal(allowlist.contractAt(agent), "Agent");
    assert.equal(allowlist.contractAt(relationship.toLowerCase() as typeof relationship), "Relationship");
    assert.equal(allowlist.contractAt(someone), undefined);
  });

  test("behavior: listed functions by selector; views, internal hooks and short data are refused", () => {
    const publish = encodeFunctionData({
      abi: relationshipAbi,
      functionName: "publishRoot",
      args: [zeroHash, zeroHash, 1n],
    });
    assert.equal(allowlist.functionOf("Relationship", publish), "publishRoot");
    assert.equal(
      allowlist.functionOf("Agent", publish),
      undefined,
      "a selector counts on its own contract only",
    );
    const view = encodeFunctionData({ abi: agentAbi, functionName: "exists", args: [someone] });
    assert.equal(allowlist.functionOf("Agent", view), undefined);
    const hook = encodeFunctionData({
      abi: agentAbi,
      functionName: "attachRelationship",
      args: [someone, zeroHash],
    });
    assert.equal(allowlist.functionOf("Agent", hook), undefined);
    assert.equal(allowlist.functionOf("Agent", "0x1234"), undefined);
  });

  test("behavior: every listed function is described", () => {
    const text = describeAllowlist();
    for (const [contract, names] of Object.entries(RELAYED_FUNCTIONS))
      for (const name of names) assert.ok(text.includes(`${contract}.${name}`));
  });
});
