import {
  agentAbi,
  agentBytecode,
  agentRegistryAbi,
  agentRegistryBytecode,
  type MedRecContractAddresses,
  medRecForwarderAbi,
  medRecForwarderBytecode,
  medrecChain,
} from "@medrec/protocol";
import {
  type Account,
  type Address,
  createPublicClient,
  createWalletClient,
  getAddress,
  type Hash,
  isAddress,
} from "viem";
import { BaseError } from "./errors.ts";
import { cliqueGetSigners } from "./ipc.ts";
import { DEFAULT_RPC_TIMEOUT_MS, httpRpc } from "./rpc.ts";

/** A genesis sealer as the registry's constructor takes it. */
export type InitialSigner = { account: string; name: string; gatekeeperUrl: string };

/** Parameters of {@link deployRegistry}. */
export type DeployRegistryParameters = {
  /** HTTP JSON-RPC of a node of the network (eth namespace). */
  rpcUrl: string;
  /** The same node's IPC socket (for `clique_getSigners`). */
  ipcPath: string;
  /** viem account paying for the deployment (a local account: the node holds no key for it). */
  deployer: Account;
  /** The genesis sealers, each with its directory entry. Must equal `clique_getSigners` as a set. */
  initialSigners: readonly InitialSigner[];
  /** How long to wait for each transaction's receipt. Default 60 s. */
  receiptTimeoutMs?: number;
  /** Timeout of each JSON-RPC call. Default 5 s. */
  timeoutMs?: number;
};

/** What {@link deployRegistry} deployed. */
export type DeployedContracts = MedRecContractAddresses & {
  /** The MedRecForwarder (ERC-2771) every contract trusts: relayed requests act for their signer. */
  Forwarder: Address;
  /** Block of the AgentRegistry's deployment: where a governance daemon may start reading logs. */
  registryBlock: bigint;
  chainId: number;
};

/** Thrown when the registry's initial signers are not the chain's Clique signers, or a deployment fails. */
export class DeployError extends BaseError {
  override name = "DeployError" as const;
}

/** Lower-case set equality of two address lists; returns the differences. */
export function compareSignerSets(
  expected: readonly string[],
  actual: readonly string[],
): { equal: boolean; missing: Address[]; unexpected: Address[] } {
  const a = new Set(expected.map((x) => x.toLowerCase()));
  const b = new Set(actual.map((x) => x.toLowerCase()));
  const missing = [...a].filter((x) => !b.has(x)).map((x) => getAddress(x));
  const unexpected = [...b].filter((x) => !a.has(x)).map((x) => getAddress(x));
  return { equal: missing.length === 0 && unexpected.length === 0, missing, unexpected };
}

/**
 * Deploys `MedRecForwarder` (the trusted ERC-2771 forwarder), then `AgentRegistry` (with the
 * genesis sealers as its initial signers) and `Agent` (whose constructor deploys its
 * `Relationship`), both trusting the forwarder, on a running MedRec network.
 *
 * Before sending anything it checks that `initialSigners` equal the node's `clique_getSigners`
 * (as sets, case-insensitive): a contract cannot read the genesis header, so this is where the
 * registry is bound to the chain's real authorities. Afterwards it checks `signers()` again.
 *
 * @throws {DeployError} signer mismatch, bad input, a reverted or unconfirmed transaction.
 * @throws {RpcUnreachableError | RpcTimeoutError} the node does not answer.
 */
export async function deployRegistry(parameters: DeployRegistryParameters): Promise<DeployedContracts> {
  const { rpcUrl, ipcPath, deployer, initialSigners } = parameters;
  const timeoutMs = parameters.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  const receiptTimeoutMs = parameters.receiptTimeoutMs ?? 60_000;
  if (initialSigners.length === 0) throw new DeployError("initialSigners must list at least one signer.");
  for (const s of initialSigners)
    if (!isAddress(s.account, { strict: false }))
      throw new DeployError(`initialSigners: ${String(s.account)} is not an address.`);

  const clique = await cliqueGetSigners(ipcPath, "latest", { timeoutMs });
  const diff = compareSignerSets(
    initialSigners.map((s) => s.account),
    clique,
  );
  if (!diff.equal) {
    throw new DeployError(
      "The registry's initial signers must equal the chain's Clique signers (clique_getSigners); refusing to deploy.",
      {
        metaMessages: [
          ...(diff.missing.length ? [`not Clique signers: ${diff.missing.join(", ")}`] : []),
          ...(diff.unexpected.length ? [`Clique signers not listed: ${diff.unexpected.join(", ")}`] : []),
        ],
      },
    );
  }

  const chainId = Number(await httpRpc<string>(rpcUrl, "eth_chainId", [], { timeoutMs }));
  const { chain, transport } = medrecChain({ chainId, rpcUrl, timeoutMs });
  const wallet = createWalletClient({ account: deployer, chain, transport });
  const client = createPublicClient({ chain, transport });

  const confirm = async (what: string, hash: Hash) => {
    let receipt: Awaited<ReturnType<typeof client.waitForTransactionReceipt>>;
    try {
      receipt = await client.waitForTransactionReceipt({
        hash,
        timeout: receiptTimeoutMs,
        pollingInterval: 250,
      });
    } catch (cause) {
      throw new DeployError(`${what}: no receipt for ${hash} within ${receiptTimeoutMs} ms.`, { cause });
    }
    if (receipt.status !== "success" || !receipt.contractAddress)
      throw new DeployError(`${what}: transaction ${hash} reverted.`);
    return { address: getAddress(receipt.contractAddress), block: receipt.blockNumber };
  };

  const forwarderTx = await wallet.deployContract({
    abi: medRecForwarderAbi,
    bytecode: medRecForwarderBytecode,
    args: [],
  });
  const forwarder = await confirm("MedRecForwarder deployment", forwarderTx);
  const registryTx = await wallet.deployContract({
    abi: agentRegistryAbi,
    bytecode: agentRegistryBytecode,
    args: [
      initialSigners.map((s) => ({
        account: getAddress(s.account),
        name: s.name,
        gatekeeperUrl: s.gatekeeperUrl,
      })),
      forwarder.address,
    ],
  });
  const registry = await confirm("AgentRegistry deployment", registryTx);
  const agentTx = await wallet.deployContract({
    abi: agentAbi,
    bytecode: agentBytecode,
    args: [forwarder.address],
  });
  const agent = await confirm("Agent deployment", agentTx);
  const relationship = await client.readContract({
    address: agent.address,
    abi: agentAbi,
    functionName: "relationships",
  });

  const registered = await client.readContract({
    address: registry.address,
    abi: agentRegistryAbi,
    functionName: "signers",
  });
  const after = compareSignerSets(registered, await cliqueGetSigners(ipcPath, "latest", { timeoutMs }));
  if (!after.equal)
    throw new DeployError(
      `AgentRegistry at ${registry.address} does not list the Clique signers after deployment.`,
    );

  return {
    AgentRegistry: registry.address,
    Agent: agent.address,
    Relationship: getAddress(relationship),
    Forwarder: forwarder.address,
    registryBlock: registry.block,
    chainId,
  };
}
