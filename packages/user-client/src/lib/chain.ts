/**
 * viem clients for the network in the configuration: reads go to the providers' non-signing RPC
 * nodes (each in turn when one fails); nothing here can sign — signing is the unlocked account's.
 */
import { type Chain, createPublicClient, defineChain, fallback, http, type PublicClient } from "viem";
import type { AppConfig } from "../config/env.ts";

export function medrecChainOf(config: AppConfig): Chain {
  return defineChain({
    id: config.chainId,
    name: "MedRec",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: config.providers.map((p) => p.rpcUrl) } },
  });
}

export function createChainClient(config: AppConfig): PublicClient {
  return createPublicClient({
    chain: medrecChainOf(config),
    transport: fallback(
      config.providers.map((p) => http(p.rpcUrl, { retryCount: 1, timeout: 10_000 })),
      { rank: false },
    ),
    pollingInterval: 1_000,
  }) as PublicClient;
}

/** A random provider's gatekeeper, to relay through (any of them relays for anyone). */
export function pickRelay(config: AppConfig): string {
  const index = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  return (config.providers[index % config.providers.length] ?? config.providers[0])?.gatekeeperUrl ?? "";
}
