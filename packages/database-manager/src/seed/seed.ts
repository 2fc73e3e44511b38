/**
 * Seeding for demos and tests: deterministic synthetic patients (no real data). The same
 * `seed` gives the same resources and so the same record roots, on every machine and run.
 */
import type { Knex } from "knex";
import { getAddress, type Hex, sha256, stringToBytes } from "viem";
import { createLegacySampleSchema } from "../legacy/sample-schema.ts";
import { patientsRepository } from "../patients/patients.repository.knex.ts";
import { createRecordsService, type IngestResult, type RecordsStore } from "../records/records.service.ts";
import {
  CITIES,
  FAMILY_NAMES,
  GIVEN_NAMES,
  LAB_TESTS,
  type LabTestKey,
  MEDICATIONS,
} from "../records/terminology.ts";
import { createPrng, hashSeed } from "./prng.ts";
import { generatePatientRecords, SYNTHETIC_EPOCH, syntheticMrn } from "./synthetic.ts";

/** A stand-in patient address for seeded patients: derived from the seed, nobody holds its key. */
export function seedPatientAddress(seed: number, index: number): Hex {
  return getAddress(`0x${sha256(stringToBytes(`medrec-seed:${seed}:${index}`)).slice(-40)}`);
}

/**
 * Stores the `index`-th synthetic patient's ~21 resources for an EXISTING patient (e.g. one the
 * run command linked with the chain): what a demo calls after `registerPatient`.
 */
export async function seedPatientRecords(
  records: RecordsStore,
  mrn: string,
  { seed, index = 0 }: { seed: number; index?: number },
): Promise<IngestResult> {
  const patientId = await records.patientIdOf(mrn);
  const { resources } = generatePatientRecords({ seed, index });
  return records.ingestResources(patientId, resources, {
    source: "seed",
    prune: true,
    keepLastUpdated: true,
  });
}

export type SeedPatientsParameters = {
  count: number;
  seed: number;
  /** Write through this service (its cache and change events see the writes). Default: a new one on `db`. */
  records?: RecordsStore;
};

/**
 * Creates `count` synthetic patients (MRN `SYN-<seed>-0001`…, a derived stand-in address, no
 * relationship yet) and their records. Idempotent: existing MRNs are reused, their seeded
 * records re-synced.
 */
export async function seedPatients(
  db: Knex,
  { count, seed, records = createRecordsService({ db }) }: SeedPatientsParameters,
): Promise<{ mrn: string; patientId: number; root: Hex }[]> {
  const patients = patientsRepository(db);
  const out: { mrn: string; patientId: number; root: Hex }[] = [];
  for (let index = 0; index < count; index++) {
    const mrn = syntheticMrn(seed, index);
    // The repository's insert: the delegate index comes from the same sequence as registrations'.
    await patients.insert(mrn, seedPatientAddress(seed, index));
    const result = await seedPatientRecords(records, mrn, { seed, index });
    out.push({ mrn, patientId: result.patientId, root: result.root });
  }
  return out;
}

const dt = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "");
const day = 86_400_000;

/**
 * Creates the sample legacy hospital schema (if missing) and fills it with `count` synthetic
 * patients (MRN `LEG-<seed>-0001`…): encounters, documents, lab results over time with LOINC
 * codes, units and ranges, prescribed and home medications. Deterministic; rows are replaced.
 */
