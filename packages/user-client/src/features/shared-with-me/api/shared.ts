/** What others shared with this wallet, and each grant's records verified against the chain. */
import { encryptionKeyPairFromAccount } from "@medrec/protocol";
import {
  createPatientSessions,
  listSharedWithMe,
  loadSharedRecords,
  type PatientContext,
  type SharedGrant,
  type ViewerContext,
} from "@medrec/protocol/patient";
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { useNetwork } from "../../../lib/network.tsx";
import { patientNetworkOf } from "../../../lib/patient.tsx";
import { useUnlockedWallet } from "../../../lib/wallet.ts";

/** The viewer's context (no agent needed) and one SIWE session per gatekeeper, for this unlocked wallet. */
export function useViewer() {
  const wallet = useUnlockedWallet();
  const { config, client } = useNetwork();
  return useMemo(() => {
    const ctx: ViewerContext = {
      network: patientNetworkOf(config),
      client,
      account: wallet.account,
      encryptionKey: encryptionKeyPairFromAccount(wallet.account),
    };
    return { ctx, sessions: createPatientSessions(ctx as PatientContext) };
  }, [config, client, wallet.account]);
}

export function useSharedWithMe(viewer: ReturnType<typeof useViewer>) {
  return useQuery({
    queryKey: ["viewer", viewer.ctx.account.address, "shared"],
    queryFn: () => listSharedWithMe(viewer),
  });
}

export function useSharedRecords(viewer: ReturnType<typeof useViewer>, grant: SharedGrant) {
  return useQuery({
    queryKey: ["viewer", viewer.ctx.account.address, "records", grant.relationship, grant.status],
    enabled: grant.status === "active",
    queryFn: () => loadSharedRecords({ ...viewer, grant }),
  });
}
