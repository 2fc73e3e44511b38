/** The patient's grants from the chain, and granting / revoking through the protocol's relayed calls. */
import {
  type ActiveGrant,
  type BatchResult,
  listActiveGrants,
  type PatientContext,
  type PatientRelationship,
  type PerProviderResult,
  revokeAccess,
  type ShareParameters,
  shareRecords,
} from "@medrec/protocol/patient";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Address } from "viem";

export function grantsKey(ctx: PatientContext | undefined) {
  return ["patient", ctx?.account.address ?? "0x", "grants"] as const;
}

/** Grants in force on the patient's relationships, soonest expiry first; refreshed every 30 s. */
export function useActiveGrants(
  ctx: PatientContext | undefined,
  relationships: PatientRelationship[] | undefined,
) {
  return useQuery({
    queryKey: grantsKey(ctx),
    enabled: ctx !== undefined && relationships !== undefined,
    refetchInterval: 30_000,
    queryFn: (): Promise<ActiveGrant[]> =>
      listActiveGrants({ ctx: ctx as PatientContext, relationships: relationships ?? [] }),
  });
}

/** One provider's line in a multi-provider action: waiting, working, done or failed (with the protocol's result). */
export type Step =
  | { relationship: PatientRelationship; state: "waiting" | "working" }
  | { relationship: PatientRelationship; state: "done" | "failed"; result: PerProviderResult };

/**
 * Runs a batch action one provider at a time so that each line of progress updates as it happens
 * (the protocol's calls take one relationship each here; they queue on the signer's nonce anyway).
 */
export function useBatch() {
  const queryClient = useQueryClient();
  const [steps, setSteps] = useState<Step[]>([]);
  const [running, setRunning] = useState(false);
  const run = async (
    ctx: PatientContext,
    relationships: readonly PatientRelationship[],
    action: (r: PatientRelationship) => Promise<BatchResult>,
  ) => {
    setRunning(true);
    const next: Step[] = relationships.map((relationship) => ({ relationship, state: "waiting" }));
    setSteps([...next]);
    for (const [i, relationship] of relationships.entries()) {
      next[i] = { relationship, state: "working" };
      setSteps([...next]);
      let result: PerProviderResult | undefined;
      try {
        result = (await action(relationship)).results[0];
      } catch (error) {
        result = {
          relationship: relationship.id,
          provider: relationship.provider?.name ?? "",
          ok: false,
          code: "invalid-input",
          message: error instanceof Error ? error.message : String(error),
          retryable: false,
        };
      }
      next[i] = result
        ? { relationship, state: result.ok ? "done" : "failed", result }
        : // no grant there to revoke: nothing to do
          {
            relationship,
            state: "done",
            result: { relationship: relationship.id, provider: "", ok: true, txHash: "0x" },
          };
      setSteps([...next]);
    }
    setRunning(false);
    await queryClient.invalidateQueries({ queryKey: grantsKey(ctx) });
  };
  return { steps, running, run, reset: () => setSteps([]) };
}

export type ShareChoice = Omit<ShareParameters, "ctx" | "relationships">;

export const shareAt = (ctx: PatientContext, choice: ShareChoice) => (r: PatientRelationship) =>
  shareRecords({ ctx, ...choice, relationships: [r] });

export const revokeAt = (ctx: PatientContext, viewer: Address) => (r: PatientRelationship) =>
  revokeAccess({ ctx, viewer, relationships: [r] });
