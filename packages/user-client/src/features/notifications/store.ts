/**
 * The patient's notifications, in memory for the unlocked session: what watchPatient reported, in
 * words, newest first, with read / unread. Browser notifications when the patient allowed them.
 */
import type { PatientNotification } from "@medrec/protocol/patient";
import { useSyncExternalStore } from "react";

export type AppNotification = {
  id: number;
  at: Date;
  kind: "new-records" | "grant-first-use" | "grant-expired" | "problem";
  title: string;
  detail: string;
  read: boolean;
};

type State = { items: AppNotification[]; watching: boolean; problem: string | undefined };

let state: State = { items: [], watching: false, problem: undefined };
let next = 1;
const listeners = new Set<() => void>();

function set(change: Partial<State>) {
  state = { ...state, ...change };
  for (const l of listeners) l();
}

/** A watcher's report in words for the patient (names, never addresses). */
export function toAppNotification(
  n: PatientNotification,
  nameOf: (address: string) => string | undefined = () => undefined,
): Omit<AppNotification, "id" | "at" | "read"> | undefined {
  switch (n.type) {
    case "new-records":
      if (n.added + n.changed + n.removed === 0) return undefined;
      return {
        kind: "new-records",
        title: n.message,
        detail: "They were checked against the network and are in your records now.",
      };
    case "grant-first-use":
      return {
        kind: "grant-first-use",
        title: `${nameOf(n.viewer) ?? "Someone you shared with"} opened your records at ${n.provider}`,
        detail: "This is the first time they used that access. See the access log for who and when.",
      };
    case "grant-expired":
      return {
        kind: "grant-expired",
        title: nameOf(n.viewer)
          ? `Sharing with ${nameOf(n.viewer)} at ${n.provider} has ended`
          : `A share at ${n.provider} has ended`,
        detail:
          "Its time ran out, so that person can no longer see those records. Share again if they still need them.",
      };
    default:
      return undefined;
  }
}

export function addNotification(n: Omit<AppNotification, "id" | "at" | "read">): void {
  const item: AppNotification = { ...n, id: next++, at: new Date(), read: false };
  set({ items: [item, ...state.items] });
  if (typeof Notification !== "undefined" && Notification.permission === "granted" && document.hidden) {
    try {
      new Notification(item.title, { body: item.detail, tag: `medrec-${item.id}` });
    } catch {
      // some browsers allow notifications only from a service worker: the bell still shows it
    }
  }
}

export function setWatching(watching: boolean, problem?: string): void {
  if (state.watching !== watching || state.problem !== problem) set({ watching, problem });
}

export function markRead(id: number): void {
  set({ items: state.items.map((i) => (i.id === id ? { ...i, read: true } : i)) });
}

export function markAllRead(): void {
  set({ items: state.items.map((i) => (i.read ? i : { ...i, read: true })) });
}

export function clearNotifications(): void {
  set({ items: [], watching: false, problem: undefined });
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useNotifications(): State & { unread: number } {
  const s = useSyncExternalStore(
    subscribe,
    () => state,
    () => state,
  );
  return { ...s, unread: s.items.filter((i) => !i.read).length };
}
