/** The patient's relationships (one per provider that linked them), as the `Agent` contract lists them. */
import { agentAbi } from "@medrec/protocol";
import { useQuery } from "@tanstack/react-query";
import { useNetwork } from "./network.tsx";

export function useRelationshipIds(address: `0x${string}`) {
  const { config, client } = useNetwork();
  return useQuery({
    queryKey: ["agent", "relationships", address],
    queryFn: async () => {
      const exists = await client.readContract({
        address: config.contracts.Agent,
        abi: agentAbi,
        functionName: "exists",
        args: [address],
      });
      if (!exists) return [] as readonly `0x${string}`[];
      return client.readContract({
        address: config.contracts.Agent,
        abi: agentAbi,
        functionName: "relationshipsOf",
        args: [address],
      });
    },
  });
}
