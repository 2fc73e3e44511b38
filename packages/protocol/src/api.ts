import { z } from "zod";
import {
  addressSchema,
  bytes32Schema,
  dateTimeSchema,
  scopeCodeSchema,
  signatureSchema,
} from "./primitives.ts";
import { isValidNonce } from "./siwe.ts";

/** Media type of every gatekeeper error (RFC 9457). */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Paths of the gatekeeper HTTP API (docs/protocol.md "The gatekeeper HTTP API"), relative to its base URL. */
export const apiPaths = {
  nonce: "/v1/auth/nonce",
  session: "/v1/auth/session",
  relationships: "/v1/relationships",
  records: (relationship: string) => `/v1/relationships/${encodeURIComponent(relationship)}/records`,
  audit: (relationship: string) => `/v1/relationships/${encodeURIComponent(relationship)}/audit`,
  auditHead: "/v1/audit/head",
  auditConsistency: "/v1/audit/consistency",
  patients: "/v1/patients",
  patientRecords: (mrn: string) => `/v1/patients/${encodeURIComponent(mrn)}/records`,
  relay: "/v1/relay",
  healthz: "/healthz",
  metrics: "/metrics",
  openapi: "/openapi.json",
} as const;

// ── Sign-in ────────────────────────────────────────────────────────────────────────────────

/** `GET /v1/auth/nonce` → 200. */
export const nonceResponseSchema = z.object({
  nonce: z.string().refine(isValidNonce, { message: "Invalid nonce: expected at least 16 alphanumerics" }),
});
export type NonceResponse = z.output<typeof nonceResponseSchema>;

/** `POST /v1/auth/session` body. */
export const sessionRequestSchema = z.object({
  message: z.string().min(1).max(4096),
  signature: signatureSchema,
});
export type SessionRequest = z.output<typeof sessionRequestSchema>;

/** `POST /v1/auth/session` → 200. */
export const sessionResponseSchema = z.object({
  token: z.string().min(1),
  address: addressSchema,
  expiresAt: dateTimeSchema,
});
export type SessionResponse = z.output<typeof sessionResponseSchema>;

// ── Records ────────────────────────────────────────────────────────────────────────────────

/** The caller's part in a relationship. */
export const relationshipRoleSchema = z.enum(["patient", "viewer"]);
export type RelationshipRole = z.output<typeof relationshipRoleSchema>;

/** One item of `GET /v1/relationships`. */
export const relationshipSummarySchema = z.object({
  relationship: bytes32Schema,
  role: relationshipRoleSchema,
  recordRoot: bytes32Schema,
  updatedAt: dateTimeSchema,
});
export type RelationshipSummary = z.output<typeof relationshipSummarySchema>;

/** `GET /v1/relationships` → 200. */
export const relationshipsResponseSchema = z.array(relationshipSummarySchema);
export type RelationshipsResponse = z.output<typeof relationshipsResponseSchema>;

/** Path parameters of `/v1/relationships/{relationship}/…`. */
export const relationshipParamsSchema = z.object({ relationship: bytes32Schema });
export type RelationshipParams = z.output<typeof relationshipParamsSchema>;

/** Query of `GET /v1/relationships/{relationship}/records`: a scope code and an ISO date or date-time. */
export const recordsQuerySchema = z.object({
  category: scopeCodeSchema.optional(),
  _since: z.union([z.iso.date(), dateTimeSchema]).optional(),
  /** Entries per page: 1 to {@link RECORDS_PAGE_MAX}, default {@link RECORDS_PAGE_DEFAULT}. */
  _count: z.coerce.number().int().min(1).optional(),
  /** Next pages only (from `link` `next`): the record root of the first page. */
  _root: bytes32Schema.optional(),
  /** Next pages only: index of the page's first entry among the matches. */
  _offset: z.coerce.number().int().min(0).optional(),
});
export type RecordsQuery = z.output<typeof recordsQuerySchema>;

/** Default and largest page of `GET …/records` (`_count`). */
export const RECORDS_PAGE_DEFAULT = 500;
export const RECORDS_PAGE_MAX = 2000;

