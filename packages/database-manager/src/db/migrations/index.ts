import type { Knex } from "knex";
import * as m0001 from "./0001_patients.ts";

/** Every migration, in order. Forward-only: never edit one that has shipped; add the next. */
export const migrations: Record<string, Knex.Migration> = {
  "0001_patients": m0001,
};
