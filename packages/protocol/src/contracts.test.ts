import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  createPublicClient,
  custom,
  decodeFunctionData,
  encodeFunctionResult,
  getAddress,
  type Hex,
} from "viem";
import { getMedRecContracts, relationshipAbi } from "./contracts.ts";
import { InvalidAddressError } from "./keys.ts";

const addresses = {
  AgentRegistry: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  Agent: "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
  Relationship: "0x9fe46736679d2d9a65f0992f6866ad1b4a2b6a2f",
} as const;

describe("getMedRecContracts", () => {
  test("default: typed reads go to the right contract", async () => {
    const calls: { to: string; data: Hex }[] = [];
    const client = createPublicClient({
      transport: custom({
        async request({ method, params }: { method: string; params?: unknown }) {
          if (method === "eth_chainId") return "0x9ab84";
          if (method !== "eth_call") throw new Error(`unexpected ${method}`);
          const [call] = params as [{ to: string; data: Hex }];
          calls.push(call);
          const { functionName } = decodeFunctionData({ abi: relationshipAbi, data: call.data });
          assert.equal(functionName, "KNOWN_SCOPES");
          return encodeFunctionResult({ abi: relationshipAbi, functionName: "KNOWN_SCOPES", result: 0xc3ff });
        },
      }),
    });
    const contracts = getMedRecContracts({ client, addresses });
    assert.equal(contracts.relationship.address, getAddress(addresses.Relationship));
    assert.equal(contracts.agentRegistry.address, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    const known: number = await contracts.relationship.read.KNOWN_SCOPES();
    assert.equal(known, 0xc3ff);
    assert.equal(calls[0]?.to.toLowerCase(), addresses.Relationship);
    assert.equal(typeof contracts.agent.read.exists, "function");
    assert.equal(typeof contracts.agentRegistry.read.signers, "function");
  });

  test("error: malformed address", () => {
    const client = createPublicClient({ transport: custom({ request: async () => null }) });
    assert.throws(
      () => getMedRecContracts({ client, addresses: { ...addresses, Agent: "0x12" as never } }),
      InvalidAddressError,
    );
  });
});
