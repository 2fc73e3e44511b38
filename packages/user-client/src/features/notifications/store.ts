/**
 * The patient's notifications: what watchPatient reported, in words, newest first, with read /
 * unread; browser notifications when the patient allowed them. Kept across Lock only encrypted
 * (lib/sealed-store.ts: `medrec-notifications`, AES-256-GCM under a key from the 12 words that
 * exists only while unlocked): after unlocking again the list, and what was read, are as they were.
 */
import { type PatientNotification, shortAddress } from "@medrec/protocol/patient";
import { useSyncExternalStore } from "react";
import type { Address } from "viem";
import type { HDAccount } from "viem/accounts";
import { z } from "zod";
import { sealedStore } from "../../lib/sealed-store.ts";

const KINDS = ["new-records", "grant-first-use", "grant-expired", "problem"] as const;

export type AppNotification = {
  id: string;
  at: Date;
  kind: (typeof KINDS)[number];
  title: string;
  detail: string;
  read: boolean;
  /** What it is about (a first use, an end, a publication): the same news is not listed twice. */
  key?: string;
};

type State = {
  items: AppNotification[];
  watching: boolean;
  problem: string | undefined;
  /** The last one that arrived while watching (not one read back from storage): what is announced. */
  latest: AppNotification | undefined;
  /** The saved list was read back (or there was none). */
  restored: boolean;
  /** Until when a watcher ran (saved with the list): what happened after it is asked for at unlock. */
  watchedAt: Date | undefined;
};

/** The most kept: the newest. */
const KEEP = 200;

const stored = sealedStore({
  dbName: "medrec-notifications",
  storeName: "notifications",
  info: "medrec/notifications/v1",
  what: "your notifications",
  schema: z.object({
    items: z.array(
      z.object({
        id: z.string().min(1).max(64),
        at: z.string(),
        kind: z.enum(KINDS),
        title: z.string().max(500),
        detail: z.string().max(1000),
        read: z.boolean(),
        key: z.string().max(200).optional(),
      }),
    ),
    watchedAt: z.string().optional(),
  }),
});

const EMPTY: State = {
  items: [],
  watching: false,
  problem: undefined,
  latest: undefined,
  restored: false,
  watchedAt: undefined,
};
let state: State = EMPTY;
const listeners = new Set<() => void>();
/** Saves the list for the unlocked wallet (set by {@link openNotifications}, dropped on lock). */
let persist: ((s: State) => void) | undefined;

function set(change: Partial<State>) {
  const before = state;
  state = { ...state, ...change };
  if (state.items !== before.items || state.watchedAt !== before.watchedAt) persist?.(state);
  for (const l of listeners) l();
}

/**
 * Reads back the wallet's saved notifications (merged with any that arrived meanwhile) and saves
 * every change from now on, one write after the other. Returns the function that stops saving.
 */
export function openNotifications(address: Address, account: HDAccount): () => void {
  let queue: Promise<unknown> = Promise.resolve();
  let open = true;
  const save = ({ items, watchedAt }: State) => {
    const value = {
      items: items.slice(0, KEEP).map((i) => ({ ...i, at: i.at.toISOString() })),
      ...(watchedAt ? { watchedAt: watchedAt.toISOString() } : {}),
    };
    queue = queue.then(() => stored.save(address, account, value)).catch(() => undefined);
  };
  queue = stored
    .load(address, account)
    .then((saved) => {
      if (!open) return;
      const here = new Set(state.items.map((i) => i.id));
      const back = (saved?.items ?? [])
        .filter((i) => !here.has(i.id))
        .map(({ key, ...i }) => ({ ...i, at: new Date(i.at), ...(key ? { key } : {}) }));
      persist = save;
      set({
        items: [...state.items, ...back].sort(newestFirst),
        restored: true,
        watchedAt: saved?.watchedAt ? new Date(saved.watchedAt) : undefined,
      });
    })
    .catch(() => undefined);
  return () => {
    open = false;
    if (persist === save) persist = undefined;
  };
}

const newestFirst = (a: AppNotification, b: AppNotification) => b.at.getTime() - a.at.getTime();

/** How a person the patient shared with is named: the contact name, else a short form of the ID. */
function personName(address: Address, nameOf: (address: string) => string | undefined): string {
  return nameOf(address) ?? `ID ${shortAddress(address)}`;
}

/** What a notification is before it is listed: `at`, when it happened, if not now. */
export type NewNotification = Omit<AppNotification, "id" | "at" | "read"> & { at?: Date };

/** A watcher's report in words for the patient (names, never addresses), dated when it happened. */
export function toAppNotification(
  n: PatientNotification,
  nameOf: (address: string) => string | undefined = () => undefined,
): NewNotification | undefined {
  switch (n.type) {
    case "new-records":
      if (n.added + n.changed + n.removed === 0) return undefined;
      return {
        key: `records:${n.relationship}:${n.sequence}`.toLowerCase(),
        kind: "new-records",
        title: n.message,
        detail: "They were checked against the network and are in your records now.",
      };
    case "grant-first-use":
      return {
        key: `use:${n.relationship}:${n.viewer}`.toLowerCase(),
        ...(Number.isNaN(Date.parse(n.at)) ? {} : { at: new Date(n.at) }),
        kind: "grant-first-use",
        title: `${personName(n.viewer, nameOf)} opened your records at ${n.provider}`,
        detail: "This is the first time they used that access. See the access log for who and when.",
      };
    case "grant-expired":
      return {
        key: `ended:${n.relationship}:${n.viewer}:${n.expiresAt.getTime()}`.toLowerCase(),
        at: n.expiresAt,
        kind: "grant-expired",
        title: `Sharing with ${personName(n.viewer, nameOf)} at ${n.provider} has ended`,
        detail:
          "Its time ran out, so that person can no longer see those records. Share again if they still need them.",
      };
    default:
      return undefined;
  }
}

export function addNotification(n: NewNotification): void {
  if (n.key && state.items.some((i) => i.key === n.key)) return;
  const item: AppNotification = { ...n, id: crypto.randomUUID(), at: n.at ?? new Date(), read: false };
  set({ items: [item, ...state.items].sort(newestFirst), latest: item });
  if (typeof Notification !== "undefined" && Notification.permission === "granted" && document.hidden) {
    try {
      new Notification(item.title, { body: item.detail, tag: `medrec-${item.id}` });
    } catch {
      // some browsers allow notifications only from a service worker: the bell still shows it
    }
  }
}

/** A watcher ran until now (saved with the list). */
export function markWatched(): void {
  set({ watchedAt: new Date() });
}

/** Until when a watcher last ran, as read back at unlock (or marked since). */
export function watchedUntil(): Date | undefined {
  return state.watchedAt;
}

export function setWatching(watching: boolean, problem?: string): void {
  if (state.watching !== watching || state.problem !== problem) set({ watching, problem });
}

export function markRead(id: string): void {
  set({ items: state.items.map((i) => (i.id === id ? { ...i, read: true } : i)) });
}

export function markAllRead(): void {
  set({ items: state.items.map((i) => (i.read ? i : { ...i, read: true })) });
}

/** Locked: the list leaves memory (what was saved stays, encrypted). */
export function clearNotifications(): void {
  persist = undefined;
  set(EMPTY);
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
