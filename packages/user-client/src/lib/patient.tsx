/**
 * The patient's side of the protocol for every feature: the {@link PatientContext} (network,
 * chain client, the unlocked account, its X25519 key, its agent), one SIWE session per gatekeeper
 * shared by records, notifications and the access log, and the patient's relationships — all from
 * @medrec/protocol/patient, made once per unlocked wallet.
 */
import {
  createPatientSessions,
  discoverRelationships,
  type PatientContext,
  type PatientNetwork,
  type PatientRelationship,
  type PatientSessions,
  patientContextFromAccount,
} from "@medrec/protocol/patient";
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import type { AppConfig } from "../config/env.ts";
import { useNetwork } from "./network.tsx";
import { clearRecords } from "./patient-records.ts";
import { getWalletState, useUnlockedWallet } from "./wallet.ts";

/** The dapp's configuration as the patient data layer takes it. */
export function patientNetworkOf(config: AppConfig): PatientNetwork {
  return {
    chainId: config.chainId,
    rpcUrl: config.providers[0]?.rpcUrl ?? "",
    contracts: {
      AgentRegistry: config.contracts.AgentRegistry,
      Agent: config.contracts.Agent,
      Relationship: config.contracts.Relationship,
      Forwarder: config.contracts.Forwarder,
      ...(config.contracts.AuditAnchor ? { AuditAnchor: config.contracts.AuditAnchor } : {}),
    },
    fromBlock: BigInt(config.deployBlock),
    providers: config.providers.map((p) => ({
      name: p.name,
      account: p.account,
      gatekeeperUrl: p.gatekeeperUrl,
      rpcUrl: p.rpcUrl,
      ...(p.wsUrl ? { wsUrl: p.wsUrl } : {}),
    })),
  };
}

export type Patient = { ctx: PatientContext; sessions: PatientSessions };

// One context per unlocked account; sessions survive re-renders and screens.
const cache = new Map<string, Promise<Patient>>();

/** The unlocked patient's context and sessions (read once: the agent from the chain). */
export function usePatient() {
  const wallet = useUnlockedWallet();
  const { config, client } = useNetwork();
  // Locked: the key goes with the screens that used it.
  useEffect(
    () => () => {
      if (getWalletState().status !== "unlocked") {
        cache.clear();
        clearRecords();
      }
    },
    [],
  );
  return useQuery({
    queryKey: ["patient", "context", wallet.address],
    queryFn: () => {
      const key = wallet.address.toLowerCase();
      let found = cache.get(key);
      if (!found) {
        // The unlocked wallet's account: its X25519 key without deriving the words again.
        found = patientContextFromAccount({
          network: patientNetworkOf(config),
          account: wallet.account,
          client,
        }).then((ctx) => ({ ctx, sessions: createPatientSessions(ctx) }));
        found.catch(() => cache.delete(key));
        cache.set(key, found);
      }
      return found;
    },
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
  });
}

/** The patient's relationships with their providers named (sealed details opened with the seed's key). */
export function usePatientRelationships(patient: Patient | undefined) {
  return useQuery<PatientRelationship[]>({
    queryKey: ["patient", "relationships", patient?.ctx.agent],
    queryFn: () => discoverRelationships(patient?.ctx as PatientContext),
    enabled: patient !== undefined,
    staleTime: 60_000,
  });
}
