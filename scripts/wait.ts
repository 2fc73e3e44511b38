/** Waiting for what the chain and the gatekeepers see a block or so later: one copy for the scripts. */
import { GatekeeperRequestError, relationshipAbi } from "@medrec/protocol";
import { eventually, retryWhile } from "@medrec/testkit";
import type { Address, Hex, PublicClient } from "viem";

/** Retries `run` while a gatekeeper answers 422 because its chain view has not seen an agent yet. */
export function untilSeen<T>(run: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return retryWhile(run, (error) => error instanceof GatekeeperRequestError && error.status === 422, {
    timeoutMs,
  });
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
  await eventually(
    `${what}: the record root to be published`,
    async () => {
      const info = await client.readContract({
        address: relationshipContract,
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [relationship],
      });
      return info.sequence > 0n;
    },
    { timeoutMs, intervalMs: 250 },
  );
}
