/**
 * Vote planning — pure. The vote to cast is derived from state (desired: the registry's
 * `signers()`; actual: `clique_getSigners` and this node's `clique_proposals`), never replayed from
 * an event, so replaying logs or restarting never casts a second or a conflicting vote.
 */
import { type Address, getAddress } from "viem";
import { lowerSet } from "./shared.ts";

/** What this node's Clique vote about one address should be. */
export type PlannedVote =
  | { kind: "propose"; address: Address; authorize: boolean }
  | {
      kind: "discard";
      address: Address;
      /** `applied`: Clique already has the registry's answer; `conflicting`: the vote contradicts the registry. */
      reason: "applied" | "conflicting";
    };

/** Registry signers vs Clique signers. */
export type SignerDrift = {
  inSync: boolean;
  /** Registry signers Clique does not have yet. */
  missingFromClique: Address[];
  /** Clique signers the registry no longer (or never) listed. */
  notInRegistry: Address[];
};

/** The difference between the registry's signer set and Clique's. */
export function signerDrift(
  registrySigners: readonly string[],
  cliqueSigners: readonly string[],
): SignerDrift {
  const desired = lowerSet(registrySigners);
  const actual = lowerSet(cliqueSigners);
  const missingFromClique = [...desired].filter((a) => !actual.has(a)).map((a) => getAddress(a));
  const notInRegistry = [...actual].filter((a) => !desired.has(a)).map((a) => getAddress(a));
  return {
    inSync: missingFromClique.length === 0 && notInRegistry.length === 0,
    missingFromClique,
    notInRegistry,
  };
}

/**
 * The votes that move this node's Clique state toward the registry — pure and idempotent.
 *
 * For each address in `scope` (default: every address the three inputs mention):
 * - registry and Clique disagree → `propose(address, registry says member)`, unless exactly that
 *   vote is already in `proposals` (never cast twice; a conflicting pending vote is replaced);
 * - they agree but this node still has a pending vote about it → `discard` (Clique applied the
 *   change, so stop voting; or the vote contradicts the registry).
 */
export function planVotes({
  desired,
  actual,
  proposals,
  scope,
}: {
  /** Registry signers (the authority). */
  desired: readonly string[];
  /** `clique_getSigners` at the node's head. */
  actual: readonly string[];
  /** `clique_proposals` of this node: address → authorize. */
  proposals: Readonly<Record<string, boolean>>;
  /** Only these addresses (e.g. the subjects of new events). */
  scope?: readonly string[];
}): PlannedVote[] {
  const want = lowerSet(desired);
  const have = lowerSet(actual);
  const pending = new Map(Object.entries(proposals).map(([a, v]) => [a.toLowerCase(), v]));
  const addresses = scope ? lowerSet(scope) : new Set([...want, ...have, ...pending.keys()]);
  const votes: PlannedVote[] = [];
  for (const a of [...addresses].sort()) {
    const member = want.has(a);
    const vote = pending.get(a);
    if (member !== have.has(a)) {
      if (vote !== member) votes.push({ kind: "propose", address: getAddress(a), authorize: member });
    } else if (vote !== undefined) {
      votes.push({
        kind: "discard",
        address: getAddress(a),
        reason: vote === member ? "applied" : "conflicting",
      });
    }
  }
  return votes;
}
