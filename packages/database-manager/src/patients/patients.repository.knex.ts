import type { Knex } from "knex";
import type { Address, Hex } from "viem";

/** A row of `patients` (migration 0001; delegate_index from a sequence, 0004). */
export type PatientRow = {
  id: number;
  mrn: string;
  patientAddress: Address;
  relationshipId: Hex | null;
  delegateIndex: number;
};

type Raw = {
  id: string | number;
  mrn: string;
  patient_address: string;
  relationship_id: string | null;
  delegate_index: number;
};
const toRow = (r: Raw): PatientRow => ({
  id: Number(r.id),
  mrn: r.mrn,
  patientAddress: r.patient_address as Address,
  relationshipId: (r.relationship_id as Hex | null) ?? null,
  delegateIndex: r.delegate_index,
});
const COLUMNS = ["id", "mrn", "patient_address", "relationship_id", "delegate_index"];

/** MRN → local patient id: what the records part needs of the patients table. */
export type PatientsLookup = { idByMrn(mrn: string): Promise<number | undefined> };

/**
 * The `patients` table — the only code that touches it. Addresses are stored EIP-55 checksummed;
 * delegate indexes come only from the `patient_delegate_index_seq` sequence (column default), so
 * no two writers can ever pick the same one.
 */
export function patientsRepository(db: Knex) {
  return {
    async idByMrn(mrn: string, trx: Knex = db): Promise<number | undefined> {
      const row = (await trx("patients").where({ mrn }).first("id")) as { id: string | number } | undefined;
      return row ? Number(row.id) : undefined;
    },
    async byMrn(mrn: string, trx: Knex = db): Promise<PatientRow | undefined> {
      const row = (await trx("patients").select(COLUMNS).where({ mrn }).first()) as Raw | undefined;
      return row ? toRow(row) : undefined;
    },
    async byId(id: number, trx: Knex = db): Promise<PatientRow | undefined> {
      const row = (await trx("patients").select(COLUMNS).where({ id }).first()) as Raw | undefined;
      return row ? toRow(row) : undefined;
    },
    /** Rows with this MRN or this address (at most two). */
    async byMrnOrAddress(mrn: string, address: Address, trx: Knex = db): Promise<PatientRow[]> {
      const rows: Raw[] = await trx("patients")
        .select(COLUMNS)
        .where({ mrn })
        .orWhere({ patient_address: address });
      return rows.map(toRow);
    },
    /** Inserts the link unless MRN or address is taken; the delegate index comes from the sequence. */
    async insert(mrn: string, address: Address, trx: Knex = db): Promise<PatientRow | undefined> {
      const rows: Raw[] = await trx("patients")
        .insert({ mrn, patient_address: address })
        .onConflict()
        .ignore()
        .returning(COLUMNS);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    async setRelationship(id: number, relationship: Hex, trx: Knex = db): Promise<void> {
      await trx("patients").where({ id }).update({ relationship_id: relationship });
    },
    /**
     * Forgets an ended relationship so that the patient can be linked again: a new delegate index
     * from the sequence (a new relationship id) and no relationship yet. Undefined when the row no
     * longer holds `ended` (another process renewed it first).
     */
    async renew(id: number, ended: Hex, trx: Knex = db): Promise<PatientRow | undefined> {
      const rows: Raw[] = await trx("patients")
        .where({ id, relationship_id: ended })
        .update({ relationship_id: null, delegate_index: trx.raw("nextval('patient_delegate_index_seq')") })
        .returning(COLUMNS);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    /** Ids of patients whose relationship exists on chain. */
    async linkedIds(trx: Knex = db): Promise<number[]> {
      const rows = await trx("patients").select("id").whereNotNull("relationship_id").orderBy("id");
      return rows.map((r: { id: string | number }) => Number(r.id));
    },
    /** Every relationship this provider holds, with its local patient id (what the chain view follows). */
    async relationships(trx: Knex = db): Promise<{ patientId: number; relationshipId: Hex }[]> {
      const rows: { id: string | number; relationship_id: string }[] = await trx("patients")
        .select("id", "relationship_id")
        .whereNotNull("relationship_id");
      return rows.map((r) => ({ patientId: Number(r.id), relationshipId: r.relationship_id as Hex }));
    },
    /** Rows whose relationship was never confirmed (a crash mid-registration). */
    async unconfirmed(trx: Knex = db): Promise<PatientRow[]> {
      const rows: Raw[] = await trx("patients").select(COLUMNS).whereNull("relationship_id").orderBy("id");
      return rows.map(toRow);
    },
  };
}

export type PatientsRepository = ReturnType<typeof patientsRepository>;
