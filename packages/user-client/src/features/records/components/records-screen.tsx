import { Link } from "react-router";
import { ErrorView } from "../../../components/error-view.tsx";
import { Card, Page } from "../../../components/page.tsx";
import { useNetwork } from "../../../lib/network.tsx";
import { useRelationshipIds } from "../../../lib/relationships.ts";
import { useUnlockedWallet } from "../../../lib/wallet.ts";

export function RecordsScreen() {
  const wallet = useUnlockedWallet();
  const { config } = useNetwork();
  const relationships = useRelationshipIds(wallet.address);
  const count = relationships.data?.length ?? 0;
  return (
    <Page title="Records" lead="Your health records from every provider that linked you.">
      {relationships.isError ? (
        <ErrorView error={relationships.error} onRetry={() => relationships.refetch()} />
      ) : null}
      <Card title="Providers holding your records">
        {relationships.isPending ? (
          <p>Looking up your providers on the network…</p>
        ) : count === 0 ? (
          <div className="stack">
            <p>No provider has linked your records yet.</p>
            <p>
              At your next visit, show your MedRec ID at the front desk.{" "}
              <Link to="/account">Show my MedRec ID</Link>
            </p>
          </div>
        ) : (
          <p>
            {count === 1 ? "One provider has" : `${count} providers have`} linked your records to your wallet.
          </p>
        )}
      </Card>
      <Card title="Providers on this network">
        <ul className="plain-list">
          {config.providers.map((p) => (
            <li key={p.account}>{p.name}</li>
          ))}
        </ul>
      </Card>
    </Page>
  );
}
