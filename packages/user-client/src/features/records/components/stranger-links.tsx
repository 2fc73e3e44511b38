import type { PatientRelationship } from "@medrec/protocol/patient";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId } from "react";
import { plural } from "../../../lib/record-words.ts";
import { loadStrangersHidden, saveStrangersHidden } from "../../../lib/strangers.ts";
import { useUnlockedWallet } from "../../../lib/wallet.ts";

/** Why a link is not from a registered provider, in words a patient reads (never the claimed name of an unknown sender). */
function reasonOf(r: PatientRelationship, providers: readonly { name: string; account: string }[]): string {
  const claims = r.claims ?? r.details?.account;
  const named = claims
    ? providers.find((p) => p.account.toLowerCase() === claims.toLowerCase())?.name
    : undefined;
  switch (r.status) {
    case "unsigned":
      return `Claims to be ${named ?? "a provider"}, but ${named ?? "that provider"} did not sign it`;
    case "mismatch":
      return `Claims to be ${named ?? "a provider"}, but points to another website than ${named ?? "that provider"}'s`;
    case "unchecked":
      return `Claims to be ${named ?? "a provider"}: being checked`;
    case "unknown-provider":
      return "Names a provider that is not on the MedRec network";
    default:
      return "Cannot be read with your key";
  }
}

/**
 * Links on the patient's wallet that no registered provider made (adr/0015): anyone can add one,
 * and it gives them nothing. Counted by reason, never named as a provider; the patient may hide
 * them (the choice is kept encrypted on this device).
 */
export function StrangerLinks({
  links,
  providers,
}: {
  links: readonly PatientRelationship[];
  providers: readonly { name: string; account: string }[];
}) {
  const wallet = useUnlockedWallet();
  const queryClient = useQueryClient();
  const titleId = useId();
  const key = ["strangers-hidden", wallet.address] as const;
  const hidden = useQuery({
    queryKey: key,
    staleTime: Number.POSITIVE_INFINITY,
    queryFn: () => loadStrangersHidden(wallet.address, wallet.account),
  });
  const setHidden = useMutation({
    mutationFn: async (next: boolean) => {
      await saveStrangersHidden(wallet.address, wallet.account, next);
      return next;
    },
    onSuccess: (next) => queryClient.setQueryData(key, next),
  });
  if (links.length === 0 || hidden.isPending) return null;
  const count = plural(links.length, "link");
  if (hidden.data)
    return (
      <p className="muted">
        {count} not from a registered provider {links.length === 1 ? "is" : "are"} hidden.{" "}
        <button type="button" className="btn btn-link" onClick={() => setHidden.mutate(false)}>
          Show them
        </button>
      </p>
    );
  const reasons = new Map<string, number>();
  for (const r of links) {
    const reason = reasonOf(r, providers);
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  return (
    <section aria-labelledby={titleId} className="records-section card stack">
      <h2 id={titleId} className="section-title">
        Not from a registered provider
      </h2>
      <p>
        {count} to your wallet {links.length === 1 ? "was" : "were"} not made by a provider registered on the
        MedRec network. Anyone can add such a link; it gives them nothing. They cannot see your records, and
        nothing from them is shown in your records, shared or exported.
      </p>
      <ul>
        {[...reasons].map(([reason, n]) => (
          <li key={reason}>
            {reason}
            {n > 1 ? ` (${n.toLocaleString()})` : ""}
          </li>
        ))}
      </ul>
      <div>
        <button type="button" className="btn btn-secondary" onClick={() => setHidden.mutate(true)}>
          Hide these links
        </button>
      </div>
    </section>
  );
}
