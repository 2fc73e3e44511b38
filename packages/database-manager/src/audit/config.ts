import { BaseError } from "@medrec/protocol";
import type { Hex } from "viem";
import { z } from "zod";
import { chainConfigSchema } from "../chain/config.ts";
import type { AnchorSettings } from "./audit.transparency.ts";

/**
 * The audit part's configuration (adr/0005): a zod fragment merged into `configSchema`.
 * AUDIT_ANCHOR_PRIVATE_KEY is a secret: messages never echo values.
 */
export const auditConfigSchema = z.object({
  /**
   * The database owner, for migrations and grants; DATABASE_URL is then the runtime role, which
   * may only read and append to the audit tables. Unset: DATABASE_URL does both (no separation).
   */
  MIGRATION_DATABASE_URL: z
    .string()
    .refine((u) => /^postgres(ql)?:\/\//.test(u), "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** The AuditAnchor contract; unset: the audit log's tree heads are not anchored (/healthz says so). */
  AUDIT_ANCHOR_ADDRESS: chainConfigSchema.shape.AGENT_ADDRESS,
  /** Secret: the log account's key — used for anchoring only; never a delegate's or the relayer's. */
  AUDIT_ANCHOR_PRIVATE_KEY: chainConfigSchema.shape.RELAYER_PRIVATE_KEY,
  /** How often new entries are anchored (at most this long unanchored). */
  AUDIT_ANCHOR_INTERVAL_MS: z.coerce.number().int().min(1_000).max(60_000).default(60_000),
  /** Refused reads per caller per minute before 429 (they are audited until then). */
  AUDIT_DENIALS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(120),
});

/** Thrown when the anchoring settings are incomplete or reuse the relayer's key. Never names a secret's value. */
export class AuditConfigError extends BaseError {
  override name = "AuditConfigError";
}

export type AuditConfig = z.output<typeof auditConfigSchema>;

/**
 * The anchoring settings from the configuration and the chain's, or undefined when
 * AUDIT_ANCHOR_ADDRESS is unset.
 *
 * @throws {AuditConfigError} when the anchor key is missing, or is the relayer's (the log account is bound
 * to its provider in public; the relayer serves other providers' delegates, adr/0006).
 */
export function anchorSettingsOf(
  config: AuditConfig,
  chain: { rpcUrl: string; chainId: number; relayerPrivateKey?: Hex | undefined; receiptTimeoutMs?: number },
): AnchorSettings | undefined {
  if (!config.AUDIT_ANCHOR_ADDRESS) return undefined;
  if (!config.AUDIT_ANCHOR_PRIVATE_KEY)
    throw new AuditConfigError(
      "AUDIT_ANCHOR_ADDRESS is set but AUDIT_ANCHOR_PRIVATE_KEY is not: the log account's key is needed.",
    );
  if (chain.relayerPrivateKey?.toLowerCase() === config.AUDIT_ANCHOR_PRIVATE_KEY.toLowerCase())
    throw new AuditConfigError(
      "AUDIT_ANCHOR_PRIVATE_KEY must not be the relayer's key (RELAYER_PRIVATE_KEY): use an account for anchoring only.",
    );
  return {
    rpcUrl: chain.rpcUrl,
    chainId: chain.chainId,
    address: config.AUDIT_ANCHOR_ADDRESS,
    privateKey: config.AUDIT_ANCHOR_PRIVATE_KEY,
    ...(chain.receiptTimeoutMs === undefined ? {} : { receiptTimeoutMs: chain.receiptTimeoutMs }),
  };
}
