/** The `Agent` contract's logs about one agent: the filter both sharing and custodians read with. */
import type { Address } from "viem";
import { agentAbi } from "../generated/abis.ts";
import type { PatientNetwork } from "./network.ts";

/** For `getContractEvents` (add `eventName`): every log of `agent` since the contracts' deployment. */
export function agentLogs(network: Pick<PatientNetwork, "contracts" | "fromBlock">, agent: Address) {
  return {
    address: network.contracts.Agent,
    abi: agentAbi,
    args: { agent },
    fromBlock: network.fromBlock ?? 0n,
    toBlock: "latest",
    strict: true,
  } as const;
}
