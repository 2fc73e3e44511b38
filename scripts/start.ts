/**
 * `./medrec start` — run MedRec on this machine: a Proof-of-Authority network of three providers
 * (real geth v1.13.15 Clique sealers on 127.0.0.1, built into the cache on first use), the contracts
 * deployed with the sealers as AgentRegistry's initial signers, one governance daemon per sealer,
 * and a demo patient with a relationship at the first provider. Writes the network manifest
 * (PROTOCOL.md) and runs until SIGINT/SIGTERM, then stops everything and removes the chain's data.
 *
 * Environment: MEDREC_MANIFEST (default `.medrec/network.json` at the repository root),
 * MEDREC_PERIOD_SECONDS (block period, default 1).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  deployRegistry,
  findGeth,
  type GovernanceDaemon,
  type Network,
  startGovernanceDaemon,
  startNetwork,
  stopNetwork,
} from "@medrec/chain-node";
import { agentAbi, relationshipAbi } from "@medrec/protocol";
import {
  accountFromMnemonic,
  generatePatientMnemonic,
  manifestPath,
  type NetworkManifestInput,
  writeManifest,
} from "@medrec/protocol/node";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  parseEther,
  toHex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const PROVIDERS = [
  { name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7101" },
  { name: "Lakeside Clinic", gatekeeperUrl: "http://127.0.0.1:7102" },
  { name: "Hilltop Medical", gatekeeperUrl: "http://127.0.0.1:7103" },
] as const;

function parsePeriod(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 1;
  const period = Number(raw);
  if (!Number.isInteger(period) || period < 1 || period > 60) {
    throw new Error(`MEDREC_PERIOD_SECONDS must be an integer from 1 to 60, got "${raw}"`);
  }
  return period;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const periodSeconds = parsePeriod(process.env.MEDREC_PERIOD_SECONDS);
const out = manifestPath({ root: repoRoot, env: process.env });

let network: Network | undefined;
const daemons: GovernanceDaemon[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  stopping = true;
  await Promise.allSettled(daemons.map((d) => d.stop()));
  if (network) await stopNetwork(network, { removeDir: true }).catch(() => undefined);
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    console.log(`\n${signal}: stopping the daemons and sealers`);
    void shutdown(0);
  });
}

try {
  const binary = await findGeth();
  // The deployer only deploys and funds: a fresh key each run, prefunded in the genesis.
  const deployer = privateKeyToAccount(generatePrivateKey());
  network = await startNetwork({
    sealers: PROVIDERS.length,
    periodSeconds,
    binary,
    prefund: { [deployer.address]: parseEther("1000000") },
  });
  const nodes = network.state.nodes;
  const lead = network.nodes[0];
  if (!lead) throw new Error("the network has no node");
  const rpcUrl = lead.rpcUrl;

  const contracts = await deployRegistry({
    rpcUrl,
    ipcPath: lead.ipcPath,
    deployer,
    initialSigners: nodes.map((node, i) => ({
      account: node.address,
      name: PROVIDERS[i]?.name ?? node.name,
      gatekeeperUrl: PROVIDERS[i]?.gatekeeperUrl ?? "http://127.0.0.1:7100",
    })),
  });

  for (const [i, node] of network.nodes.entries()) {
    const state = nodes[i];
    if (!state) continue;
    await mkdir(path.join(network.dir, "governance"), { recursive: true, mode: 0o700 });
    daemons.push(
      await startGovernanceDaemon({
        ipcPath: node.ipcPath,
        rpcUrl: node.rpcUrl,
        registry: contracts.AgentRegistry,
        cursorPath: path.join(network.dir, "governance", `${state.name}.json`),
        fromBlock: contracts.registryBlock,
        log: ({ level, event, ...fields }) => {
          // Daemon logs carry addresses and block numbers only (no keys).
          const detail = Object.entries(fields)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(" ");
          console.log(`[governance ${state.name}] ${level} ${event} ${detail}`);
        },
      }),
    );
  }

  // viem polls every 4 s by default; blocks come every period here.
  const pollingInterval = 250;
  const publicClient = createPublicClient({ transport: http(rpcUrl), pollingInterval });
  const deployerWallet = createWalletClient({ account: deployer, transport: http(rpcUrl), pollingInterval });
  // Demo only: a fresh patient seed, and a delegate key for the first provider's relationship.
  const mnemonic = generatePatientMnemonic();
  const patient = accountFromMnemonic(mnemonic, 0);
  const delegate = privateKeyToAccount(generatePrivateKey());
  // Sealers pay for their own governance transactions (propose, vote) in the registry. All the
  // transfers go out at once with consecutive nonces, then their receipts are awaited.
  const transfers: [Address, string][] = [
    ...nodes.map((node): [Address, string] => [node.address, "100"]),
    [patient.address, "1"],
    [delegate.address, "1"],
  ];
  const nonce = await publicClient.getTransactionCount({ address: deployer.address, blockTag: "pending" });
  const hashes = await Promise.all(
    transfers.map(([to, ether], i) =>
      deployerWallet.sendTransaction({ to, value: parseEther(ether), nonce: nonce + i, chain: null }),
    ),
  );
  await Promise.all(hashes.map((hash) => publicClient.waitForTransactionReceipt({ hash })));
  const send = async (hash: Promise<Hex>) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`transaction ${receipt.transactionHash} reverted`);
  };
  await send(
    createWalletClient({ account: patient, transport: http(rpcUrl), pollingInterval }).writeContract({
      address: contracts.Agent,
      abi: agentAbi,
      functionName: "register",
      args: [toHex(new Uint8Array(32)), [], 0],
      chain: null,
    }),
  );
  await send(
    createWalletClient({ account: delegate, transport: http(rpcUrl), pollingInterval }).writeContract({
      address: contracts.Relationship,
      abi: relationshipAbi,
      functionName: "create",
      args: [patient.address, "0x"],
      chain: null,
    }),
  );

  const manifest: NetworkManifestInput = {
    chainId: contracts.chainId,
    rpcUrl,
    contracts: {
      AgentRegistry: contracts.AgentRegistry,
      Agent: contracts.Agent,
      Relationship: contracts.Relationship,
    },
    providers: network.nodes.map((node, i) => ({
      name: PROVIDERS[i]?.name ?? `sealer-${i}`,
      account: nodes[i]?.address ?? "",
      gatekeeperUrl: PROVIDERS[i]?.gatekeeperUrl ?? "",
      rpcUrl: node.rpcUrl,
    })),
    demo: {
      note: "Local demo secrets only: never use this mnemonic for anything else.",
      patientMnemonic: mnemonic,
      patientAddress: patient.address,
    },
    chain: { engine: "geth v1.13.15 Clique", periodSeconds, dataDir: network.dir },
  };
  const written = await writeManifest(out, manifest);

  const lines = [
    `MedRec is running: ${nodes.length} provider sealers, chain id ${written.chainId}, ${periodSeconds} s blocks`,
    `  RPC            ${rpcUrl}`,
    `  AgentRegistry  ${written.contracts.AgentRegistry}`,
    `  Agent          ${written.contracts.Agent}`,
    `  Relationship   ${written.contracts.Relationship}`,
    ...written.providers.map((p) => `  provider       ${p.name.padEnd(18)} ${p.account} ${p.rpcUrl}`),
    `  demo patient   ${patient.address} (one relationship; mnemonic in the manifest)`,
    `  manifest       ${out}`,
    "Press Ctrl-C to stop.",
  ];
  console.log(lines.join("\n"));
} catch (error) {
  console.error(`medrec start failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
