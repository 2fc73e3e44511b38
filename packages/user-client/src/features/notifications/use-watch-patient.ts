/**
 * Runs watchPatient while the wallet is unlocked: chain events (new record roots, grants) and the
 * gatekeepers' audit logs (first use of a grant), each in words in the notification list; new
 * records also refresh the records the other screens show. The list is read back after an unlock.
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
  openNotifications,
  setWatching,
  toAppNotification,
} from "./store.ts";

export function useWatchPatient(): void {
  const wallet = useUnlockedWallet();
  const patient = usePatient();
  const relationships = usePatientRelationships(patient.data);
  // The patient's names for the people they shared with, read when a notification is worded.
  const { contacts } = useContacts();
  const names = useRef(contacts);
  names.current = contacts;
  useEffect(() => {
    const p = patient.data;
    const list = relationships.data;
    if (!p || !list || list.length === 0) return;
    const stop = watchPatient({
      ctx: p.ctx,
      sessions: p.sessions,
      relationships: list,
      // The records screen's verified records are the baseline: no second read of every record.
      baselineOf: verifiedResourcesOf,
      pollingIntervalMs: 1_000,
      // A first use shows within seconds; each look is itself one entry in the patient's log.
      auditIntervalMs: 5_000,
      onReady: () => setWatching(true),
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
    return () => {
      stop();
      setWatching(false);
    };
  }, [patient.data, relationships.data]);
  // What was there before the last lock, read back (encrypted at rest); locked: out of memory again.
  useEffect(() => {
    const close = openNotifications(wallet.address, wallet.account);
    return () => {
      close();
      clearNotifications();
    };
  }, [wallet.address, wallet.account]);
}
