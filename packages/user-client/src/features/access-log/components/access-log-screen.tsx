import { Card, Page } from "../../../components/page.tsx";
import { useRelationshipIds } from "../../../lib/relationships.ts";
import { useUnlockedWallet } from "../../../lib/wallet.ts";

export function AccessLogScreen() {
  const wallet = useUnlockedWallet();
  const relationships = useRelationshipIds(wallet.address);
  const count = relationships.data?.length ?? 0;
  return (
    <Page
      title="Access log"
      lead="Every time anyone opened or changed your records, and whether it was allowed."
    >
      <Card title="How the log is kept honest">
        <p>
          Each provider writes every access to your records in a log, and publishes a fingerprint of that log
          on the MedRec network at least once a minute. MedRec checks each entry it shows you against those
          fingerprints, so an entry that was removed or edited shows up as a warning.
        </p>
      </Card>
      <Card title="Your providers">
        <p role="status">
          {relationships.isPending
            ? "Looking up your providers…"
            : count === 0
              ? "No provider has linked your records yet, so there is nothing in your log."
              : `${count === 1 ? "One provider keeps" : `${count} providers keep`} a log of access to your records.`}
        </p>
      </Card>
    </Page>
  );
}
