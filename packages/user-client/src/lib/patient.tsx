/**
 * The patient's side of the protocol for every feature: the {@link PatientContext} (network,
 * chain client, the unlocked account, its X25519 key, its agent), one SIWE session per gatekeeper
 * shared by records, notifications and the access log, and the patient's relationships — all from
 * @medrec/protocol/patient, made once per unlocked wallet.
 */
import {
  agentOf,
  checkUnchecked,
  createPatientSessions,
  discoverAllRelationships,
  heldRelationships,
  identifyUnreadable,
  isFromRegisteredProvider,
  type KnownStrangers,
  type OnChainRelationships,
  type PatientContext,
  type PatientNetwork,
  type PatientRelationship,
  type PatientSessions,
  patientContextFromAccount,
  RELATIONSHIPS_PAGE,
  readRelationshipsOnChain,
  type SignatureVerdicts,
} from "@medrec/protocol/patient";
import { type QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect } from "react";
import type { Address } from "viem";
import type { HDAccount } from "viem/accounts";
import type { AppConfig } from "../config/env.ts";
import { useNetwork } from "./network.tsx";
import { clearRecords } from "./patient-records.ts";
import { loadKnownStrangers, loadVerdicts, saveChecks } from "./strangers.ts";
import { getWalletState, useUnlockedWallet } from "./wallet.ts";

const networks = new WeakMap<AppConfig, PatientNetwork>();

/**
 * The dapp's configuration as the patient data layer takes it: one object per configuration, so
 * that every screen shares its light client (one header check for all, adr/0012).
 */
export function patientNetworkOf(config: AppConfig): PatientNetwork {
  let network = networks.get(config);
  if (!network) {
    network = toPatientNetwork(config);
    networks.set(config, network);
  }
  return network;
}

function toPatientNetwork(config: AppConfig): PatientNetwork {
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

/** Public chain reads started while the vault is being opened, taken once by the first screen. */
type Early = { at: number; agent?: Promise<Address>; onChain?: Promise<OnChainRelationships> };
const early = new Map<string, Early>();
/** Older than this, an early read is not used (the chain moves on). */
const EARLY_FOR_MS = 30_000;

/**
 * Starts the chain reads that need no key — the agent of `address`, its relationships and their
 * sealed details — so that they run while the password is stretched (PBKDF2, a few hundred ms);
 * the patient context and relationship list take them instead of reading again. They are the
 * reads the unlocked app makes anyway: nothing else is asked of the node.
 */
export function usePrefetchPatient(): (address: Address) => void {
  const { config, client } = useNetwork();
  return useCallback(
    (address: Address) => {
      const network = patientNetworkOf(config);
      const agent = agentOf(client, network, address);
      // A flooded agent's list and details are read after unlocking: only what this device has not
      // read before (kept encrypted: see strangers.ts).
      const onChain = agent.then((a) =>
        readRelationshipsOnChain(
          { client, network, agent: a },
          { eventsUpTo: 200, listUpTo: RELATIONSHIPS_PAGE },
        ),
      );
      // Unused or failed: the screens read for themselves.
      agent.catch(() => undefined);
      onChain.catch(() => undefined);
      early.set(address.toLowerCase(), { at: Date.now(), agent, onChain });
    },
    [config, client],
  );
}

function takeEarly<K extends "agent" | "onChain">(address: string, what: K): Early[K] | undefined {
  const found = early.get(address.toLowerCase());
  if (!found || Date.now() - found.at > EARLY_FOR_MS) return undefined;
  const value = found[what];
  // Each is used once; a later read goes to the chain.
  delete found[what];
  return value;
}

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
        // The unlocked wallet's account: its X25519 key without deriving the words again; the
        // agent as read while the vault was opened, if it was.
        const agent = takeEarly(key, "agent");
        found = (agent ? agent.catch(() => undefined) : Promise.resolve(undefined))
          .then((owned) =>
            patientContextFromAccount({
              network: patientNetworkOf(config),
              account: wallet.account,
              client,
              ...(owned ? { agent: owned } : {}),
            }),
          )
          .then((ctx) => ({ ctx, sessions: createPatientSessions(ctx) }));
        found.catch(() => cache.delete(key));
        cache.set(key, found);
      }
      return found;
    },
    staleTime: Number.POSITIVE_INFINITY,
    gcTime: 0,
  });
}

