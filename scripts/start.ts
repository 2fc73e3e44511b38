/**
 * `./medrec start` — run MedRec on this machine: a Proof-of-Authority network of three providers
 * (real geth v1.13.15 Clique sealers on 127.0.0.1, built into the cache on first use), the contracts
 * deployed with the sealers as AgentRegistry's initial signers, one governance daemon per sealer,
 * and the first provider's gatekeeper on its embedded PostgreSQL with a seeded demo patient (agent
 * on chain, relationship, ~20 FHIR resources, record root published). Writes the network manifest
 * (PROTOCOL.md) and runs until SIGINT/SIGTERM, then stops everything and removes the run's data.
 *
 * Environment: MEDREC_MANIFEST (default `.medrec/network.json` at the repository root),
 * MEDREC_PERIOD_SECONDS (block period, default 1), MEDREC_GATEKEEPER_PORT (default 7101; 0 = a free port).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  deployRegistry,
  findGeth,
  freePorts,
  type GovernanceDaemon,
  type Network,
  startGovernanceDaemon,
  startNetwork,
  stopNetwork,
} from "@medrec/chain-node";
import { type Gatekeeper, loadConfig, seedPatientRecords, startGatekeeper } from "@medrec/database-manager";
import { agentAbi, encryptionKeyPairFromMnemonic } from "@medrec/protocol";
import {
  accountFromMnemonic,
  generatePatientMnemonic,
  manifestPath,
  type NetworkManifestInput,
  writeManifest,
} from "@medrec/protocol/node";
import { pino } from "pino";
import { type Address, createPublicClient, createWalletClient, type Hex, http, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

const PROVIDERS = [
  { name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7101" },
  { name: "Lakeside Clinic", gatekeeperUrl: "http://127.0.0.1:7102" },
  { name: "Hilltop Medical", gatekeeperUrl: "http://127.0.0.1:7103" },
] as const;

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 7101;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`MEDREC_GATEKEEPER_PORT must be an integer from 0 to 65535, got "${raw}"`);
  }
  return port;
}

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
const requestedGatekeeperPort = parsePort(process.env.MEDREC_GATEKEEPER_PORT);
const out = manifestPath({ root: repoRoot, env: process.env });

let network: Network | undefined;
let gatekeeper: Gatekeeper | undefined;
let gatekeeperDataDir: string | undefined;
const daemons: GovernanceDaemon[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  stopping = true;
  await gatekeeper?.stop().catch(() => undefined);
  if (gatekeeperDataDir) await rm(gatekeeperDataDir, { recursive: true, force: true });
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
  // Demo only: a fresh patient seed, the first provider's delegate seed and sponsor key, an operator key.
  const mnemonic = generatePatientMnemonic();
  const patient = accountFromMnemonic(mnemonic, 0);
  const sponsorKey = generatePrivateKey();
  const sponsor = privateKeyToAccount(sponsorKey);
  // Sealers pay for their own governance transactions (propose, vote) in the registry; the sponsor
  // pays for relationships and patients' gas. All transfers go out at once with consecutive nonces.
  const transfers: [Address, string][] = [
    ...nodes.map((node): [Address, string] => [node.address, "100"]),
    [sponsor.address, "1000"],
    [patient.address, "1"],
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
  // The patient's agent, with the X25519 key providers encrypt their details to.
  await send(
    createWalletClient({ account: patient, transport: http(rpcUrl), pollingInterval }).writeContract({
      address: contracts.Agent,
      abi: agentAbi,
      functionName: "register",
      args: [encryptionKeyPairFromMnemonic(mnemonic).publicKey, [], 0],
      chain: null,
    }),
  );

  // The first provider's gatekeeper, its embedded PostgreSQL inside this run's directory.
  const provider = PROVIDERS[0];
  const providerNode = nodes[0];
  if (!providerNode) throw new Error("the network has no node");
  const [gatekeeperPort] = requestedGatekeeperPort === 0 ? await freePorts(1) : [requestedGatekeeperPort];
  if (gatekeeperPort === undefined) throw new Error("no free port for the gatekeeper");
  const gatekeeperUrl = `http://127.0.0.1:${gatekeeperPort}`;
  // Its own temp dir: as root, PostgreSQL runs as `postgres`, who cannot enter the 0700 network dir.
  gatekeeperDataDir = await mkdtemp(path.join(tmpdir(), "medrec-gatekeeper-"));
  const operatorKey = generatePrivateKey().slice(2);
  const config = loadConfig({
    PORT: String(gatekeeperPort),
    PUBLIC_URL: gatekeeperUrl,
    DATA_DIR: gatekeeperDataDir,
    LOG_LEVEL: "warn",
    CORS_ORIGINS: "http://127.0.0.1:5173,http://localhost:5173",
    OPERATOR_KEY: operatorKey,
    CHAIN_RPC_URL: rpcUrl,
    CHAIN_ID: String(contracts.chainId),
    AGENT_ADDRESS: contracts.Agent,
    RELATIONSHIP_ADDRESS: contracts.Relationship,
    CHAIN_START_BLOCK: String(contracts.registryBlock),
    PROVIDER_NAME: provider.name,
    PROVIDER_ACCOUNT: providerNode.address,
    DELEGATE_MNEMONIC: generatePatientMnemonic(),
    SPONSOR_PRIVATE_KEY: sponsorKey,
  });
  gatekeeper = await startGatekeeper({ config, logger: pino({ level: "warn" }) }).catch((error: unknown) => {
    throw new Error(
      `the gatekeeper could not start on ${gatekeeperUrl} (port in use? set MEDREC_GATEKEEPER_PORT): ${error instanceof Error ? error.message : String(error)}`,
    );
  });
  const mrn = "DEMO-0001";
  const registered = await gatekeeper.chain?.writer.registerPatient(mrn, patient.address);
  if (!registered) throw new Error("the gatekeeper has no chain writer");
  const seeded = await seedPatientRecords(gatekeeper.records, mrn, { seed: 1 });
  // Wait until the seeded record root is on chain, so the demo starts consistent.
  await gatekeeper.chain?.writer.publishRoot(seeded.patientId);

  const manifest: NetworkManifestInput = {
    chainId: contracts.chainId,
    rpcUrl,
    contracts: {
      AgentRegistry: contracts.AgentRegistry,
      Agent: contracts.Agent,
      Relationship: contracts.Relationship,
    },
    deployBlock: Number(contracts.registryBlock),
    providers: network.nodes.map((node, i) => ({
      name: PROVIDERS[i]?.name ?? `sealer-${i}`,
      account: nodes[i]?.address ?? "",
      gatekeeperUrl: i === 0 ? (gatekeeper?.url ?? gatekeeperUrl) : (PROVIDERS[i]?.gatekeeperUrl ?? ""),
      rpcUrl: node.rpcUrl,
      ...(i === 0 ? { gatekeeperRunning: true } : { gatekeeperRunning: false }),
    })),
    demo: {
      note: "Local demo secrets only: never use this mnemonic or operator key for anything else.",
      patientMnemonic: mnemonic,
      patientAddress: patient.address,
      patientMrn: mrn,
      relationship: registered.relationship,
      operatorKey,
    },
    chain: { engine: "geth v1.13.15 Clique", periodSeconds, dataDir: network.dir },
    gatekeeperDataDir,
  };
  const written = await writeManifest(out, manifest);

  const lines = [
    `MedRec is running: ${nodes.length} provider sealers, chain id ${written.chainId}, ${periodSeconds} s blocks`,
    `  RPC            ${rpcUrl}`,
    `  AgentRegistry  ${written.contracts.AgentRegistry}`,
    `  Agent          ${written.contracts.Agent}`,
    `  Relationship   ${written.contracts.Relationship}`,
    ...written.providers.map((p) => `  provider       ${p.name.padEnd(18)} ${p.account} ${p.rpcUrl}`),
    `  gatekeeper     ${provider.name}: ${gatekeeper.url} (embedded PostgreSQL, OpenAPI at /openapi.json)`,
    `  demo patient   ${patient.address} MRN ${mrn}, ${seeded.stored} FHIR resources, root ${seeded.root} on chain`,
    "                 (mnemonic and operator key in the manifest: local demo secrets only)",
    `  manifest       ${out}`,
    "Press Ctrl-C to stop.",
  ];
  console.log(lines.join("\n"));
} catch (error) {
  console.error(`medrec start failed: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
