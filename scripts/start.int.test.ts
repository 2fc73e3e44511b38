import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  accountFromMnemonic,
  agentAbi,
  agentRegistryAbi,
  buildSignInMessage,
  relationshipAbi,
  verifyBundle,
} from "@medrec/protocol";
import { readManifest } from "@medrec/protocol/node";
import { createPublicClient, getAddress, type Hex, http } from "viem";

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

function provider0Url(providers: readonly { gatekeeperUrl: string }[]): string {
  const first = providers[0];
  assert.ok(first);
  return first.gatekeeperUrl;
}

/** The relationship's record root once the seeded one is published (sequence ≥ 1). */
async function waitForRoot(
  client: ReturnType<typeof createPublicClient>,
  relationship: Hex | undefined,
  id: Hex,
): Promise<Hex> {
  assert.ok(relationship);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = await client.readContract({
      address: relationship,
      abi: relationshipAbi,
      functionName: "relationshipOf",
      args: [id],
    });
    if (info.sequence > 0n) return info.recordRoot;
    if (Date.now() > deadline) throw new Error("the seeded record root was never published");
    await new Promise((r) => setTimeout(r, 250));
  }
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
    const { child, output } = start({ MEDREC_MANIFEST: manifestFile, MEDREC_GATEKEEPER_PORT: "0" });
    let dataDir = "";
    let gatekeeperDataDir = "";
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

      // The first provider's gatekeeper: healthy, and the demo patient reads and verifies its records.
      gatekeeperDataDir = String((manifest as { gatekeeperDataDir?: unknown }).gatekeeperDataDir ?? "");
      assert.ok(gatekeeperDataDir && existsSync(gatekeeperDataDir));
      const gk = provider0Url(manifest.providers);
      const health = await fetch(`${gk}/healthz`);
      assert.equal(health.status, 200, await health.text());
      const patient = accountFromMnemonic(manifest.demo.patientMnemonic, 0);
      const { nonce } = (await (await fetch(`${gk}/v1/auth/nonce`)).json()) as { nonce: string };
      const message = buildSignInMessage({
        address: patient.address,
        domain: new URL(gk).host,
        uri: gk,
        chainId: manifest.chainId,
        nonce,
        issuedAt: new Date(),
        expirationTime: new Date(Date.now() + 10 * 60_000),
      });
      const session = await fetch(`${gk}/v1/auth/session`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message, signature: await patient.signMessage({ message }) }),
      });
      assert.equal(session.status, 200, await session.clone().text());
      const { token } = (await session.json()) as { token: string };
      const auth = { authorization: `Bearer ${token}` };
      const listed = (await (await fetch(`${gk}/v1/relationships`, { headers: auth })).json()) as {
        relationship: Hex;
        role: string;
      }[];
      assert.deepEqual(
        listed.map((r) => [r.relationship, r.role]),
        [[id, "patient"]],
      );
      const onChainRoot = await waitForRoot(client, manifest.contracts.Relationship, id);
      const records = await fetch(`${gk}/v1/relationships/${id}/records`, { headers: auth });
      assert.equal(records.status, 200);
      const bundle = (await records.json()) as { resourceType: string; entry: unknown[] };
      assert.equal(bundle.resourceType, "Bundle");
      assert.ok(bundle.entry.length >= 15, `seeded records: ${bundle.entry.length}`);
      const verification = verifyBundle(bundle, onChainRoot);
      assert.ok(verification.rootMatches, "the served root is the on-chain root");
      assert.ok(
        verification.entries.every((e) => e.valid),
        "every entry's proof verifies against the chain",
      );
    } finally {
      child.kill("SIGINT");
    }
    const [code] = await once(child, "exit");
    assert.equal(code, 0, output());
    assert.ok(!existsSync(dataDir), "stopping removes the chain's data dir");
    assert.ok(!existsSync(gatekeeperDataDir), "stopping removes the gatekeeper's embedded database");
    const leftovers = spawnSync("pgrep", ["-f", dataDir], { encoding: "utf8" }).stdout.trim();
    assert.equal(leftovers, "", "no geth of this run is left running");
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
