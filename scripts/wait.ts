/** Waiting for what the chain and the gatekeepers see a block or so later: one copy for the scripts. */
import { GatekeeperRequestError, relationshipAbi } from "@medrec/protocol";
import type { Address, Hex, PublicClient } from "viem";

/** Retries `run` while `retryable(error)` holds, every 250 ms, for at most `timeoutMs`. */
async function retryWhile<T>(
  run: () => Promise<T>,
  retryable: (error: unknown) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await run();
    } catch (error) {
      if (!retryable(error) || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Retries `run` while a gatekeeper answers 422 because its chain view has not seen an agent yet. */
export function untilSeen<T>(run: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return retryWhile(
    run,
    (error) => error instanceof GatekeeperRequestError && error.status === 422,
    timeoutMs,
  );
}

/**
 * Retries a relayed call while the chosen relay's node is a block behind ours: it still sees the
 * signer's previous forwarder nonce (409 `wrong-nonce`) until the last relayed call reaches it.
 */
export function untilRelayed<T>(run: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  return retryWhile(
    run,
    (error) =>
      error instanceof GatekeeperRequestError &&
      error.status === 409 &&
      (error.problem as { check?: unknown } | undefined)?.check === "wrong-nonce",
    timeoutMs,
  );
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
