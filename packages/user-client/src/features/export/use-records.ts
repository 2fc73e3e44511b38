/** The verified records, loaded (or already loaded by another screen) through the shared store. */
import { usePatient, usePatientRelationships } from "../../lib/patient.tsx";
import { usePatientRecords } from "../../lib/patient-records.ts";

export function useVerifiedRecords() {
  const patient = usePatient();
  const relationships = usePatientRelationships(patient.data);
  const records = usePatientRecords(patient.data, relationships.data);
  return {
    records,
    error: patient.error ?? relationships.error,
    noProviders: relationships.data?.length === 0,
  };
}
