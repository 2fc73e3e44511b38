/**
 * Runs watchPatient while the wallet is unlocked: chain events (new record roots, grants) and the
 * gatekeepers' audit logs (first use of a grant), each in words in the notification list; new
 * records also refresh the records the other screens show. The list is read back after an unlock,
 * and what happened meanwhile (first uses, ends of shares) is asked for from the last watch on.
 */
import { watchPatient } from "@medrec/protocol/patient";
import { useEffect, useRef } from "react";
import { contactName, useContacts } from "../../lib/contacts.ts";
import { usePatient, usePatientRelationships } from "../../lib/patient.tsx";
import { reloadProvider, verifiedResourcesOf } from "../../lib/patient-records.ts";
import { useUnlockedWallet } from "../../lib/wallet.ts";
import {
  addNotification,
  clearNotifications,
  markWatched,
  openNotifications,
  setWatching,
  toAppNotification,
  useNotifications,
  watchedUntil,
} from "./store.ts";

/** How far before the last watch to look again (what it may not have read yet; repeats are dropped). */
const OVERLAP_MS = 60_000;
/** How often the watch is marked as running (saved): a closed tab loses at most this much. */
const MARK_MS = 30_000;

export function useWatchPatient(): void {
  const wallet = useUnlockedWallet();
  const patient = usePatient();
  const relationships = usePatientRelationships(patient.data);
  // The patient's names for the people they shared with, read when a notification is worded.
  const { contacts } = useContacts();
  const names = useRef(contacts);
  names.current = contacts;
  // The watcher starts once the saved list is back: it asks for what happened since the last watch.
  const { restored } = useNotifications();
  useEffect(() => {
    const p = patient.data;
    const list = relationships.data;
    if (!p || !list || list.length === 0 || !restored) return;
    const last = watchedUntil();
    const stop = watchPatient({
      ctx: p.ctx,
      sessions: p.sessions,
      relationships: list,
      // The records screen's verified records are the baseline: no second read of every record.
      baselineOf: verifiedResourcesOf,
      pollingIntervalMs: 1_000,
      // A first use shows within seconds; each look is itself one entry in the patient's log.
      auditIntervalMs: 5_000,
      ...(last ? { since: new Date(last.getTime() - OVERLAP_MS) } : {}),
      onReady: () => {
        setWatching(true);
        markWatched();
      },
      onNotification: (n) => {
        if (n.type === "error") {
          setWatching(true, "Some updates could not be checked just now; MedRec keeps trying.");
          return;
        }
        setWatching(true);
        if (n.type === "new-records") {
          const r = list.find((x) => x.id.toLowerCase() === n.relationship.toLowerCase());
          if (r) void reloadProvider(p, r);
        }
        const words = toAppNotification(n, (address) => contactName(names.current, address));
        if (words) addNotification(words);
      },
    });
    const marking = setInterval(markWatched, MARK_MS);
    return () => {
      clearInterval(marking);
      markWatched();
      stop();
      setWatching(false);
    };
  }, [patient.data, relationships.data, restored]);
  // What was there before the last lock, read back (encrypted at rest); locked: out of memory again.
  useEffect(() => {
    const close = openNotifications(wallet.address, wallet.account);
    return () => {
      close();
      clearNotifications();
    };
  }, [wallet.address, wallet.account]);
}
