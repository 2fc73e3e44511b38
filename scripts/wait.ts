/** Waiting for what the chain and the gatekeepers see a block or so later: one copy for the scripts. */
import { GatekeeperRequestError, relationshipAbi } from "@medrec/protocol";
import type { Address, Hex, PublicClient } from "viem";

/** Retries `run` while a gatekeeper answers 422 because its chain view has not seen an agent yet. */
export async function untilSeen<T>(run: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof GatekeeperRequestError && error.status === 422) || Date.now() > deadline)
        throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Resolves once the relationship has a published record root (sequence ≥ 1). */
export async function waitForRoot(
  client: PublicClient,
  {
    relationshipContract,
    relationship,
    what,
    timeoutMs = 60_000,
  }: {
    relationshipContract: Address;
    relationship: Hex;
    what: string;
    timeoutMs?: number;
  },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await client.readContract({
      address: relationshipContract,
      abi: relationshipAbi,
      functionName: "relationshipOf",
      args: [relationship],
    });
    if (info.sequence > 0n) return;
    if (Date.now() > deadline)
      throw new Error(`${what}: the record root was not published in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
