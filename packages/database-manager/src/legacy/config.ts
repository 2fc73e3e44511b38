import { z } from "zod";
import { LEGACY_SCHEMA_NAME } from "./contract.ts";

/**
 * The legacy adapter's configuration (src/legacy/README.md): a zod fragment merged into
 * `configSchema`. LEGACY_DATABASE_URL may carry a password: messages never echo values.
 */
export const legacyConfigSchema = z.object({
  /** The hospital's database holding the five contract views; unset: the gatekeeper's own (DATABASE_URL). */
  LEGACY_DATABASE_URL: z
    .string()
    .refine((u) => /^postgres(ql)?:\/\//.test(u), "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** The schema of the contract views. */
  LEGACY_SCHEMA: z
    .string()
    .regex(LEGACY_SCHEMA_NAME, "must be a lower-case SQL identifier (letters, digits, _)")
    .default("legacy"),
  /** Seconds between periodic syncs of every linked patient (and one at start); 0 = off. */
  LEGACY_SYNC_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(86_400).default(0),
  /** The identifier system of the hospital's MRNs in the FHIR Patient. */
  LEGACY_MRN_SYSTEM: z.string().url().optional(),
});

export type LegacyConfig = z.output<typeof legacyConfigSchema>;
