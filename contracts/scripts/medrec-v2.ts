/**
 * MedRec v2's gas for the same three patient steps as ours, measured rather than quoted: v2's own
 * contracts (`fixtures/medrec-v2/`, vendored unmodified — GPL test data, never built into
 * MedRec) compiled with solc 0.4.26 and run on the same EDR chain as ours, making the calls v2's
 * patient dapp made (`UserClient/src/patient/views/Home.js` and `Relationships.js` at the commit
 * the fixture's README names):
 *
 *  - onboarding: `Agent.new()` (a contract per patient), then
 *    `AgentRegistry.setAgentContractAddr(agent)`;
 *  - relationship: `Relationship.new(providerAccount)` (a contract per patient–provider pair),
 *    `setProviderName(<encrypted name>)`, `setProviderAddress(<encrypted provider account>)`,
 *    `agent.addRelationship(relationship)`;
 *  - grant: `relationship.addViewerGroup()`, then `addViewer(name, group, viewer, <provider account
 *    re-encrypted for the viewer>)`.
 *
 * The encrypted strings are what v2's dapp stored: eth-ecies ciphertext (IV 16 B, ephemeral public
 * key 65 B, AES-256-CBC of the text, HMAC 32 B) as a hex string. v2 also had the provider's faucet
 * send ether before each step (a 21,000-gas transfer): counted apart, as `faucetTransfers`.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { HardhatViemHelpers } from "@nomicfoundation/hardhat-viem/types";
import type { Abi, Address, Hex } from "viem";
import { ciphertext } from "../test/gas.ts";

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/medrec-v2");
const SOURCES = ["Agent", "AgentRegistry", "Relationship"] as const;
/** The newest EVM solc 0.4.26 knows (it refuses `petersburg` and `paris`). */
export const V2_EVM = "constantinople";
export const V2_OPTIMIZER = { enabled: true, runs: 200 } as const;
/** The source repository and commit of the fixture (see its README). */
export const V2_SOURCE = {
  repository: "https://github.com/mitmedialab/medrec",
  commit: "3e63800480b43df3a49bc740fbb29b7d9997f0d8",
  files: SOURCES.map((s) => `SmartContracts/contracts/${s}.sol`),
  licence: "GPL-2.0 (test data in contracts/fixtures/medrec-v2/, never built into MedRec)",
} as const;
const FAUCET_TRANSFER_GAS = 21_000;

type SolcOutput = {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
};
type Solc04 = { version(): string; compileStandardWrapper(input: string): string };

/** v2's three contracts, compiled with solc 0.4.26 (optimizer on, `constantinople`). */
export async function compileMedRecV2() {
  const solc = createRequire(import.meta.url)("solc-0.4.26") as Solc04;
  const sources = Object.fromEntries(
    await Promise.all(
      SOURCES.map(
        async (s) =>
          [`${s}.sol`, { content: await readFile(path.join(FIXTURE, `${s}.sol`), "utf8") }] as const,
      ),
    ),
  );
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: V2_OPTIMIZER,
      evmVersion: V2_EVM,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compileStandardWrapper(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`solc 0.4.26: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  const artifact = (name: (typeof SOURCES)[number]) => {
    const c = output.contracts[`${name}.sol`]?.[name];
    if (!c) throw new Error(`solc 0.4.26 produced no ${name}`);
    return { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` as Hex };
  };
  return {
    compiler: solc.version(),
    Agent: artifact("Agent"),
    AgentRegistry: artifact("AgentRegistry"),
    Relationship: artifact("Relationship"),
  };
}

/** eth-ecies ciphertext of `plaintextLength` bytes as v2's dapp stored it: a hex string, deterministic here. */
function v2Ciphertext(label: string, plaintextLength: number): string {
  return ciphertext(label, 16 + 65 + (Math.floor(plaintextLength / 16) + 1) * 16 + 32).slice(2);
}

