import type { ScopeCode } from "@medrec/protocol";
import {
  formatTimeLeft,
  SHAREABLE_CATEGORIES,
  type SharedGrant,
  shortAddress,
  toTimelineItem,
} from "@medrec/protocol/patient";
import { useState } from "react";
import { Link } from "react-router";
import { Button } from "../../../components/button.tsx";
import { ErrorView } from "../../../components/error-view.tsx";
import { Page } from "../../../components/page.tsx";
import { CATEGORY_LABELS, categoryList, formatDate } from "../../../lib/categories.ts";
import { useSharedRecords, useSharedWithMe, useViewer } from "../api/shared.ts";
import "../shared-with-me.css";

/** Records shown before "Show all". */
const FIRST = 10;

function whoShared(grant: SharedGrant): string {
  return grant.from ?? (grant.patient ? `Someone with ID ${shortAddress(grant.patient)}` : "Someone");
}

function Records({ viewer, grant }: { viewer: ReturnType<typeof useViewer>; grant: SharedGrant }) {
  const records = useSharedRecords(viewer, grant);
  const [all, setAll] = useState(false);
  if (records.isPending)
    return <p role="status">Reading the records and checking them against the network…</p>;
  if (records.isError) return <ErrorView error={records.error} onRetry={() => records.refetch()} />;
  const r = records.data;
  if (r.status === "refused")
    return (
      <p className="shared-ended" role="status">
        <strong>No longer shared.</strong> {grant.provider?.name ?? "The provider"} refused: the sharing has
        just ended. Refresh this page to see the current state.
      </p>
    );
  if (r.status === "unreachable")
    return (
      <p role="status">
        {grant.provider?.name ?? "The provider"} could not be reached. Try again in a few minutes.{" "}
        <Button variant="link" onClick={() => records.refetch()}>
          Try again
        </Button>
      </p>
    );
  if (r.status === "unavailable")
    return <p role="status">None of the network's providers holds these records any more.</p>;
  const items = r.resources
    .map((resource) =>
      toTimelineItem(resource, { provider: grant.provider?.name ?? "", relationship: grant.relationship }),
    )
    .sort((a, b) => (b.date ?? "").localeCompare(a.date ?? ""));
  return (
    <div className="stack">
      <p className={r.status === "verified" ? "success-text" : "shared-warning"} role="status">
        {r.status === "verified"
          ? `✓ ${items.length} ${items.length === 1 ? "record" : "records"}, each checked against the network.`
          : `${r.failures.length} records did not match what the provider published on the network and are not shown.`}
      </p>
      {items.length === 0 ? (
        <p>There are no records of these kinds yet.</p>
      ) : (
        <ul className="shared-records">
          {(all ? items : items.slice(0, FIRST)).map((item) => (
            <li key={item.key}>
              <span className="shared-record-title">{item.title}</span>
              {item.value ? <span className="shared-record-value">{item.value.text}</span> : null}
              <span className="muted">
                {CATEGORY_LABELS[item.category]?.name}
                {item.date ? ` · ${formatDate(new Date(item.date))}` : ""}
              </span>
            </li>
          ))}
        </ul>
      )}
      {items.length > FIRST ? (
        <div className="actions">
          <Button variant="secondary" aria-expanded={all} onClick={() => setAll(!all)}>
            {all ? `Show the latest ${FIRST} only` : `Show all ${items.length} records`}
          </Button>
        </div>
      ) : null}
    </div>
  );
}

function GrantCard({ viewer, grant }: { viewer: ReturnType<typeof useViewer>; grant: SharedGrant }) {
  const who = whoShared(grant);
  const where = grant.provider?.name ?? "a provider";
  const notShared = SHAREABLE_CATEGORIES.filter((c) => !grant.categories.includes(c as ScopeCode));
  return (
    <article className="card shared-card" aria-labelledby={`grant-${grant.relationship}`}>
      <h2 className="card-title" id={`grant-${grant.relationship}`}>
        {who} — {where}
      </h2>
      {grant.status === "active" ? (
        <div className="stack">
          <p>
            Shared with you: <strong>{categoryList(grant.categories)}</strong>
            {grant.sensitive ? ", including sensitive records" : ""}.{" "}
            {grant.expiresAt
              ? `Until ${formatDate(grant.expiresAt, grant.secondsLeft < 172_800)} (${formatTimeLeft(grant.secondsLeft)} left).`
              : ""}
          </p>
          {notShared.length ? (
            <p className="muted">
              Not shared with you: {categoryList(notShared)}
              {grant.sensitive ? "" : ", and sensitive records"}. {where} refuses them; ask{" "}
              {grant.from ?? "them"} if you need more.
            </p>
          ) : null}
          <Records viewer={viewer} grant={grant} />
        </div>
      ) : (
        <p className="shared-ended">
          <strong>No longer shared.</strong>{" "}
          {grant.status === "revoked"
            ? `${who} stopped sharing ${categoryList(grant.categories)} with you.`
            : `The sharing of ${categoryList(grant.categories)} ended${grant.expiresAt ? ` on ${formatDate(grant.expiresAt)}` : ""}.`}{" "}
          Ask {grant.from ?? "them"} to share again if you still need it.
        </p>
      )}
    </article>
  );
}

export function SharedWithMeScreen() {
  const viewer = useViewer();
  const shared = useSharedWithMe(viewer);
  return (
    <Page
      title="Shared with me"
      lead="Records other people chose to share with you, checked against the network."
    >
      {shared.isError ? <ErrorView error={shared.error} onRetry={() => shared.refetch()} /> : null}
      {shared.isPending ? (
        <p role="status">Looking on the network for records shared with you…</p>
      ) : shared.data?.length === 0 ? (
        <div className="card stack">
          <p role="status">Nobody has shared records with you yet.</p>
          <p>
            To receive someone's records, give them your MedRec ID.{" "}
            <Link to="/account">Show my MedRec ID</Link>
          </p>
        </div>
      ) : (
        <>
          <div className="actions">
            <Button variant="secondary" busy={shared.isFetching} onClick={() => shared.refetch()}>
              Refresh
            </Button>
          </div>
          {shared.data?.map((grant) => (
            <GrantCard key={grant.relationship} viewer={viewer} grant={grant} />
          ))}
        </>
      )}
    </Page>
  );
}
