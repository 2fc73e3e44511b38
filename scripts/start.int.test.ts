import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { agentAbi, agentRegistryAbi, relationshipAbi } from "@medrec/protocol";
import { readManifest } from "@medrec/protocol/node";
import { createPublicClient, getAddress, http } from "viem";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ["scripts/start.ts"], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const collect = (c: Buffer) => {
    output += c.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  return { child, output: () => output };
}

async function waitFor(check: () => boolean, what: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("./medrec start", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "medrec-start-test-"));
  after(() => rm(dir, { recursive: true, force: true }));

  it("behavior: runs three provider sealers with the contracts and daemons, writes the manifest, stops cleanly", async () => {
    const manifestFile = path.join(dir, "network.json");
    const { child, output } = start({ MEDREC_MANIFEST: manifestFile });
    let dataDir = "";
    try {
      await waitFor(() => /Press Ctrl-C to stop\.|start failed/.test(output()), "the ready line", 240_000);
      assert.match(output(), /Press Ctrl-C to stop\./, output());
      const manifest = await readManifest(manifestFile);
      assert.equal(manifest.chainId, 633732);
      assert.equal(manifest.providers.length, 3);
      assert.ok(manifest.demo);
      assert.ok(!output().includes(manifest.demo.patientMnemonic), "the mnemonic is never printed");
      dataDir = String((manifest.chain as { dataDir?: unknown } | undefined)?.dataDir ?? "");
      assert.ok(dataDir && existsSync(dataDir), "the chain's data dir exists while running");
      assert.ok(!dataDir.startsWith(root), "chain data lives outside the repository");

      for (const provider of manifest.providers) assert.match(provider.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      const client = createPublicClient({ transport: http(manifest.rpcUrl), cacheTime: 0 });
      const first = await client.getBlockNumber();
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok((await client.getBlockNumber()) > first, "blocks keep coming");

      const signers = await client.readContract({
        address: manifest.contracts.AgentRegistry,
        abi: agentRegistryAbi,
        functionName: "signers",
      });
      assert.deepEqual(
        [...signers].map((s) => getAddress(s)).sort(),
        manifest.providers.map((p) => p.account).sort(),
        "the registry's signers are the providers (the genesis sealers)",
      );
      const agent = manifest.contracts.Agent;
      assert.ok(agent);
      const relationships = await client.readContract({
        address: agent,
        abi: agentAbi,
        functionName: "relationshipsOf",
        args: [manifest.demo.patientAddress],
      });
      assert.equal(relationships.length, 1);
      const [id] = relationships;
      assert.ok(id);
      const info = await client.readContract({
        address: await client.readContract({ address: agent, abi: agentAbi, functionName: "relationships" }),
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [id],
      });
      assert.equal(info.patient, manifest.demo.patientAddress);
      assert.match(output(), /\[governance sealer-0\] info started/);
    } finally {
      child.kill("SIGINT");
    }
    const [code] = await once(child, "exit");
    assert.equal(code, 0, output());
    assert.ok(!existsSync(dataDir), "stopping removes the chain's data dir");
  });

  it("error: a bad MEDREC_PERIOD_SECONDS is refused with a clear message", async () => {
    const { child, output } = start({
      MEDREC_PERIOD_SECONDS: "0.5",
      MEDREC_MANIFEST: path.join(dir, "bad.json"),
    });
    const [code] = await once(child, "exit");
    assert.equal(code, 1);
    assert.match(output(), /MEDREC_PERIOD_SECONDS must be an integer from 1 to 60, got "0\.5"/);
  });
});
