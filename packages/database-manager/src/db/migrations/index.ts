import type { Knex } from "knex";
import * as m0001 from "./0001_patients.ts";
import * as m0002 from "./0002_records.ts";
import * as m0003 from "./0003_auth_audit.ts";
import * as m0004 from "./0004_chain.ts";
import * as m0005 from "./0005_audit_transparency.ts";
import * as m0006 from "./0006_patients_delegate_sequence.ts";
import * as m0007 from "./0007_relay.ts";
import * as m0008 from "./0008_chain_view.ts";
import * as m0009 from "./0009_chain_view_journal.ts";
import * as m0010 from "./0010_relay_admission.ts";
import * as m0011 from "./0011_audit_aggregate.ts";
import * as m0012 from "./0012_relay_member_lane.ts";

/** Every migration, in order. Forward-only: never edit one that has shipped; add the next. */
export const migrations: Record<string, Knex.Migration> = {
  "0001_patients": m0001,
  "0002_records": m0002,
  "0003_auth_audit": m0003,
  "0004_chain": m0004,
  "0005_audit_transparency": m0005,
  "0006_patients_delegate_sequence": m0006,
  "0007_relay": m0007,
  "0008_chain_view": m0008,
  "0009_chain_view_journal": m0009,
  "0010_relay_admission": m0010,
  "0011_audit_aggregate": m0011,
  "0012_relay_member_lane": m0012,
};
