/**
 * Strangers' relationships on a patient's agent, as an attacker makes them (issue 19 item 3): each
 * from a fresh key, `Relationship.create(patient, details)`. For tests and `bench:junk` they are
 * made fast: the fresh keys sign forward requests and one account, funded by a sealer over its IPC
 * socket, submits them in batches to the forwarder (`executeBatch`) — no relay, no rate limit.
 */
import { ipcRpc } from "@medrec/chain-node";
import {
  type ForwardRequest,
  medRecForwarderAbi,
  relationshipAbi,
  sealJson,
  signForwardRequest,
  signProviderDetails,
} from "@medrec/protocol";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  type Hex,
  http,
  keccak256,
  parseEther,
  toHex,
} from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import type { System } from "./system.ts";

/** What a stranger's details claim. */
export type JunkKind =
  /** Names a registered provider, with its URL, signed by the stranger's own key. */
  | { kind: "forged"; provider: { name: string; gatekeeperUrl: string; account: Address } }
  /** Names a registered provider, with its URL, and no signature. */
  | { kind: "unsigned"; provider: { name: string; gatekeeperUrl: string; account: Address } }
  /** Bytes that open with no key. */
  | { kind: "garbage" };

export type CreateJunkParameters = {
  system: System;
  /** The patient's agent and X25519 public key (what the details are sealed to). */
  patient: Address;
  patientEncryptionKey: Hex;
  /** One entry per relationship to make. */
  junk: readonly JunkKind[];
  /** Requests per `executeBatch` transaction. Default 50 (about 10 M gas). */
  batch?: number;
  onProgress?: (made: number) => void;
};

/** A fresh account funded by the first provider's sealer (over IPC: the sealer's key signs nothing else here). */
async function fundedAccount(system: System): Promise<PrivateKeyAccount> {
  const node = system.network.nodes[0];
  if (!node) throw new Error("the network has no sealer");
  const account = privateKeyToAccount(generatePrivateKey());
  const hash = await ipcRpc<Hex>(node.ipcPath, "eth_sendTransaction", [
    { from: node.address, to: account.address, value: toHex(parseEther("50")) },
  ]);
  const client = createPublicClient({ transport: http(String(system.manifest.rpcUrl)) });
  await client.waitForTransactionReceipt({ hash, timeout: 60_000 });
  return account;
}

/**
 * Makes `junk.length` strangers' relationships on `patient`; resolves once all are on chain.
 *
 * @throws when a batch reverts.
 */
export async function createJunkRelationships({
  system,
  patient,
  patientEncryptionKey,
  junk,
  batch = 50,
  onProgress,
}: CreateJunkParameters): Promise<void> {
  const { contracts, chainId } = system.manifest as unknown as {
    contracts: { Relationship: Address; Forwarder: Address };
    chainId: number;
  };
  const rpcUrl = String(system.manifest.rpcUrl);
  const client = createPublicClient({ transport: http(rpcUrl) });
  const sender = await fundedAccount(system);
  const wallet = createWalletClient({ account: sender, transport: http(rpcUrl) });
  const domain = { chainId, forwarder: contracts.Forwarder };
  const deadline = Math.floor(Date.now() / 1000) + 3600;
  let nonce = await client.getTransactionCount({ address: sender.address });
  const hashes: Hex[] = [];
  for (let start = 0; start < junk.length; start += batch) {
    const requests = await Promise.all(
      junk.slice(start, start + batch).map(async (j) => {
        const stranger = privateKeyToAccount(generatePrivateKey());
        const details =
          j.kind === "garbage"
            ? toHex(crypto.getRandomValues(new Uint8Array(208)))
            : sealJson(
                j.kind === "forged"
                  ? await signProviderDetails({
                      signer: stranger,
                      provider: j.provider,
                      chainId,
                      relationshipContract: contracts.Relationship,
                      // The id the stranger's create gets; what a real provider would sign.
                      relationship: keccak256(
                        `0x${patient.slice(2).padStart(64, "0")}${stranger.address.slice(2).toLowerCase().padStart(64, "0")}`,
                      ),
                      patient,
                      delegate: stranger.address,
                    })
                  : { v: 1, ...j.provider },
                patientEncryptionKey,
              );
        // A fresh key: forwarder nonce 0, nothing to read from the chain.
        const request: ForwardRequest = {
          from: stranger.address,
          to: contracts.Relationship,
          value: 0n,
          gas: 400_000n,
          nonce: 0n,
          deadline,
          data: encodeFunctionData({
            abi: relationshipAbi,
            functionName: "create",
            args: [patient, details as Hex],
          }),
        };
        const signature = await signForwardRequest(stranger, request, domain);
        return { ...request, signature };
      }),
    );
    hashes.push(
      await wallet.writeContract({
        chain: null,
        address: contracts.Forwarder,
        abi: medRecForwarderAbi,
        functionName: "executeBatch",
        // Zero refund receiver: the batch is atomic (one bad request reverts it).
        args: [
          requests.map(({ from, to, value, gas, deadline, data, signature }) => ({
            from,
            to,
            value,
            gas,
            deadline: Number(deadline),
            data,
            signature,
          })),
          "0x0000000000000000000000000000000000000000",
        ],
        gas: 28_000_000n,
        nonce: nonce++,
      }),
    );
  }
  let made = 0;
  for (const hash of hashes) {
    const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 });
    if (receipt.status !== "success")
      throw new Error(`a batch of strangers' relationships reverted (${hash})`);
    made = Math.min(junk.length, made + batch);
    onProgress?.(made);
  }
}
