/**
 * The merged access log of every provider, newest first, one page per provider at a time; each
 * page verified against the heads anchored on chain (adr/0014). Older pages load on demand.
 */

import type { PatientRelationship } from "@medrec/protocol/patient";
import { type AccessLog, loadAccessLog, loadOlderAccessLog } from "@medrec/protocol/patient";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type Contact, contactsRecord } from "../../../lib/contacts.ts";
import type { Patient } from "../../../lib/patient.tsx";

const accessLogKey = (patient: Patient | undefined, contacts: readonly Contact[]) => [
  "patient",
  patient?.ctx.account.address ?? "0x",
  "access-log",
  contacts.length,
];

export function useAccessLog(
  patient: Patient | undefined,
  relationships: PatientRelationship[] | undefined,
  contacts: readonly Contact[],
) {
  return useQuery({
    queryKey: accessLogKey(patient, contacts),
    enabled: patient !== undefined && relationships !== undefined,
    queryFn: (): Promise<AccessLog> =>
      loadAccessLog({
        ctx: (patient as Patient).ctx,
        sessions: (patient as Patient).sessions,
        relationships: relationships ?? [],
        contacts: contactsRecord(contacts),
      }),
  });
}

/** Loads the next (older) page of every provider's log that has one into the access log's query. */
export function useOlderAccessLog(patient: Patient | undefined, contacts: readonly Contact[]) {
  const queryClient = useQueryClient();
  const key = accessLogKey(patient, contacts);
  return useMutation({
    mutationFn: async (log: AccessLog): Promise<AccessLog> =>
      loadOlderAccessLog({
        ctx: (patient as Patient).ctx,
        sessions: (patient as Patient).sessions,
        log,
        contacts: contactsRecord(contacts),
      }),
    onSuccess: (log) => queryClient.setQueryData(key, log),
  });
}