/** Gas of each of v2's transactions for onboarding, one relationship and one grant, on `viem`'s chain. */
export async function measureMedRecV2(viem: HardhatViemHelpers) {
  const v2 = await compileMedRecV2();
  const publicClient = await viem.getPublicClient();
  const [providerWallet, patientWallet, , viewerWallet] = await viem.getWalletClients();
  if (!providerWallet || !patientWallet || !viewerWallet)
    throw new Error("v2 measurement needs funded accounts");
  const provider = providerWallet.account.address;
  const viewer = viewerWallet.account.address;

  async function gasOf(hash: Promise<Hex>) {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
    if (receipt.status !== "success") throw new Error(`v2 transaction ${receipt.transactionHash} reverted`);
    return { gas: Number(receipt.gasUsed), address: receipt.contractAddress ?? undefined };
  }
  const deploy = async (
    wallet: typeof patientWallet,
    { abi, bytecode }: { abi: Abi; bytecode: Hex },
    args: unknown[],
  ) => {
    const { gas, address } = await gasOf(
      wallet.deployContract({ abi, bytecode, args, account: wallet.account }),
    );
    if (!address) throw new Error("v2 deployment has no contract address");
    return { gas, address };
  };
  const call = (
    wallet: typeof patientWallet,
    address: Address,
    abi: Abi,
    functionName: string,
    args: unknown[],
  ) =>
    gasOf(
      wallet.writeContract({ address, abi, functionName, args, account: wallet.account, chain: undefined }),
    );

  // The network's registry, deployed once by the first provider (v2's 2_deploy_contracts.js): not a patient step.
  const providerAgent = await deploy(providerWallet, v2.Agent, []);
  const registry = await deploy(providerWallet, v2.AgentRegistry, [
    "TheFirstProvider",
    providerAgent.address,
    "127.0.0.1",
  ]);

  // Onboarding (Home.js createAgent)
  const agent = await deploy(patientWallet, v2.Agent, []);
  const register = await call(patientWallet, registry.address, v2.AgentRegistry.abi, "setAgentContractAddr", [
    agent.address,
  ]);

  // Relationship (Relationships.js: with the provider's name and account encrypted for the patient)
  const relationship = await deploy(patientWallet, v2.Relationship, [provider]);
  const providerName = "Riverside General";
  const setName = await call(patientWallet, relationship.address, v2.Relationship.abi, "setProviderName", [
    v2Ciphertext("provider name", providerName.length),
  ]);
  const setAddress = await call(
    patientWallet,
    relationship.address,
    v2.Relationship.abi,
    "setProviderAddress",
    [v2Ciphertext("provider account", provider.length)],
  );
  const addRelationship = await call(patientWallet, agent.address, v2.Agent.abi, "addRelationship", [
    relationship.address,
  ]);

  // Grant (Relationships.js addViewer: a new viewer group, then the viewer in it)
  const addGroup = await call(patientWallet, relationship.address, v2.Relationship.abi, "addViewerGroup", []);
  const addViewer = await call(patientWallet, relationship.address, v2.Relationship.abi, "addViewer", [
    "Family member",
    0n,
    viewer,
    v2Ciphertext("provider account for the viewer", provider.length),
  ]);

  const transactions = {
    onboarding: { "Agent.new": agent.gas, "AgentRegistry.setAgentContractAddr": register.gas },
    relationship: {
      "Relationship.new": relationship.gas,
      setProviderName: setName.gas,
      setProviderAddress: setAddress.gas,
      "Agent.addRelationship": addRelationship.gas,
    },
    grant: { addViewerGroup: addGroup.gas, addViewer: addViewer.gas },
  };
  const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
  return {
    onboarding: sum(transactions.onboarding),
    relationship: sum(transactions.relationship),
    grant: sum(transactions.grant),
    transactions,
    faucetTransfers: {
      perStep: FAUCET_TRANSFER_GAS,
      steps: 3,
      note: "v2's faucet funded the patient before each step; not in the figures above",
    },
    compiler: { solc: v2.compiler, evmVersion: V2_EVM, optimizer: V2_OPTIMIZER },
    source: V2_SOURCE,
  };
}
