/**
 * A sample legacy hospital schema, shaped like a typical EHR export (its own column names,
 * one-letter codes, values as text, ranges as "4.0-5.6"), plus the contract views that map it to
 * what the adapter reads (contract.ts). A hospital already HAS its tables: this exists for demos
 * and tests, and its views are the worked example of what a hospital's IT team writes. It is not
 * a gatekeeper migration.
 */
import type { Knex } from "knex";
import { assertSchemaName, LEGACY_VIEWS } from "./contract.ts";

/** The hospital's own tables (what an EHR export looks like), in `schema`. */
function tablesSql(s: string): string {
  return `
create table ${s}.patients (
  pat_id        integer primary key,
  mrn           varchar(32) not null unique,
  last_name     varchar(80) not null,
  first_name    varchar(80),
  middle_name   varchar(80),
  dob           date,
  sex           char(1) check (sex in ('M', 'F', 'X', 'U')),
  phone         varchar(32),
  street        varchar(160),
  city          varchar(80),
  zip           varchar(16),
  country       char(2),
  modified_at   timestamp not null default now()
);
create table ${s}.encounters (
  enc_id          integer primary key,
  pat_id          integer not null references ${s}.patients (pat_id),
  enc_type        char(1) not null check (enc_type in ('I', 'O', 'E')),
  dept            varchar(80),
  admit_dt        timestamp not null,
  discharge_dt    timestamp,
  chief_complaint varchar(400),
  modified_at     timestamp not null default now()
);
create table ${s}.documents (
  doc_id      integer primary key,
  pat_id      integer not null references ${s}.patients (pat_id),
  enc_id      integer references ${s}.encounters (enc_id),
  doc_class   varchar(4) not null,
  title       varchar(200) not null,
  body        text not null,
  mime        varchar(80) not null default 'text/plain',
  author      varchar(120),
  created_dt  timestamp not null,
  modified_at timestamp not null default now()
);
create table ${s}.lab_results (
  result_id    integer primary key,
  pat_id       integer not null references ${s}.patients (pat_id),
  enc_id       integer references ${s}.encounters (enc_id),
  loinc        varchar(16) not null,
  test_name    varchar(200) not null,
  result_value varchar(64) not null,
  units        varchar(32),
  ref_range    varchar(64),
  flag         char(1),
  status       char(1) not null default 'F' check (status in ('F', 'P', 'C', 'X')),
  collected_dt timestamp not null,
  modified_at  timestamp not null default now()
);
create table ${s}.medications (
  med_id      integer primary key,
  pat_id      integer not null references ${s}.patients (pat_id),
  enc_id      integer references ${s}.encounters (enc_id),
  source      char(2) not null check (source in ('RX', 'HX')),
  rxnorm      varchar(16),
  drug_name   varchar(200) not null,
  dose        numeric,
  dose_unit   varchar(16),
  route       varchar(40),
  sig         varchar(400),
  start_dt    date,
  stop_dt     date,
  active      boolean not null default true,
  modified_at timestamp not null default now()
);`;
}

// No question marks in this SQL: knex.raw would take them for bindings.
/**
 * The contract views over those tables: the part a hospital's IT team writes for its own
 * schema (see src/legacy/README.md). Codes become FHIR codes here, in SQL, next to the data.
 */
function viewsSql(s: string): string {
  const v = LEGACY_VIEWS;
  return `
create view ${s}.${v.patient} as
select pat_id::text as patient_key, mrn,
       last_name as family_name,
       nullif(concat_ws(' ', first_name, middle_name), '') as given_names,
       dob as birth_date,
       case sex when 'M' then 'male' when 'F' then 'female' when 'X' then 'other' else 'unknown' end as gender,
       phone, street as address_line, city, zip as postal_code, country,
       modified_at at time zone 'UTC' as updated_at
from ${s}.patients;

create view ${s}.${v.encounter} as
select enc_id::text as encounter_key, pat_id::text as patient_key,
       case enc_type when 'I' then 'IMP' when 'E' then 'EMER' else 'AMB' end as class_code,
       dept as department,
       admit_dt at time zone 'UTC' as start_at, discharge_dt at time zone 'UTC' as end_at,
       chief_complaint as reason_text,
       modified_at at time zone 'UTC' as updated_at
from ${s}.encounters;

create view ${s}.${v.document} as
select doc_id::text as document_key, pat_id::text as patient_key, enc_id::text as encounter_key,
       case doc_class when 'DS' then '18842-5' when 'PN' then '11506-3' when 'RAD' then '18748-4'
                      else '34133-9' end as loinc_code,
       title, mime as content_type, body as content, author,
       created_dt at time zone 'UTC' as created_at,
       modified_at at time zone 'UTC' as updated_at
from ${s}.documents;

create view ${s}.${v.labResult} as
select result_id::text as result_key, pat_id::text as patient_key, enc_id::text as encounter_key,
       loinc as loinc_code, test_name,
       case when result_value ~ '^-{0,1}[0-9]+([.][0-9]+){0,1}$' then result_value::numeric end as value_numeric,
       case when result_value !~ '^-{0,1}[0-9]+([.][0-9]+){0,1}$' then result_value end as value_text,
       units as unit,
       case when ref_range ~ '^[0-9.]+-[0-9.]+$' then split_part(ref_range, '-', 1)::numeric end as ref_low,
       case when ref_range ~ '^[0-9.]+-[0-9.]+$' then split_part(ref_range, '-', 2)::numeric
            when ref_range ~ '^<[0-9.]+$' then substr(ref_range, 2)::numeric end as ref_high,
       ref_range as ref_text,
       case flag when 'H' then 'H' when 'L' then 'L' when 'N' then 'N' end as interpretation,
       case status when 'P' then 'preliminary' when 'C' then 'corrected' when 'X' then 'cancelled'
                   else 'final' end as status,
       collected_dt at time zone 'UTC' as collected_at,
       modified_at at time zone 'UTC' as updated_at
from ${s}.lab_results;

create view ${s}.${v.medication} as
select med_id::text as medication_key, pat_id::text as patient_key, enc_id::text as encounter_key,
       case source when 'RX' then 'order' else 'reported' end as kind,
       rxnorm as rxnorm_code, drug_name, dose as dose_value, dose_unit, route, sig as instructions,
       start_dt as start_date, stop_dt as end_date,
       case when active then 'active' when stop_dt is not null then 'completed' else 'stopped' end as status,
       modified_at at time zone 'UTC' as updated_at
from ${s}.medications;`;
}

/**
 * Creates the sample hospital schema and its contract views (idempotent: does nothing if the
 * schema's `patients` table exists).
 */
export async function createLegacySampleSchema(db: Knex, { schema = "legacy" }: { schema?: string } = {}) {
  const s = assertSchemaName(schema);
  const exists = await db.schema.withSchema(s).hasTable("patients");
  if (exists) return;
  await db.transaction(async (trx) => {
    await trx.raw(`create schema if not exists ${s}`);
    await trx.raw(tablesSql(s));
    await trx.raw(viewsSql(s));
  });
}
