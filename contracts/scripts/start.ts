/**
 * `./medrec start` (for now): serve a local chain on 127.0.0.1, deploy MedRec's contracts, onboard a
 * demo patient with one relationship, print the addresses and write the network manifest
 * (PROTOCOL.md). Runs until SIGINT/SIGTERM.
 *
 * Environment: MEDREC_RPC_PORT (default 8545; 0 picks a free port), MEDREC_MANIFEST (default
 * `.medrec/network.json` at the repository root).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  accountFromMnemonic,
  generatePatientMnemonic,
  manifestPath,
  type NetworkManifestInput,
  writeManifest,
} from "@medrec/protocol/node";
import { artifacts, network } from "hardhat";
import { type Abi, type Address, createPublicClient, createWalletClient, type Hex, http, toHex } from "viem";

const PROVIDER = { name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7101" };

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === "") return 8545;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`MEDREC_RPC_PORT must be an integer from 0 to 65535, got "${raw}"`);
  }
  return port;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const port = parsePort(process.env.MEDREC_RPC_PORT);
const server = await network.createServer({ network: "medrec" }, "127.0.0.1", port);
const listening = await server.listen().catch((error: unknown) => {
  throw new Error(`cannot serve the chain on 127.0.0.1:${port} (is the port in use? set MEDREC_RPC_PORT)`, {
    cause: error,
  });
});
const rpcUrl = `http://127.0.0.1:${listening.port}`;

const publicClient = createPublicClient({ transport: http(rpcUrl) });
const wallet = createWalletClient({ transport: http(rpcUrl) });
const chainId = await publicClient.getChainId();
// The simulated chain's unlocked development accounts: the provider (genesis signer) and its
// relationship delegate. Demo only: never keys of a real network.
const [providerAccount, delegateAccount] = await wallet.getAddresses();
if (!providerAccount || !delegateAccount) throw new Error("the simulated chain has no development accounts");

async function deploy(name: string, args: readonly unknown[]): Promise<Address> {
  const artifact = await artifacts.readArtifact(name);
  const hash = await wallet.deployContract({
    abi: artifact.abi as Abi,
    bytecode: artifact.bytecode as Hex,
    args,
    account: providerAccount as Address,
    chain: null,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (!receipt.contractAddress) throw new Error(`deploying ${name} failed`);
  return receipt.contractAddress;
}

async function send(
  to: Address,
  name: string,
  functionName: string,
  args: readonly unknown[],
  from: Address,
) {
  const { abi } = await artifacts.readArtifact(name);
  const hash = await wallet.writeContract({
    address: to,
    abi: abi as Abi,
    functionName,
    args,
    account: from,
    chain: null,
  });
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${name}.${functionName} reverted`);
}

const registry = await deploy("AgentRegistry", [[{ account: providerAccount, ...PROVIDER }]]);
const agent = await deploy("Agent", []);
const { abi: agentAbi } = await artifacts.readArtifact("Agent");
const relationship = (await publicClient.readContract({
  address: agent,
  abi: agentAbi as Abi,
  functionName: "relationships",
})) as Address;

// A demo patient, funded by the provider (gas sponsorship proper arrives with the gatekeeper).
const mnemonic = generatePatientMnemonic();
const patient = accountFromMnemonic(mnemonic, 0);
await publicClient.waitForTransactionReceipt({
  hash: await wallet.sendTransaction({
    account: providerAccount,
    to: patient.address,
    value: 10n ** 18n,
    chain: null,
  }),
});
const patientWallet = createWalletClient({ account: patient, transport: http(rpcUrl) });
const registerHash = await patientWallet.writeContract({
  address: agent,
  abi: agentAbi as Abi,
  functionName: "register",
  args: [toHex(new Uint8Array(32)), [], 0],
  chain: null,
});
await publicClient.waitForTransactionReceipt({ hash: registerHash });
await send(relationship, "Relationship", "create", [patient.address, "0x"], delegateAccount);

const manifest: NetworkManifestInput = {
  chainId,
  rpcUrl,
  contracts: { AgentRegistry: registry, Agent: agent, Relationship: relationship },
  providers: [
    { name: PROVIDER.name, account: providerAccount, gatekeeperUrl: PROVIDER.gatekeeperUrl, rpcUrl },
  ],
  demo: {
    note: "Local demo secrets only: never use this mnemonic for anything else.",
    patientMnemonic: mnemonic,
    patientAddress: patient.address,
  },
};
const out = manifestPath({ root: repoRoot, env: process.env });
const written = await writeManifest(out, manifest);

console.log(`MedRec local chain ready (chain id ${chainId})
  RPC            ${rpcUrl}
  AgentRegistry  ${written.contracts.AgentRegistry}
  Agent          ${written.contracts.Agent}
  Relationship   ${written.contracts.Relationship}
  provider       ${PROVIDER.name} ${providerAccount}
  demo patient   ${patient.address} (one relationship; mnemonic in the manifest)
  manifest       ${out}
Press Ctrl-C to stop.`);

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the chain`);
  await server.close();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
await server.afterClosed();
