import { Link } from "react-router";
import { Button } from "../../../components/button.tsx";
import { Card, Page } from "../../../components/page.tsx";
import { useAccountStanding } from "../../../lib/agent.ts";
import { useNetwork } from "../../../lib/network.tsx";
import { lock, useUnlockedWallet } from "../../../lib/wallet.ts";
import { AddressCard } from "./address-card.tsx";
import { ForgetDialog } from "./forget-dialog.tsx";

export function AccountScreen() {
  const wallet = useUnlockedWallet();
  const standing = useAccountStanding(wallet.address);
  const { config } = useNetwork();
  return (
    <Page title="Account" lead="Your MedRec ID, your backup, and this device.">
      <Card title="Your MedRec ID">
        <AddressCard address={wallet.address} />
      </Card>
      <Card title="On the network">
        <p role="status">
          {standing.isPending
            ? "Checking…"
            : standing.data?.status === "owner"
              ? `Your wallet is registered. ${config.providers.length} providers are on this network: ${config.providers
                  .map((p) => p.name)
                  .join(", ")}.`
              : standing.isError
                ? "The network did not answer; this page will try again."
                : standing.data?.status === "handed-over"
                  ? "Your records were moved to another wallet: this one no longer opens them."
                  : "Your wallet is not registered yet."}
        </p>
      </Card>
      <Card title="Recovery words">
        {wallet.backedUp ? (
          <p>
            You checked your backup of the 12 words. Keep the paper safe; MedRec cannot show it again for you.
          </p>
        ) : (
          <div className="stack">
            <p>You have not checked your backup yet.</p>
            <Link className="btn btn-primary" to="/account/backup">
              Back up now
            </Link>
          </div>
        )}
      </Card>
      <Card title="This device">
        <p>
          MedRec locks itself after 15 minutes without activity. Your words are stored here only encrypted.
        </p>
        <div className="actions">
          <Button variant="secondary" onClick={() => lock("manual")}>
            Lock now
          </Button>
          <ForgetDialog backedUp={wallet.backedUp} />
        </div>
      </Card>
    </Page>
  );
}
