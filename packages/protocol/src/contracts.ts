import { type Address, type Client, type GetContractReturnType, getContract } from "viem";
import { agentAbi, agentRegistryAbi, relationshipAbi } from "./generated/abis.ts";
import { toChecksumAddress } from "./keys.ts";

export {
  agentAbi,
  agentBytecode,
  agentRegistryAbi,
  agentRegistryBytecode,
  relationshipAbi,
  relationshipBytecode,
} from "./generated/abis.ts";

/** A viem client, or a public/wallet pair (as viem's `getContract` takes). */
export type MedRecClient = Client | { public: Client; wallet?: Client } | { public?: Client; wallet: Client };

/** Deployed addresses, keyed as in the network manifest's `contracts`. */
export type MedRecContractAddresses = {
  AgentRegistry: Address;
  Agent: Address;
  Relationship: Address;
};

/** Typed `AgentRegistry` contract instance. */
export type AgentRegistryContract<client extends MedRecClient = MedRecClient> = GetContractReturnType<
  typeof agentRegistryAbi,
  client
>;
/** Typed `Agent` contract instance. */
export type AgentContract<client extends MedRecClient = MedRecClient> = GetContractReturnType<
  typeof agentAbi,
  client
>;
/** Typed `Relationship` contract instance. */
export type RelationshipContract<client extends MedRecClient = MedRecClient> = GetContractReturnType<
  typeof relationshipAbi,
  client
>;

/** The three MedRec contracts, typed from their `as const` ABIs. */
export type MedRecContracts<client extends MedRecClient = MedRecClient> = {
  agentRegistry: AgentRegistryContract<client>;
  agent: AgentContract<client>;
  relationship: RelationshipContract<client>;
};

/** The `AgentRegistry` at `address`. */
export function getAgentRegistryContract<const client extends MedRecClient>({
  client,
  address,
}: {
  client: client;
  address: string;
}): AgentRegistryContract<client> {
  return getContract({
    abi: agentRegistryAbi,
    address: toChecksumAddress(address),
    client,
  }) as AgentRegistryContract<client>;
}

/** The `Agent` contract at `address`. */
export function getAgentContract<const client extends MedRecClient>({
  client,
  address,
}: {
  client: client;
  address: string;
}): AgentContract<client> {
  return getContract({ abi: agentAbi, address: toChecksumAddress(address), client }) as AgentContract<client>;
}

/** The `Relationship` contract at `address`. */
export function getRelationshipContract<const client extends MedRecClient>({
  client,
  address,
}: {
  client: client;
  address: string;
}): RelationshipContract<client> {
  return getContract({
    abi: relationshipAbi,
    address: toChecksumAddress(address),
    client,
  }) as RelationshipContract<client>;
}

/**
 * viem contract instances of `AgentRegistry`, `Agent` and `Relationship`.
 *
 * @throws {InvalidAddressError} if an address is malformed.
 * @example
 * const { relationship } = getMedRecContracts({ client: publicClient, addresses: manifest.contracts })
 * const scopes = await relationship.read.activeScopes([id, viewer])
 */
export function getMedRecContracts<const client extends MedRecClient>({
  client,
  addresses,
}: {
  client: client;
  addresses: MedRecContractAddresses;
}): MedRecContracts<client> {
  return {
    agentRegistry: getAgentRegistryContract({ client, address: addresses.AgentRegistry }),
    agent: getAgentContract({ client, address: addresses.Agent }),
    relationship: getRelationshipContract({ client, address: addresses.Relationship }),
  };
}
