/**
 * The network the dapp talks to — its validated configuration and a viem client of the chain —
 * for every feature: `useNetwork()`.
 */
import { useQuery } from "@tanstack/react-query";
import { createContext, type ReactNode, useContext, useMemo } from "react";
import type { PublicClient } from "viem";
import type { AppConfig } from "../config/env.ts";
import { createChainClient } from "./chain.ts";

export type Network = { config: AppConfig; client: PublicClient };

const NetworkContext = createContext<Network | undefined>(undefined);

export function NetworkProvider({ config, children }: { config: AppConfig; children: ReactNode }) {
  const value = useMemo(() => ({ config, client: createChainClient(config) }), [config]);
  return <NetworkContext.Provider value={value}>{children}</NetworkContext.Provider>;
}

export function useNetwork(): Network {
  const network = useContext(NetworkContext);
  if (!network) throw new Error("useNetwork outside NetworkProvider");
  return network;
}

/** Whether the chain answers: the latest block number, polled every 5 s. */
export function useChainStatus() {
  const { client } = useNetwork();
  return useQuery({
    queryKey: ["chain", "blockNumber"],
    queryFn: () => client.getBlockNumber({ cacheTime: 0 }),
    refetchInterval: 5_000,
    retry: 1,
  });
}