/** Signature checks made before {@link usePatientRelationships} answers; more wait for a hint. */
const CHECKS_BEFORE_ANSWER = 50;

function relationshipsQuery(patient: Patient | undefined, queryClient: QueryClient) {
  const queryKey = ["patient", "relationships", patient?.ctx.agent];
  return {
    queryKey,
    queryFn: async (): Promise<PatientRelationship[]> => {
      const { ctx, sessions } = patient as Patient;
      const onChain = takeEarly(ctx.account.address, "onChain");
      const account = ctx.account as HDAccount;
      // Signature checks made on this device before are not made again, and strangers'
      // relationships found before are not read again.
      const [verdicts, known] = await Promise.all([
        loadVerdicts(ctx.account.address, account).catch((): SignatureVerdicts => new Map()),
        loadKnownStrangers(ctx.account.address, account).catch(
          (): KnownStrangers => ({ fingerprint: undefined, ids: new Map() }),
        ),
      ]);
      const state = () =>
        `${verdicts.size}/${known.ids.size}/${known.fingerprint}/${known.list?.length}/${known.list?.at(-1)}`;
      const before = state();
      // One save at a time, in order: a slower earlier one never overwrites a later one.
      let saving = Promise.resolve();
      const persist = () => {
        saving = saving.then(() =>
          saveChecks(ctx.account.address, account, verdicts, known).catch(() => undefined),
        );
        return saving;
      };
      const save = () => (state() !== before ? persist() : saving);
      let found = await discoverAllRelationships(
        ctx,
        onChain?.catch(() => readRelationshipsOnChain(ctx, { known })),
        verdicts,
        { maxChecks: CHECKS_BEFORE_ANSWER, known },
      );
      const held = found.some((r) => r.status === "unchecked" || r.status === "unreadable")
        ? heldRelationships(ctx, sessions)
        : undefined;
      if (held) {
        // Thousands of strangers' links: what the providers say they hold is checked first, the
        // rest in the background (shown apart as being checked meanwhile).
        found = await checkUnchecked(ctx, found, verdicts, new Set((await held).keys()), known);
        if (found.some((r) => r.status === "unchecked"))
          void checkUnchecked(ctx, found, verdicts, undefined, known, () => void persist())
            .then(async (settled) => {
              // Kept before shown as checked: what the page shows is what a reload finds.
              await save();
              const byId = new Map(settled.map((r) => [r.id, r]));
              queryClient.setQueryData<PatientRelationship[]>(queryKey, (current) =>
                current?.map((r) => (r.status === "unchecked" ? (byId.get(r.id) ?? r) : r)),
              );
            })
            .catch(() => undefined);
      }
      void save();
      // Details sealed to a previous owner's key (after a recovery): named by the providers.
      return identifyUnreadable(ctx, sessions, found, held);
    },
    enabled: patient !== undefined,
    staleTime: 60_000,
  };
}

/**
 * The patient's relationships from registered providers, with their providers named (sealed details
 * opened with the seed's key and signed by the provider: adr/0015). Only these are read, shown in
 * the timeline, shared or exported.
 */
export function usePatientRelationships(patient: Patient | undefined) {
  const queryClient = useQueryClient();
  return useQuery({ ...relationshipsQuery(patient, queryClient), select: registeredCurrent });
}

/**
 * The relationships from registered providers, less an ended one whose provider linked the patient
 * again (the new relationship holds the same records; the ended one would only say "refused").
 */
function registeredCurrent(all: PatientRelationship[]): PatientRelationship[] {
  const registered = all.filter(isFromRegisteredProvider);
  const open = new Set(registered.filter((r) => !r.ended).map((r) => r.provider?.account.toLowerCase()));
  return registered.filter((r) => !r.ended || !open.has(r.provider?.account.toLowerCase()));
}

/** The relationships on the patient's agent that no registered provider made: shown apart. */
export function useStrangerRelationships(patient: Patient | undefined) {
  const queryClient = useQueryClient();
  return useQuery({
    ...relationshipsQuery(patient, queryClient),
    select: (all: PatientRelationship[]) => all.filter((r) => !isFromRegisteredProvider(r)),
  });
}