/** `Bundle.link[]` of a records page: `self`, and `next` while more entries follow. */
export const bundleLinkSchema = z.object({ relation: z.string().min(1), url: z.string().min(1) });
export type BundleLink = z.output<typeof bundleLinkSchema>;

// ── Audit ──────────────────────────────────────────────────────────────────────────────────

/** Outcome of an access decision. */
export const auditDecisionSchema = z.enum(["allowed", "denied"]);
export type AuditDecision = z.output<typeof auditDecisionSchema>;

/** Where an entry sits in the provider's transparency log, and its proof to an anchored head. */
export const auditInclusionSchema = z.object({
  /** Size of the anchored tree head the path leads to (an AuditAnchor `TreeHeadAnchored` size). */
  treeSize: z.number().int().positive(),
  /** RFC 9162 PATH: sibling hashes, leaf to root. */
  path: z.array(bytes32Schema).max(64),
});
export type AuditInclusion = z.output<typeof auditInclusionSchema>;

/**
 * One access decision or staff action (`GET /v1/relationships/{relationship}/audit`). `hash`
 * chains the entries: see `auditEntryHash`; the first entry's `prevHash` is 32 zero bytes.
 * `leafIndex` is the entry's position in the provider's whole audit log, an RFC 9162 Merkle tree
 * whose heads the gatekeeper anchors on chain; `inclusion` proves it in the latest anchored head
 * (absent for entries newer than that head).
 */
export const auditEntrySchema = z.object({
  at: dateTimeSchema,
  actor: addressSchema,
  action: z.string().min(1),
  categories: z.array(scopeCodeSchema),
  decision: auditDecisionSchema,
  hash: bytes32Schema,
  prevHash: bytes32Schema,
  /** Staff actions: how many items the action covered. */
  count: z.number().int().nonnegative().optional(),
  /** Staff actions: a salted hash of the MRN concerned (hex). */
  mrnHash: z
    .string()
    .regex(/^(0x)?[0-9a-fA-F]{16,128}$/)
    .optional(),
  /** Aggregated refusals (`refusals.aggregate`): the distinct accounts behind `count` refusals. */
  actors: z.number().int().nonnegative().optional(),
  leafIndex: z.number().int().nonnegative().optional(),
  inclusion: auditInclusionSchema.optional(),
});
export type AuditEntry = z.output<typeof auditEntrySchema>;

/**
 * `GET /v1/relationships/{relationship}/audit` → 200: one page of entries, in chain order, or
 * newest first with `order=desc`. A `Link: <…>; rel="next"` header says where the next page
 * starts (`after=<hash>` in chain order, `before=<hash>` newest first).
 */
export const auditResponseSchema = z.array(auditEntrySchema);
export type AuditResponse = z.output<typeof auditResponseSchema>;

/** Default and largest page of `GET …/audit`. */
export const AUDIT_PAGE_DEFAULT = 100;
export const AUDIT_PAGE_MAX = 1000;

/**
 * Query of `GET …/audit`, at most `limit` entries: in chain order (`order=asc`, the default) those
 * after the one whose hash is `after`; newest first (`order=desc`) those before (older than) the
 * one whose hash is `before`.
 */
export const auditQuerySchema = z
  .object({
    after: bytes32Schema.optional(),
    before: bytes32Schema.optional(),
    order: z.enum(["asc", "desc"]).default("asc"),
    limit: z.coerce.number().int().min(1).max(AUDIT_PAGE_MAX).default(AUDIT_PAGE_DEFAULT),
  })
  .refine((q) => !(q.after !== undefined && q.order === "desc"), {
    message: "after: only with order=asc (newest first pages continue with before)",
    path: ["after"],
  })
  .refine((q) => !(q.before !== undefined && q.order === "asc"), {
    message: "before: only with order=desc",
    path: ["before"],
  });
export type AuditQuery = z.output<typeof auditQuerySchema>;

/** A tree head as served: size and RFC 9162 root. */
export const treeHeadSchema = z.object({ size: z.number().int().nonnegative(), root: bytes32Schema });

