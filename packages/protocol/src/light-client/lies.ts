/**
 * The lies a dishonest RPC node can tell the light client, as rewrites of a real node's answers —
 * for the tests that put a rewriting proxy in front of one provider's node (the browser test and
 * `scripts/patient.int.test.ts`). Each must leave that provider "not verifiable", never verified.
 */
import type { Hex } from "viem";
import type { RpcHeader } from "./header.ts";
import type { RpcProof } from "./proof.ts";

/**
 * `root`: another record root (any 32-byte-wide value) stated under the real proof. `hidden`: every
 * value stated as zero (a hidden grant, no relationship, no root) and no event at all. `forged-proof`: the account
 * proof's leaf replaced. `header`: a header whose state root was changed under the same hash.
 */
export type NodeLie = "root" | "hidden" | "forged-proof" | "header";

export const NODE_LIES: readonly NodeLie[] = ["root", "hidden", "forged-proof", "header"];

/** A real node's `result` for `method`, rewritten to tell `lie` (unchanged when it does not apply). */
export function lyingAnswer(lie: NodeLie | "none", method: string | undefined, result: unknown): unknown {
  if (!result || lie === "none") return result;
  if (method === "eth_getLogs") return lie === "hidden" ? [] : result;
  if (method === "eth_getBlockByNumber")
    return lie === "header" ? { ...(result as RpcHeader), stateRoot: `0x${"00".repeat(31)}01` } : result;
  if (method !== "eth_getProof") return result;
  const proof = structuredClone(result) as RpcProof;
  if (lie === "root")
    for (const entry of proof.storageProof)
      if (BigInt(entry.value) > 1n << 200n) entry.value = `0x${"5e".repeat(32)}`;
  if (lie === "hidden") for (const entry of proof.storageProof) entry.value = "0x0";
  if (lie === "forged-proof")
    proof.accountProof[proof.accountProof.length - 1] = `0x${"c0".repeat(40)}` as Hex;
  return proof;
}

/** A JSON-RPC response body (one answer or a batch) with each result rewritten by {@link lyingAnswer}. */
export function lyingBody(lie: NodeLie | "none", request: unknown, body: unknown): unknown {
  const one = (answer: { result?: unknown }, call: { method?: string } | undefined) => ({
    ...answer,
    result: lyingAnswer(lie, call?.method, answer.result),
  });
  if (Array.isArray(body))
    return body.map((answer, i) => one(answer, (request as { method?: string }[] | undefined)?.[i]));
  return one(body as { result?: unknown }, request as { method?: string } | undefined);
}
