/**
 * The patient's entry in the `Agent` contract: what this wallet is to the network (the owner of an
 * agent, a wallet whose records were handed to another one, or not registered), and registering it
 * through a provider's relay (the patient holds no ether; docs/protocol.md "Relayed transactions").
 */
import {
  agentAbi,
  encryptionKeyPairFromMnemonic,
  GatekeeperRequestError,
  relayAndWait,
} from "@medrec/protocol";
import { type AccountStanding, readAccountStanding } from "@medrec/protocol/patient";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { encodeFunctionData } from "viem";
import type { HDAccount } from "viem/accounts";
import { pickRelay } from "./chain.ts";
import { useNetwork } from "./network.tsx";
import { patientNetworkOf } from "./patient.tsx";

/** A relay that refused only because it is full right now (protocol RELAY_BUSY_CHECKS). */
const isRelayFull = (error: unknown) =>
  error instanceof GatekeeperRequestError &&
  ["open-lane-limit", "relayer-busy"].includes(String((error.problem as { check?: unknown })?.check));

export function standingQueryKey(address: string) {
  return ["agent", "standing", address] as const;
}

/**
 * What `address` is to the network, read again every `refetchMs` (default: once): a wallet open in
 * a browser learns within that time that a recovery handed its records to another wallet.
 */
export function useAccountStanding(address: `0x${string}` | undefined, refetchMs?: number) {
  const { config, client } = useNetwork();
  return useQuery({
    queryKey: standingQueryKey(address ?? ""),
    enabled: address !== undefined,
    ...(refetchMs ? { refetchInterval: refetchMs } : {}),
    queryFn: (): Promise<AccountStanding> =>
      readAccountStanding({ client, network: patientNetworkOf(config), account: address as `0x${string}` }),
  });
}

/**
 * Registers the patient's agent (relayed) unless the wallet already owns one ("already") or its
 * records were handed to another wallet ("handed-over": registering again would start an empty one).
 */
export function useRegisterAgent() {
  const { config, client } = useNetwork();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ account, mnemonic }: { account: HDAccount; mnemonic: string }) => {
      const standing = await readAccountStanding({
        client,
        network: patientNetworkOf(config),
        account: account.address,
      });
      queryClient.setQueryData(standingQueryKey(account.address), standing);
      if (standing.status === "owner") return "already" as const;
      if (standing.status === "handed-over") return "handed-over" as const;
      const register = (gatekeeperUrl: string) =>
        relayAndWait({
          client,
          forwarder: config.contracts.Forwarder,
          account,
          to: config.contracts.Agent,
          data: encodeFunctionData({
            abi: agentAbi,
            functionName: "register",
            args: [encryptionKeyPairFromMnemonic(mnemonic).publicKey, [], 0],
          }),
          gatekeeperUrl,
          chainId: config.chainId,
        });
      // A registration is open-lane work (adr/0013): a relay whose open lane is full right now is
      // passed over for the next provider's, which keeps its own budget.
      const first = pickRelay(config);
      const relays = [first, ...config.providers.map((p) => p.gatekeeperUrl).filter((u) => u !== first)];
      for (const [i, url] of relays.entries()) {
        try {
          await register(url);
          break;
        } catch (error) {
          if (!(isRelayFull(error) && i + 1 < relays.length)) throw error;
        }
      }
      return "registered" as const;
    },
    onSuccess: (_, { account }) =>
      queryClient.invalidateQueries({ queryKey: standingQueryKey(account.address) }),
  });
}