/** `GET /v1/audit/head` → 200: where this gatekeeper anchors, and its latest anchored head. */
export const auditHeadResponseSchema = z.object({
  /** The AuditAnchor contract, or null when this gatekeeper does not anchor. */
  anchor: addressSchema.nullable(),
  /** The log account whose `TreeHeadAnchored` events are this log's heads. */
  log: addressSchema.nullable(),
  /** The latest anchored head (size 0 before the first anchor). */
  anchored: treeHeadSchema,
  /** Entries in the log now (anchored or not). */
  size: z.number().int().nonnegative(),
});
export type AuditHeadResponse = z.output<typeof auditHeadResponseSchema>;

/** Query of `GET /v1/audit/consistency`: two tree sizes, 1 ≤ from ≤ to ≤ the log's size. */
export const auditConsistencyQuerySchema = z.object({
  from: z.coerce.number().int().min(1),
  to: z.coerce.number().int().min(1),
});

/** `GET /v1/audit/consistency` → 200: RFC 9162 PROOF(from, D[0:to]). */
export const auditConsistencyResponseSchema = z.object({
  from: z.number().int().positive(),
  to: z.number().int().positive(),
  proof: z.array(bytes32Schema).max(128),
});
export type AuditConsistencyResponse = z.output<typeof auditConsistencyResponseSchema>;

// ── Provider staff ─────────────────────────────────────────────────────────────────────────

/** A medical record number: 1–64 of `A–Z a–z 0–9 . _ -`, starting with a letter or digit (safe in a path). */
export const mrnSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "Invalid MRN: 1-64 letters, digits, '.', '_' or '-'");

/** `POST /v1/patients` body. */
export const createPatientRequestSchema = z.object({
  mrn: mrnSchema,
  patientAddress: addressSchema,
});
export type CreatePatientRequest = z.output<typeof createPatientRequestSchema>;

/** `POST /v1/patients` → 201 (MedRec refinement: the relationship created on chain). */
export const createPatientResponseSchema = z.looseObject({
  mrn: mrnSchema,
  patientAddress: addressSchema,
  relationship: bytes32Schema,
});
export type CreatePatientResponse = z.output<typeof createPatientResponseSchema>;

/** Path parameters of `/v1/patients/{mrn}/records`. */
export const patientParamsSchema = z.object({ mrn: mrnSchema });
export type PatientParams = z.output<typeof patientParamsSchema>;

/** `POST /v1/patients/{mrn}/records` → 200 (MedRec refinement: the republished root). */
export const uploadRecordsResponseSchema = z.looseObject({
  stored: z.number().int().nonnegative(),
  recordRoot: bytes32Schema,
});
export type UploadRecordsResponse = z.output<typeof uploadRecordsResponseSchema>;

// ── Relay ──────────────────────────────────────────────────────────────────────────────────
// `POST /v1/relay`: an EIP-712 `ForwardRequest` for the MedRecForwarder (see relay.ts), signed by
// `from`. On the wire the uint256 fields (`value`, `gas`, `nonce`) are decimal strings — JSON
// numbers lose precision above 2^53 — and a non-negative safe integer is accepted too; `deadline`
// (uint48, unix seconds) is a number or a decimal string. Parsed: bigints, and a number deadline.

const UINT256_MAX = (1n << 256n) - 1n;
const UINT48_MAX = 2 ** 48 - 1;

/** A uint256 as a decimal string (canonical) or a non-negative safe integer; output a bigint. */
export const uint256Schema = z
  .union([
    z.string().regex(/^(?:0|[1-9][0-9]{0,77})$/, "Invalid uint256: expected a decimal string"),
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ])
  .transform((value) => BigInt(value))
  .refine((value) => value <= UINT256_MAX, { message: "Invalid uint256: too large" });

/** A uint48 (a deadline in unix seconds) as a number or a decimal string; output a number. */
export const uint48Schema = z
  .union([
    z.number().int().nonnegative(),
    z.string().regex(/^(?:0|[1-9][0-9]{0,14})$/, "Invalid uint48: expected a decimal string"),
  ])
  .transform((value) => Number(value))
  .refine((value) => value <= UINT48_MAX, { message: "Invalid uint48: too large" });

