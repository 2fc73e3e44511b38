/** Custodians and recovery from the `Agent` contract, through @medrec/protocol/patient (every write relayed). */
import {
  addCustodian,
  approveRecovery,
  cancelRecovery,
  executeRecovery,
  type PatientContext,
  type RecoveryState,
  readRecoveryState,
  removeCustodian,
  setRecoveryThreshold,
} from "@medrec/protocol/patient";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Address } from "viem";

export function recoveryKey(ctx: PatientContext | undefined) {
  return ["patient", ctx?.account.address ?? "0x", "recovery"] as const;
}

export function useRecoveryState(ctx: PatientContext | undefined) {
  return useQuery({
    queryKey: recoveryKey(ctx),
    enabled: ctx !== undefined,
    // A recovery the patient did not ask for must show soon: they have the waiting period to stop it.
    refetchInterval: 10_000,
    queryFn: (): Promise<RecoveryState> => readRecoveryState(ctx as PatientContext),
  });
}

export type RecoveryAction =
  | { kind: "add"; custodian: Address }
  /** Lowers the threshold first when it would exceed the custodians left. */
  | { kind: "remove"; custodian: Address; threshold: number; remaining: number }
  | { kind: "threshold"; threshold: number }
  | { kind: "cancel" }
  | { kind: "approve"; agent: Address; newOwner: Address }
  | { kind: "execute"; agent: Address };

export function useRecoveryAction(ctx: PatientContext | undefined) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async (action: RecoveryAction) => {
      const c = ctx as PatientContext;
      switch (action.kind) {
        case "add":
          return addCustodian(c, action.custodian);
        case "remove":
          if (action.threshold > action.remaining) await setRecoveryThreshold(c, action.remaining);
          return removeCustodian(c, action.custodian);
        case "threshold":
          return setRecoveryThreshold(c, action.threshold);
        case "cancel":
          return cancelRecovery(c);
        case "approve":
          return approveRecovery(c, action.agent, action.newOwner);
        case "execute":
          return executeRecovery(c, action.agent);
      }
    },
    onSettled: () => queryClient.invalidateQueries({ queryKey: recoveryKey(ctx) }),
  });
}