export async function seedLegacy(
  db: Knex,
  { count, seed, schema = "legacy" }: { count: number; seed: number; schema?: string },
): Promise<string[]> {
  await createLegacySampleSchema(db, { schema });
  const mrns: string[] = [];
  await db.transaction(async (trx) => {
    const t = (name: string) => trx.withSchema(schema).table(name);
    for (let i = 0; i < count; i++) {
      const rng = createPrng(hashSeed("medrec-legacy", seed, i));
      const base = (seed % 1000) * 100_000 + i * 100; // primary keys per patient
      const patId = base + 1;
      const mrn = `LEG-${seed}-${String(i + 1).padStart(4, "0")}`;
      mrns.push(mrn);
      for (const table of ["medications", "lab_results", "documents", "encounters"]) {
        await t(table).where({ pat_id: patId }).delete();
      }
      await t("patients").where({ pat_id: patId }).delete();
      const sex = rng.pick(["F", "M"] as const);
      const modified = dt(SYNTHETIC_EPOCH);
      await t("patients").insert({
        pat_id: patId,
        mrn,
        last_name: rng.pick(FAMILY_NAMES),
        first_name: rng.pick(GIVEN_NAMES[sex === "F" ? "female" : "male"]),
        middle_name: rng.next() < 0.3 ? "J" : null,
        dob: new Date(SYNTHETIC_EPOCH - rng.int(30, 85) * 365.25 * day).toISOString().slice(0, 10),
        sex,
        phone: `555-02${String(rng.int(0, 99)).padStart(2, "0")}`,
        street: `${rng.int(1, 999)} Legacy Road`,
        city: rng.pick(CITIES),
        zip: String(rng.int(10000, 99999)),
        country: "US",
        modified_at: modified,
      });
      const visits = [400, 200, 20].map((d) => SYNTHETIC_EPOCH - (d + rng.int(0, 10)) * day);
      const encounterIds = visits.map((_, v) => base + 10 + v);
      await t("encounters").insert(
        visits.map((at, v) => ({
          enc_id: encounterIds[v],
          pat_id: patId,
          enc_type: v === 1 ? "I" : "O",
          dept: v === 1 ? "Internal Medicine Ward" : "Endocrinology Clinic",
          admit_dt: dt(at),
          discharge_dt: dt(at + (v === 1 ? 3 * day : 3_600_000)),
          chief_complaint: v === 1 ? "Hyperglycaemia" : "Diabetes follow-up",
          modified_at: modified,
        })),
      );
      await t("documents").insert([
        {
          doc_id: base + 20,
          pat_id: patId,
          enc_id: encounterIds[1],
          doc_class: "DS",
          title: "Discharge summary",
          body: "Admitted for hyperglycaemia; insulin titrated; discharged on metformin. (synthetic)",
          author: "Dr. Synthetic",
          created_dt: dt((visits[1] as number) + 3 * day),
          modified_at: modified,
        },
        {
          doc_id: base + 21,
          pat_id: patId,
          enc_id: encounterIds[2],
          doc_class: "PN",
          title: "Clinic progress note",
          body: "Glycaemic control improving. Continue current regimen. (synthetic)",
          author: "Dr. Synthetic",
          created_dt: dt(visits[2] as number),
          modified_at: modified,
        },
      ]);
      const labs: Record<string, unknown>[] = [];
      let n = 0;
      for (const key of Object.keys(LAB_TESTS) as LabTestKey[]) {
        const test = LAB_TESTS[key];
        visits.forEach((at, v) => {
          const value =
            key === "hba1c"
              ? (rng.float(6.2, 9.5, 1) - v * 0.3).toFixed(1)
              : key === "creatinine"
                ? rng.float(0.7, 1.7, 2).toFixed(2)
                : String(rng.int(80, 180) - v * 8);
          const num = Number(value);
          labs.push({
            result_id: base + 30 + n++,
            pat_id: patId,
            enc_id: encounterIds[v],
            loinc: test.loinc,
            test_name: test.name,
            result_value: value,
            // Exports often lose the case of UCUM units.
            units: test.unit === "mg/dL" ? "MG/DL" : test.unit,
            ref_range: key === "ldl" ? `<${test.high}` : `${test.low.toFixed(1)}-${test.high.toFixed(1)}`,
            flag: num > test.high ? "H" : num < test.low ? "L" : "N",
            status: "F",
            collected_dt: dt(at + 1_800_000),
            modified_at: modified,
          });
        });
      }
      await t("lab_results").insert(labs);
      const med = (
        id: number,
        source: "RX" | "HX",
        m: (typeof MEDICATIONS)[keyof typeof MEDICATIONS],
        sig: string,
      ) => ({
        med_id: id,
        pat_id: patId,
        enc_id: source === "RX" ? encounterIds[1] : null,
        source,
        rxnorm: m.rxnorm,
        drug_name: m.name,
        dose: m.dose,
        dose_unit: m.unit,
        route: "oral",
        sig,
        start_dt: new Date(visits[source === "RX" ? 1 : 0] as number).toISOString().slice(0, 10),
        stop_dt: null,
        active: true,
        modified_at: modified,
      });
      await t("medications").insert([
        med(base + 60, "RX", MEDICATIONS.metformin, "500 mg twice daily with meals"),
        med(base + 61, "RX", MEDICATIONS.atorvastatin, "20 mg at night"),
        med(base + 62, "HX", MEDICATIONS.lisinopril, "10 mg once daily"),
      ]);
    }
  });
  return mrns;
}
