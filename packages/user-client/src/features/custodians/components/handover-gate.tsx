import { shortAddress } from "@medrec/protocol/patient";
import type { ReactNode } from "react";
import { Link, useLocation } from "react-router";
import { Banner } from "../../../components/banner.tsx";
import { Card, Page } from "../../../components/page.tsx";
import { useAccountStanding } from "../../../lib/agent.ts";
import { formatDate } from "../../../lib/categories.ts";
import { contactName, useContacts } from "../../../lib/contacts.ts";
import { usePatient } from "../../../lib/patient.tsx";
import { useUnlockedWallet } from "../../../lib/wallet.ts";
import { useRecoveryState } from "../api/recovery.ts";
import { pendingTitle, useName } from "./names.ts";

/**
 * On every screen but Custodians (which shows it in full, with Cancel): a recovery the custodians
 * scheduled, in one sentence and a link — the patient has only the waiting period to stop it.
 */
function PendingRecoveryAlert() {
  const patient = usePatient();
  const state = useRecoveryState(patient.data?.ctx);
  const name = useName();
  const { pathname } = useLocation();
  const pending = state.data?.pending;
  if (!pending || pathname.startsWith("/custodians")) return null;
  return (
    <Banner
      tone="alert"
      title={pendingTitle(pending, name)}
      action={
        <Link className="btn btn-secondary" to="/custodians">
          See and cancel
        </Link>
      }
    >
      If you did not lose your 12 words, cancel it on the Custodians page.
    </Banner>
  );
}

/** How often an open wallet checks that its records are still its own. */
const CHECK_MS = 10_000;

/**
 * Every screen of an unlocked wallet — under an alert while a recovery is pending — unless its
 * records were handed to another wallet (a custodians' recovery, or a transfer): then, instead of
 * screens that can no longer load, one page that says so plainly and how to open the records now.
 */
export function HandoverGate({ children }: { children: ReactNode }) {
  const wallet = useUnlockedWallet();
  const standing = useAccountStanding(wallet.address, CHECK_MS);
  const { contacts } = useContacts();
  const s = standing.data;
  if (s?.status !== "handed-over")
    return (
      <>
        {s?.status === "owner" ? <PendingRecoveryAlert /> : null}
        {children}
      </>
    );
  const who = contactName(contacts, s.newOwner) ?? `the wallet with ID ${shortAddress(s.newOwner)}`;
  return (
    <Page
      title="This wallet no longer opens your records"
      lead={`On ${formatDate(s.at, true)}, your records were handed over to another wallet: ${who}.`}
    >
      <Card title="What happened">
        <p>
          {s.byRecovery
            ? "Your custodians agreed that you had lost your 12 words and chose a new wallet for you. The waiting period passed without anyone cancelling, so the move was completed."
            : "The move was made from this wallet."}{" "}
          Everything now belongs to the new wallet: your records from every provider, what you share, and your
          custodians. Nothing was deleted.
        </p>
        <p>
          To open your records on this device, use the new wallet's 12 words. If you did not expect this,
          contact your custodians and your providers.
        </p>
        <div className="actions">
          <Link className="btn btn-primary" to="/restore">
            Open with the new wallet's words
          </Link>
        </div>
      </Card>
    </Page>
  );
}
