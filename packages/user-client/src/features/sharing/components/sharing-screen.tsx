import { Card, Page } from "../../../components/page.tsx";
import { useRelationshipIds } from "../../../lib/relationships.ts";
import { useUnlockedWallet } from "../../../lib/wallet.ts";

export function SharingScreen() {
  const wallet = useUnlockedWallet();
  const relationships = useRelationshipIds(wallet.address);
  const count = relationships.data?.length ?? 0;
  return (
    <Page title="Sharing" lead="Who besides you may read your records, which kinds, and until when.">
      <Card title="How sharing works">
        <ul className="benefits">
          <li>
            You choose a person (their MedRec ID), the kinds of records — for example labs or medications —
            and an end date.
          </li>
          <li>
            Each provider learns of it from the network within seconds, and serves that person only what you
            chose.
          </li>
          <li>You can stop sharing at any time; it takes effect within a few seconds everywhere.</li>
        </ul>
      </Card>
      <Card title="Your providers">
        <p role="status">
          {relationships.isPending
            ? "Looking up your providers…"
            : count === 0
              ? "You can share once a provider has linked your records."
              : `You can share records from ${count === 1 ? "one provider" : `${count} providers`}.`}
        </p>
      </Card>
    </Page>
  );
}
