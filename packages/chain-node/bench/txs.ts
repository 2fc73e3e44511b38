/**
 * Accounts with locally managed nonces and pre-signed EIP-1559 transactions (explicit gas, fees,
 * nonce and chain id, so nothing is asked of the node before sending).
 */
import { randomBytes } from "node:crypto";
import { relationshipAbi } from "@medrec/protocol";
import { encodeFunctionData, type Hex, keccak256, toHex } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";

export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

export type SignedTx = { raw: Hex; hash: Hex; sender: Sender; nonce: number };

/** An account that sends through one node, with its next nonce kept here. */
export class Sender {
  readonly account: PrivateKeyAccount;
  /** Index of the node this sender submits to (a patient uses its own provider's node). */
  readonly node: number;
  nonce = 0;
  constructor(node: number) {
    this.account = privateKeyToAccount(generatePrivateKey());
    this.node = node;
  }
  get address(): `0x${string}` {
    return this.account.address;
  }

  /** Signs a call (or, with `to` null, a deployment) at the next nonce. */
  async sign(p: {
    chainId: number;
    to: `0x${string}` | null;
    data: Hex;
    gas: bigint;
    fees: Fees;
  }): Promise<SignedTx> {
    const nonce = this.nonce++;
    const raw = await this.account.signTransaction({
      type: "eip1559",
      chainId: p.chainId,
      nonce,
      ...(p.to ? { to: p.to } : {}),
      data: p.data,
      gas: p.gas,
      value: 0n,
      ...p.fees,
    });
    return { raw, hash: keccak256(raw), sender: this, nonce };
  }
}

/** Scopes of the benchmark's grants: labs (6) and medications (3) — docs/protocol.md's bits. */
export const GRANT_SCOPES = (1 << 6) | (1 << 3);
/** Viewer details: 160 bytes of ciphertext, like the gas benchmark's grant. */
export const DETAILS_BYTES = 160;

/** Calldata of `grant(id, <fresh viewer>, scopes, expiresAt, <160 random bytes>)`: a new grant each time. */
export function grantCalldata(relationshipId: Hex, expiresAt: bigint): Hex {
  return encodeFunctionData({
    abi: relationshipAbi,
    functionName: "grant",
    args: [
      relationshipId,
      toHex(randomBytes(20)),
      GRANT_SCOPES,
      expiresAt,
      toHex(randomBytes(DETAILS_BYTES)),
    ],
  });
}
