/**
 * What this gatekeeper's relay pays for: the one list of MedRec contract functions a forward
 * request may call. Everything a patient, a custodian, a viewer's grantor or a provider's
 * relationship delegate does on chain is here, so that none of them ever needs ether. Not here:
 * AgentRegistry (governance is signed by sealers over their own IPC, and sealers hold ether),
 * AuditAnchor (the log account is bound to its provider in public and paid by it: relaying it
 * would hide nothing), and every view function (nothing to pay for).
 */
import { agentAbi, BaseError, relationshipAbi } from "@medrec/protocol";
import { type Abi, type Address, type Hex, toFunctionSelector } from "viem";

export const RELAYED_FUNCTIONS = {
  Agent: [
    "register",
    "setEncryptionKey",
    "addCustodian",
    "removeCustodian",
    "setRecoveryThreshold",
    "transferOwnership",
    "approveRecovery",
    "cancelRecovery",
    "executeRecovery",
    "acknowledge",
  ],
  Relationship: ["create", "updateProviderDetails", "publishRoot", "grant", "revoke", "end"],
} as const;

export type RelayedContract = keyof typeof RELAYED_FUNCTIONS;

/** Thrown at load when a relayed function is not in its contract's ABI. */
export class RelayAllowlistError extends BaseError {
  override name = "RelayAllowlistError";
}

export const ABIS: Record<RelayedContract, Abi> = {
  Agent: agentAbi as Abi,
  Relationship: relationshipAbi as Abi,
};

/** selector → function name, per contract (from the ABIs: a renamed function fails here, at load). */
function selectorsOf(contract: RelayedContract): Map<Hex, string> {
  const out = new Map<Hex, string>();
  for (const name of RELAYED_FUNCTIONS[contract]) {
    const item = ABIS[contract].find((x) => x.type === "function" && x.name === name);
    if (item?.type !== "function") throw new RelayAllowlistError(`${contract}.${name} is not in the ABI`);
    out.set(toFunctionSelector(item), name);
  }
  return out;
}

const SELECTORS: Record<RelayedContract, Map<Hex, string>> = {
  Agent: selectorsOf("Agent"),
  Relationship: selectorsOf("Relationship"),
};

/** The relay's allowlist for this network's contracts. */
export function createAllowlist(contracts: Record<RelayedContract, Address>) {
  const byAddress = new Map<string, RelayedContract>(
    Object.entries(contracts).map(([name, address]) => [address.toLowerCase(), name as RelayedContract]),
  );
  return {
    /** The MedRec contract at `to`, if it is one the relay serves. */
    contractAt(to: Address): RelayedContract | undefined {
      return byAddress.get(to.toLowerCase());
    },
    /** The allowlisted function `data` calls on `contract`, if any. */
    functionOf(contract: RelayedContract, data: Hex): string | undefined {
      return data.length >= 10 ? SELECTORS[contract].get(data.slice(0, 10).toLowerCase() as Hex) : undefined;
    },
    /** "Agent.register, …" for problem details and the OpenAPI document. */
    describe(): string {
      return describeAllowlist();
    },
  };
}

export function describeAllowlist(): string {
  return Object.entries(RELAYED_FUNCTIONS)
    .flatMap(([contract, names]) => names.map((n) => `${contract}.${n}`))
    .join(", ");
}

export type Allowlist = ReturnType<typeof createAllowlist>;
