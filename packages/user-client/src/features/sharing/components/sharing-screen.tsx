import { ErrorView } from "../../../components/error-view.tsx";
import { Card, Page } from "../../../components/page.tsx";
import { usePatient, usePatientRelationships } from "../../../lib/patient.tsx";
import "../sharing.css";
import { GrantList } from "./grant-list.tsx";
import { ShareForm } from "./share-form.tsx";

export function SharingScreen() {
  const patient = usePatient();
  const relationships = usePatientRelationships(patient.data);
  const error = patient.error ?? relationships.error;
  const ctx = patient.data?.ctx;
  return (
    <Page title="Sharing" lead="Who besides you may read your records, which kinds, and until when.">
      {error ? (
        <ErrorView
          error={error}
          onRetry={() => {
            patient.refetch();
            relationships.refetch();
          }}
        />
      ) : null}
      {!ctx || !relationships.data ? (
        error ? null : (
          <p role="status">Looking up your providers on the network…</p>
        )
      ) : (
        <>
          <Card title="Shared now">
            <GrantList ctx={ctx} relationships={relationships.data} />
          </Card>
          <Card title="Share records">
            <ShareForm ctx={ctx} relationships={relationships.data} />
          </Card>
        </>
      )}
    </Page>
  );
}
