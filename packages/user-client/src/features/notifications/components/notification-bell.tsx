import "./notifications.css";
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router";
import { useNotifications } from "../store.ts";
import { useWatchPatient } from "../use-watch-patient.ts";

/**
 * The header's bell: the unread count, a link to the list, and a polite announcement of each new
 * notification for screen readers. Mounting it starts the watcher.
 */
export function NotificationBell() {
  useWatchPatient();
  const { unread, latest, watching } = useNotifications();
  const [announce, setAnnounce] = useState("");
  const seen = useRef("");
  // Only what arrives while watching is announced, not the list read back after an unlock.
  useEffect(() => {
    if (latest && latest.id !== seen.current) {
      seen.current = latest.id;
      setAnnounce(latest.title);
    }
  }, [latest]);
  const label = unread === 0 ? "Notifications, none unread" : `Notifications, ${unread} unread`;
  return (
    <>
      <Link
        to="/notifications"
        className="bell"
        aria-label={label}
        data-watching={watching ? "true" : "false"}
      >
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
          <path
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z"
            fill="currentColor"
          />
        </svg>
        {unread > 0 ? (
          <span className="bell-count" aria-hidden="true">
            {unread > 99 ? "99+" : unread}
          </span>
        ) : null}
      </Link>
      <span className="visually-hidden" role="status" aria-live="polite">
        {announce}
      </span>
    </>
  );
}