/** Largest calldata a relayed request may carry, in bytes. */
export const RELAY_DATA_MAX_BYTES = 8192;

/** Calldata: `0x` and an even number of hex digits, output lower case. */
export const calldataSchema = z
  .string()
  .regex(/^0x(?:[0-9a-fA-F]{2})*$/, "Invalid calldata: expected 0x followed by whole bytes of hex")
  .max(2 + 2 * RELAY_DATA_MAX_BYTES, `Invalid calldata: longer than ${RELAY_DATA_MAX_BYTES} bytes`)
  .transform((value) => value.toLowerCase() as `0x${string}`);

/** The fields of an ERC2771Forwarder `ForwardRequest`, as signed (EIP-712 message). */
export const forwardRequestSchema = z.object({
  from: addressSchema,
  to: addressSchema,
  value: uint256Schema,
  gas: uint256Schema,
  nonce: uint256Schema,
  deadline: uint48Schema,
  data: calldataSchema,
});
export type ForwardRequest = z.output<typeof forwardRequestSchema>;
/** A forward request as sent in JSON: uint256 fields as decimal strings. */
export type ForwardRequestJson = z.input<typeof forwardRequestSchema>;

/**
 * `POST /v1/relay` body: the request and `from`'s 65-byte EIP-712 signature of it, and optionally
 * what it depends on (not signed: it only tells the relay when to simulate): `notBeforeBlock`, the
 * block the client saw its prerequisite in (a uint256 like `nonce`), and `after`, the hash of the
 * transaction it follows. A relay whose node has not seen them yet waits (bounded) before it checks
 * the nonce and simulates (docs/protocol.md "Relayed transactions").
 */
const signature65Schema = signatureSchema.refine((value) => value.length === 132, {
  message: "Invalid signature: expected 65 bytes (r, s, v)",
});

/**
 * `voucher` (optional): a consortium member key's 65-byte signature of the request's voucher digest
 * (relay.ts `signVoucher`), which a gatekeeper attaches to its own requests; a relay that knows the
 * member key serves a vouched open-lane request in its member lane (docs/relay.md, adr/0013).
 */
export const relayRequestSchema = z.object({
  request: forwardRequestSchema,
  signature: signature65Schema,
  notBeforeBlock: uint256Schema.optional(),
  after: bytes32Schema.optional(),
  voucher: signature65Schema.optional(),
});
export type RelayRequest = z.output<typeof relayRequestSchema>;
export type RelayRequestJson = z.input<typeof relayRequestSchema>;
/** What a relayed request depends on: a block its relay's node must have, a transaction it must have mined. */
export type RelayDependency = Pick<RelayRequest, "notBeforeBlock" | "after">;

/** `POST /v1/relay` → 202: the hash of the relayer's transaction (the same for a repeated request). */
export const relayResponseSchema = z.object({ txHash: bytes32Schema });
export type RelayResponse = z.output<typeof relayResponseSchema>;

/** The JSON body of `POST /v1/relay` for `request` (uint256 fields as decimal strings). */
export function serializeRelayRequest(
  request: ForwardRequest,
  signature: `0x${string}`,
  { notBeforeBlock, after, voucher }: RelayDependency & Pick<RelayRequest, "voucher"> = {},
): RelayRequestJson {
  return {
    request: {
      from: request.from,
      to: request.to,
      value: request.value.toString(),
      gas: request.gas.toString(),
      nonce: request.nonce.toString(),
      deadline: request.deadline,
      data: request.data,
    },
    signature,
    ...(notBeforeBlock === undefined ? {} : { notBeforeBlock: notBeforeBlock.toString() }),
    ...(after === undefined ? {} : { after }),
    ...(voucher === undefined ? {} : { voucher }),
  };
}

// ── Errors ─────────────────────────────────────────────────────────────────────────────────

/** An RFC 9457 problem detail, the body of every error. Extension members are allowed. */
export const problemSchema = z.looseObject({
  type: z.string().min(1),
  title: z.string().min(1),
  status: z.number().int().min(400).max(599),
  detail: z.string(),
});
export type Problem = z.output<typeof problemSchema>;
