import assert from "node:assert/strict";
import type { HardhatViemHelpers } from "@nomicfoundation/hardhat-viem/types";
import { type Address, getAddress } from "viem";
import { deployForwarder, type Mode, via } from "./via.ts";

type WalletClients = Awaited<ReturnType<HardhatViemHelpers["getWalletClients"]>>;

/** The simulated chain's i-th funded wallet, failing the test clearly if it is missing. */
export function walletAt(wallets: WalletClients, i: number): WalletClients[number] {
  const w = wallets[i];
  assert.ok(w, `wallet ${i}`);
  return w;
}

/** A wallet's address, EIP-55 checksummed (as contracts' events and views return it). */
export const addressOf = (w: { account: { address: Address } }): Address => getAddress(w.account.address);

/**
 * Deploys the MedRecForwarder and `Agent` trusting it (which deploys its bound `Relationship`);
 * in `relayed` mode the returned contracts' writes go through the forwarder.
 */
export async function deployAgentPair(viem: HardhatViemHelpers, mode: Mode = "direct") {
  const forwarder = await deployForwarder(viem);
  const agent = await viem.deployContract("Agent", [forwarder.address]);
  const rel = await viem.getContractAt("Relationship", await agent.read.relationships());
  return {
    forwarder,
    agent: await via(mode, viem, forwarder, agent),
    rel: await via(mode, viem, forwarder, rel),
  };
}
