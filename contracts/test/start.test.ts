import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { agentAbi, agentRegistryAbi, relationshipAbi } from "@medrec/protocol";
import { readManifest } from "@medrec/protocol/node";
import { createPublicClient, http } from "viem";

const contractsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const hardhatBin = path.join(contractsDir, "node_modules", ".bin", "hardhat");

function startProcess(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(hardhatBin, ["run", "scripts/start.ts"], {
    cwd: contractsDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  return { child, output: () => output };
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("./medrec start (contracts stage)", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "medrec-start-"));
  after(() => rm(dir, { recursive: true, force: true }));

  it("behavior: serves a chain on loopback with the contracts deployed, writes the manifest, stops on SIGINT", async () => {
    const manifestFile = path.join(dir, "network.json");
    const { child, output } = startProcess({ MEDREC_RPC_PORT: "0", MEDREC_MANIFEST: manifestFile });
    try {
      await waitFor(() => output().includes("Press Ctrl-C to stop."), "the ready line");
      const manifest = await readManifest(manifestFile);
      assert.equal(manifest.chainId, 633732);
      assert.match(manifest.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(
        !output().includes(manifest.demo?.patientMnemonic ?? "<none>"),
        "the mnemonic is not printed",
      );

      const client = createPublicClient({ transport: http(manifest.rpcUrl) });
      assert.equal(await client.getChainId(), 633732);
      const registry = manifest.contracts.AgentRegistry;
      const agent = manifest.contracts.Agent;
      assert.ok(agent, "manifest lists the Agent contract");
      const provider = manifest.providers[0];
      assert.ok(provider && manifest.demo);
      const signers = await client.readContract({
        address: registry,
        abi: agentRegistryAbi,
        functionName: "signers",
      });
      assert.deepEqual(signers, [provider.account]);
      const entry = await client.readContract({
        address: registry,
        abi: agentRegistryAbi,
        functionName: "provider",
        args: [provider.account],
      });
      assert.equal(entry.name, provider.name);
      const relationships = await client.readContract({
        address: agent,
        abi: agentAbi,
        functionName: "relationshipsOf",
        args: [manifest.demo.patientAddress],
      });
      assert.equal(relationships.length, 1);
      const relationshipContract = await client.readContract({
        address: agent,
        abi: agentAbi,
        functionName: "relationships",
      });
      assert.equal(relationshipContract, manifest.contracts.Relationship);
      const info = await client.readContract({
        address: relationshipContract,
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [relationships[0] as `0x${string}`],
      });
      assert.equal(info.patient, manifest.demo.patientAddress);
    } finally {
      child.kill("SIGINT");
    }
    const [code] = await once(child, "exit");
    assert.equal(code, 0, output());
  });

  it("error: a bad MEDREC_RPC_PORT is refused with a clear message", async () => {
    const { child, output } = startProcess({
      MEDREC_RPC_PORT: "eighty",
      MEDREC_MANIFEST: path.join(dir, "bad.json"),
    });
    const [code] = await once(child, "exit");
    assert.notEqual(code, 0);
    assert.match(output(), /MEDREC_RPC_PORT must be an integer from 0 to 65535, got "eighty"/);
  });
});
