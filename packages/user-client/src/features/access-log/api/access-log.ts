/** The merged access log of every provider, each entry verified against the heads anchored on chain. */

import type { PatientRelationship } from "@medrec/protocol/patient";
import { type AccessLog, loadAccessLog } from "@medrec/protocol/patient";
import { useQuery } from "@tanstack/react-query";
import { type Contact, contactsRecord } from "../../../lib/contacts.ts";
import type { Patient } from "../../../lib/patient.tsx";

export function useAccessLog(
  patient: Patient | undefined,
  relationships: PatientRelationship[] | undefined,
  contacts: readonly Contact[],
) {
  return useQuery({
    queryKey: ["patient", patient?.ctx.account.address ?? "0x", "access-log", contacts.length],
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
