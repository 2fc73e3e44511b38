import { createHash } from "node:crypto";
import {
  AUDIT_GENESIS_HASH,
  type AuditEntry,
  auditEntryHash,
  BaseError,
  canonicalJson,
  isScopeCode,
  toChecksumAddress,
} from "@medrec/protocol";
import { type Hex, zeroAddress } from "viem";
import type { AuditEvent } from "../seams.ts";

/**
 * The actor recorded for the operator key. The audit API's `actor` is an address (api.ts), and
 * the operator is no account: it is recorded as the zero address, which no one can sign for.
 */
export const OPERATOR_ACTOR = zeroAddress;

/** Thrown for a malformed audit event (a programming error: the caller built it). */
export class InvalidAuditEventError extends BaseError {
  override name = "InvalidAuditEventError";
}

/** An audit row as stored (snake_case columns of `audit_log`). */
export type AuditRow = {
  id: string;
  relationship: string;
  at: Date;
  actor: string;
  action: string;
  categories: string[];
  decision: string;
  reason: string | null;
  count: number | null;
  mrn_hash: string | null;
  actors: number | null;
  prev_hash: string;
  hash: string;
  chain_hash: string;
};

/** An event ready to be chained: normalised, timestamped. */
export type PendingEntry = {
  relationship: Hex;
  at: Date;
  actor: string;
  action: string;
  categories: string[];
  decision: "allowed" | "denied";
  reason: string | null;
  count: number | null;
  mrnHash: string | null;
  /** Aggregated refusals only: the distinct accounts behind `count`. */
  actors: number | null;
};

const RELATIONSHIP = /^0x[0-9a-fA-F]{64}$/;
const ACTION = /^[a-z][a-z0-9._-]{0,63}$/;
const REASON = /^[a-z][a-z0-9._-]{0,63}$/;
const MRN_HASH = /^(0x)?[0-9a-fA-F]{16,128}$/;

/**
 * Checks and normalises an event (a programming error otherwise: the caller built it).
 *
 * @throws {InvalidAuditEventError} naming the bad field, never echoing it.
 */
export function toPendingEntry(event: AuditEvent, at: Date): PendingEntry {
  if (!RELATIONSHIP.test(event.relationship))
    throw new InvalidAuditEventError("audit event: invalid relationship");
  if (!ACTION.test(event.action)) throw new InvalidAuditEventError("audit event: invalid action");
  if (!event.categories.every(isScopeCode)) throw new InvalidAuditEventError("audit event: unknown category");
  if (event.decision !== "allowed" && event.decision !== "denied")
    throw new InvalidAuditEventError("audit event: invalid decision");
  if (event.reason !== undefined && !REASON.test(event.reason))
    throw new InvalidAuditEventError("audit event: invalid reason");
  if (
    event.count !== undefined &&
    !(Number.isSafeInteger(event.count) && event.count >= 0 && event.count < 2 ** 31)
  )
    throw new InvalidAuditEventError("audit event: invalid count");
  if (event.mrnHash !== undefined && !MRN_HASH.test(event.mrnHash))
    throw new InvalidAuditEventError("audit event: invalid mrnHash");
  return {
    relationship: event.relationship.toLowerCase() as Hex,
    at,
    actor: event.actor === "operator" ? OPERATOR_ACTOR : toChecksumAddress(event.actor),
    action: event.action,
    categories: [...event.categories],
    decision: event.decision,
    reason: event.reason ?? null,
    count: event.count ?? null,
    mrnHash: event.mrnHash?.toLowerCase() ?? null,
    actors: null,
  };
}

/** The relationship-chain hash (docs/protocol.md, protocol's `auditEntryHash`) of an entry. */
export function entryHash(
  entry: {
    at: Date;
    actor: string;
    action: string;
    categories: readonly string[];
    decision: string;
    count: number | null;
    mrnHash: string | null;
    actors: number | null;
  },
  prevHash: string,
): Hex {
  return auditEntryHash({
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    categories: entry.categories,
    decision: entry.decision,
    prevHash,
    ...(entry.count === null ? {} : { count: entry.count }),
    ...(entry.mrnHash === null ? {} : { mrnHash: entry.mrnHash }),
    ...(entry.actors === null ? {} : { actors: entry.actors }),
  });
}

/** A stored row's hashed fields, as {@link entryHash} takes them. */
export const rowFields = (row: AuditRow) => ({ ...row, mrnHash: row.mrn_hash });

/** `chain_hash` of the first row of the table. */
export const CHAIN_GENESIS_HASH: Hex = AUDIT_GENESIS_HASH;

/**
 * The table-wide chain: SHA-256 of the canonical JSON of the row's id, relationship, entry hash
 * and reason, with the previous row's `chain_hash`. It makes a deleted or edited row visible
 * even where the served relationship chain does not cover the field (id, reason).
 */
export function chainHash(row: {
  id: string;
  relationship: string;
  hash: string;
  reason: string | null;
  prevChainHash: string;
}): Hex {
  const json = canonicalJson({
    id: row.id,
    relationship: row.relationship,
    hash: row.hash,
    reason: row.reason,
    prevChainHash: row.prevChainHash,
  });
  // node:crypto: this runs once per appended row on the request path.
  return `0x${createHash("sha256").update(json, "utf8").digest("hex")}`;
}

/** A stored row as the audit API serves it. */
export function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    at: row.at.toISOString(),
    actor: row.actor as AuditEntry["actor"],
    action: row.action,
    categories: row.categories as AuditEntry["categories"],
    decision: row.decision as AuditEntry["decision"],
    hash: row.hash as AuditEntry["hash"],
    prevHash: row.prev_hash as AuditEntry["prevHash"],
    ...(row.count === null ? {} : { count: row.count }),
    ...(row.mrn_hash === null ? {} : { mrnHash: row.mrn_hash }),
    ...(row.actors === null || row.actors === undefined ? {} : { actors: row.actors }),
    // Its position in the transparency log: ids run contiguously from 1.
    leafIndex: Number(row.id) - 1,
  };
}
