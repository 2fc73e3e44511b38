import { useState } from "react";
import { Link } from "react-router";
import { Page } from "../../../components/page.tsx";
import { type AppNotification, markAllRead, markRead, useNotifications } from "../store.ts";

const TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

const LINKS: Record<AppNotification["kind"], { to: string; label: string } | undefined> = {
  "new-records": { to: "/records", label: "See your records" },
  "grant-first-use": { to: "/access-log", label: "See the access log" },
  "grant-expired": { to: "/sharing", label: "See sharing" },
  problem: undefined,
};

function BrowserAlerts() {
  const supported = typeof Notification !== "undefined";
  const [permission, setPermission] = useState(supported ? Notification.permission : "denied");
  if (!supported) return null;
  if (permission === "granted")
    return (
      <p className="muted">
        This browser also shows an alert when something new arrives while MedRec is in the background.
      </p>
    );
  if (permission === "denied")
    return (
      <p className="muted">
        Alerts from this browser are turned off. To get them, allow notifications for this site in the
        browser's settings.
      </p>
    );
  return (
    <div className="card stack">
      <p>Get an alert from this browser when something new arrives while MedRec is in the background.</p>
      <div>
        <button
          type="button"
          className="btn btn-secondary"
          onClick={() => void Notification.requestPermission().then(setPermission)}
        >
          Turn on browser alerts
        </button>
      </div>
    </div>
  );
}

export function NotificationsScreen() {
  const { items, unread, watching, problem } = useNotifications();
  return (
    <Page
      title="Notifications"
      lead="New records from your providers and what happens with what you share, as it happens."
    >
      <p className="muted" role="status">
        {watching ? "MedRec is watching for changes." : "Connecting to the network to watch for changes…"}
        {problem ? ` ${problem}` : ""}
      </p>
      <BrowserAlerts />
      {items.length === 0 ? (
        <p className="empty">
          Nothing new yet. When a provider adds records or someone uses what you shared, it shows here.
        </p>
      ) : (
        <>
          <div className="notif-actions">
            <p className="muted">{unread === 0 ? "All read." : `${unread} unread.`}</p>
            {unread > 0 ? (
              <button type="button" className="btn btn-secondary" onClick={markAllRead}>
                Mark all as read
              </button>
            ) : null}
          </div>
          <ol className="notifs" aria-label="Notifications, newest first">
            {items.map((n) => {
              const link = LINKS[n.kind];
              return (
                <li key={n.id} className={n.read ? "notif" : "notif notif-unread"}>
                  <div className="notif-text">
                    <strong>
                      {n.read ? null : <span className="visually-hidden">Unread: </span>}
                      {n.title}
                    </strong>
                    <p>{n.detail}</p>
                    <p className="muted">
                      <time dateTime={n.at.toISOString()}>{TIME.format(n.at)}</time>
                      {link ? (
                        <>
                          {" · "}
                          <Link to={link.to} onClick={() => markRead(n.id)}>
                            {link.label}
                          </Link>
                        </>
                      ) : null}
                    </p>
                  </div>
                  {n.read ? null : (
                    <button
                      type="button"
                      className="btn btn-link"
                      aria-label={`Mark as read: ${n.title}`}
                      onClick={() => markRead(n.id)}
                    >
                      Mark as read
                    </button>
                  )}
                </li>
              );
            })}
          </ol>
        </>
      )}
    </Page>
  );
}
