/**
 * The patient's entry in the `Agent` contract: whether it exists, and registering it through a
 * provider's relay (the patient holds no ether; docs/protocol.md "Relayed transactions").
 */
import { agentAbi, encryptionKeyPairFromMnemonic, relayAndWait } from "@medrec/protocol";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { encodeFunctionData } from "viem";
import type { HDAccount } from "viem/accounts";
import { pickRelay } from "./chain.ts";
import { useNetwork } from "./network.tsx";

export function agentQueryKey(address: string) {
  return ["agent", "exists", address] as const;
}

/** Whether `address` has its `Agent` entry on chain. */
export function useAgentRegistered(address: `0x${string}` | undefined) {
  const { config, client } = useNetwork();
  return useQuery({
    queryKey: agentQueryKey(address ?? ""),
    enabled: address !== undefined,
    queryFn: () =>
      client.readContract({
        address: config.contracts.Agent,
        abi: agentAbi,
        functionName: "exists",
        args: [address as `0x${string}`],
      }),
  });
}

/** Registers the patient's agent (relayed) unless it is already on chain; resolves to "registered" | "already". */
export function useRegisterAgent() {
  const { config, client } = useNetwork();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ account, mnemonic }: { account: HDAccount; mnemonic: string }) => {
      const exists = await client.readContract({
        address: config.contracts.Agent,
        abi: agentAbi,
        functionName: "exists",
        args: [account.address],
      });
      if (exists) return "already" as const;
      await relayAndWait({
        client,
        forwarder: config.contracts.Forwarder,
        account,
        to: config.contracts.Agent,
        data: encodeFunctionData({
          abi: agentAbi,
          functionName: "register",
          args: [encryptionKeyPairFromMnemonic(mnemonic).publicKey, [], 0],
        }),
        gatekeeperUrl: pickRelay(config),
        chainId: config.chainId,
      });
      return "registered" as const;
    },
    onSuccess: (_, { account }) => queryClient.setQueryData(agentQueryKey(account.address), true),
  });
}
