import {
  AUDIT_PAGE_DEFAULT,
  AUDIT_PAGE_MAX,
  apiPaths,
  auditConsistencyQuerySchema,
  auditConsistencyResponseSchema,
  auditHeadResponseSchema,
  auditQuerySchema,
  auditResponseSchema,
  bytes32Schema,
  dateTimeSchema,
  RECORDS_PAGE_DEFAULT,
  RECORDS_PAGE_MAX,
  recordsQuerySchema,
  relationshipsResponseSchema,
  SCOPE_CODES,
  type ScopeCode,
} from "@medrec/protocol";
import { type Request, Router } from "express";
import type { Hex } from "viem";
import { z } from "zod";
import type { GatekeeperAuditLog } from "../audit/audit.log.ts";
import { callerOf } from "../auth/auth.guards.ts";
import { ProblemError } from "../errors.ts";
import { commonProblems, jsonSchema, type OpenApiPaths, problemResponse } from "../ops/openapi.ts";
import type { Guards } from "../seams.ts";
import type { AccessService } from "./access.service.ts";

const QUERY_KEYS = new Set(["category", "_since", "_count", "_root", "_offset"]);
const categorySchema = recordsQuerySchema.shape.category.unwrap();
const sinceSchema = recordsQuerySchema.shape._since.unwrap();
const DIGITS = /^[0-9]{1,9}$/;

const badRequest = (detail: string) => new ProblemError("bad-request", detail);

/** The `{relationship}` path parameter: 0x + 64 hex, lower-cased. */
export function parseRelationship(value: unknown): Hex {
  const parsed = bytes32Schema.safeParse(value);
  if (!parsed.success) throw badRequest("relationship: must be 0x followed by 64 hex digits.");
  return parsed.data as Hex;
}

/** A records query as parsed: filters, and the page (`_root` and `_offset` only on next pages). */
export type ParsedRecordsQuery = {
  category?: ScopeCode;
  sinceMs?: number;
  /** The `_since` text as given (kept in page links). */
  since?: string;
  count: number;
  root?: Hex;
  offset: number;
};

/**
 * `?category=&_since=&_count=&_root=&_offset=`, strictly: known keys, given once, valid values
 * (never echoed). `_root` and `_offset` come together, from a `next` link.
 */
export function parseRecordsQuery(query: Request["query"]): ParsedRecordsQuery {
  for (const key of Object.keys(query))
    if (!QUERY_KEYS.has(key))
      throw badRequest(`Only the query parameters ${[...QUERY_KEYS].join(", ")} are accepted.`);
  const result: ParsedRecordsQuery = { count: RECORDS_PAGE_DEFAULT, offset: 0 };
  const given = query as Record<string, unknown>;
  for (const key of QUERY_KEYS)
    if (given[key] !== undefined && typeof given[key] !== "string") throw badRequest(`${key}: give it once.`);
  const { category, _since, _count, _root, _offset } = given as Record<string, string | undefined>;
  if (category !== undefined) {
    const parsed = categorySchema.safeParse(category);
    if (!parsed.success) throw badRequest(`category: must be one of ${SCOPE_CODES.join(", ")}.`);
    result.category = parsed.data;
  }
  if (_since !== undefined) {
    const ms = sinceSchema.safeParse(_since).success ? Date.parse(_since) : Number.NaN;
    if (Number.isNaN(ms))
      throw badRequest("_since: must be an ISO 8601 date (2024-01-31) or date-time with a time zone.");
    result.sinceMs = ms;
    result.since = _since;
  }
  if (_count !== undefined) {
    const n = DIGITS.test(_count) ? Number(_count) : 0;
    if (n < 1 || n > RECORDS_PAGE_MAX)
      throw badRequest(
        `_count: must be an integer from 1 to ${RECORDS_PAGE_MAX} (default ${RECORDS_PAGE_DEFAULT}).`,
      );
    result.count = n;
  }
  if ((_root === undefined) !== (_offset === undefined))
    throw badRequest(
      "_root and _offset come together, from a next link; start from the first page without them.",
    );
  if (_root !== undefined && _offset !== undefined) {
    if (!bytes32Schema.safeParse(_root).success)
      throw badRequest("_root: must be 0x followed by 64 hex digits (copy the next link as given).");
    if (!DIGITS.test(_offset))
      throw badRequest("_offset: must be a non-negative integer (copy the next link as given).");
    result.root = _root.toLowerCase() as Hex;
    result.offset = Number(_offset);
  }
  return result;
}

/**
 * The FHIR base that names a relationship's records in `Bundle.entry.fullUrl`:
 * `<PUBLIC_URL>/v1/relationships/<relationship>/fhir` — an identity, not a read endpoint.
 */
export function recordsFullUrlBase(publicUrl: string, relationship: Hex): string {
  return `${publicUrl.replace(/\/+$/, "")}/v1/relationships/${relationship.toLowerCase()}/fhir`;
}

/** The URL of a records page (relative to the gatekeeper's base URL), filters first, then the page. */
export function recordsPageUrl(
  relationship: Hex,
  query: Pick<ParsedRecordsQuery, "category" | "since" | "count">,
  page?: { root: Hex; offset: number },
): string {
  const params = new URLSearchParams();
  if (query.category !== undefined) params.set("category", query.category);
  if (query.since !== undefined) params.set("_since", query.since);
  params.set("_count", String(query.count));
  if (page) {
    params.set("_root", page.root);
    params.set("_offset", String(page.offset));
  }
  return `${apiPaths.records(relationship)}?${params.toString()}`;
}

/** A request's caller, who must be a signed-in account (operators read no records). */
function accountOf(res: Parameters<typeof callerOf>[0]) {
  const caller = callerOf(res);
  if (caller.kind !== "session") throw new ProblemError("forbidden", "Sign in with an account.");
  return caller.address;
}

/** `/v1/relationships…`: the read API. */
export function accessRouter(
  service: AccessService,
  guards: Guards,
  audit: Pick<GatekeeperAuditLog, "head" | "consistency">,
  publicUrl?: string,
): Router {
  const router = Router();
  router.get("/v1/relationships", guards.requireSession, async (_req, res) => {
    const summaries = await service.relationshipsOf(accountOf(res));
    res.setHeader("Cache-Control", "no-store");
    res.json(summaries);
  });
  router.get("/v1/relationships/:relationship/records", guards.requireSession, async (req, res) => {
    const relationship = parseRelationship(req.params.relationship);
    const query = parseRecordsQuery(req.query);
    const { body, next } = await service.records({
      relationship,
      caller: accountOf(res),
      category: query.category,
      sinceMs: query.sinceMs,
      page: {
        count: query.count,
        offset: query.offset,
        root: query.root,
        url: (root, offset) => recordsPageUrl(relationship, query, { root, offset }),
      },
      fullUrlBase: publicUrl === undefined ? undefined : recordsFullUrlBase(publicUrl, relationship),
    });
    if (next !== undefined) res.setHeader("Link", `<${next}>; rel="next"`);
    // Written directly: the text is final, and express's ETag would hash every body again.
    res.status(200);
    res.setHeader("Content-Type", "application/fhir+json; charset=utf-8");
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("Content-Length", Buffer.byteLength(body));
    res.end(body);
  });
  router.get("/v1/relationships/:relationship/audit", guards.requireSession, async (req, res) => {
    const relationship = parseRelationship(req.params.relationship);
    const query = strictQuery(req.query, auditQuerySchema, ["after", "before", "order", "limit"]);
    const { entries, next } = await service.auditOf(relationship, accountOf(res), query);
    res.setHeader("Cache-Control", "no-store");
    if (next !== undefined)
      res.setHeader(
        "Link",
        query.order === "desc"
          ? `<${apiPaths.audit(relationship)}?order=desc&before=${next}&limit=${query.limit}>; rel="next"`
          : `<${apiPaths.audit(relationship)}?after=${next}&limit=${query.limit}>; rel="next"`,
      );
    res.json(entries);
  });
  router.get(apiPaths.auditHead, guards.requireSession, async (_req, res) => {
    res.setHeader("Cache-Control", "no-store");
    res.json(await audit.head());
  });
  router.get(apiPaths.auditConsistency, guards.requireSession, async (req, res) => {
    const { from, to } = strictQuery(req.query, auditConsistencyQuerySchema, ["from", "to"]);
    const proof = await audit.consistency(from, to);
    if (!proof) throw badRequest("from and to must be tree sizes with 1 ≤ from ≤ to ≤ the log's size.");
    res.setHeader("Cache-Control", "public, max-age=31536000, immutable");
    res.json({ from, to, proof });
  });
  return router;
}

/** A query of only `keys`, each given once, valid for `schema` (values never echoed). */
function strictQuery<T extends z.ZodType>(
  query: Request["query"],
  schema: T,
  keys: readonly string[],
): z.output<T> {
  for (const [key, value] of Object.entries(query)) {
    if (!keys.includes(key)) throw badRequest(`Only the query parameters ${keys.join(", ")} are accepted.`);
    if (typeof value !== "string") throw badRequest(`${key}: give it once.`);
  }
  const parsed = schema.safeParse(query);
  if (!parsed.success)
    throw badRequest(`${parsed.error.issues.map((i) => i.path.join(".") || "query").join(", ")}: invalid.`);
  return parsed.data;
}

const relationshipParameter = {
  name: "relationship",
  in: "path",
  required: true,
  description: "The Relationship id (0x + 64 hex digits)",
  schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" },
};
const sessionOnly = [{ session: [] }];
const permissionProblems = {
  "400": problemResponse("A parameter is invalid (the detail names it)"),
  "401": problemResponse("No valid session"),
  "403": problemResponse(
    "Not permitted — the same answer whether or not the relationship exists at this provider",
  ),
  "429": problemResponse("Too many requests, or too many refused requests by this caller this minute"),
  "500": commonProblems["500"],
  "503": problemResponse("The chain view is not current (fail closed) or the decision could not be audited"),
};

/** A FHIR R4 Bundle with the record root and per-entry proofs (docs/protocol.md), loosely described. */
const bundleSchema = {
  type: "object",
  required: ["resourceType", "type", "meta", "total"],
  properties: {
    resourceType: { const: "Bundle" },
    type: { const: "searchset" },
    total: { type: "integer", minimum: 0, description: "Every match of the search, on all pages" },
    link: {
      type: "array",
      description:
        "`self` and, while more entries follow, `next` (URLs relative to the gatekeeper's base URL)",
      items: {
        type: "object",
        required: ["relation", "url"],
        properties: { relation: { type: "string" }, url: { type: "string" } },
      },
    },
    meta: {
      type: "object",
      description: "`extension` carries the record root: url https://medrec.dev/fhir/record-root",
    },
    entry: {
      type: "array",
      items: {
        type: "object",
        required: ["fullUrl", "resource", "extension"],
        description:
          "`extension` carries the proof: url https://medrec.dev/fhir/record-proof, comma-separated 0x siblings",
        properties: {
          fullUrl: {
            type: "string",
            description:
              "`<gatekeeper>/v1/relationships/<relationship>/fhir/<Type>/<id>`: the record's identity, against which its relative references resolve; not a read endpoint, not hashed",
          },
        },
      },
    },
  },
};

export const accessPaths: OpenApiPaths = {
  "/v1/relationships": {
    get: {
      operationId: "listRelationships",
      tags: ["records"],
      summary: "Relationships at this provider in which the caller is the patient or a current viewer",
      security: sessionOnly,
      responses: {
        "200": {
          description: "The caller's relationships",
          content: { "application/json": { schema: jsonSchema(relationshipsResponseSchema) } },
        },
        "401": permissionProblems["401"],
        "429": commonProblems["429"],
        "500": commonProblems["500"],
        "503": problemResponse("The chain view is not current (fail closed)"),
      },
    },
  },
  "/v1/relationships/{relationship}/records": {
    get: {
      operationId: "readRecords",
      tags: ["records"],
      summary: "The FHIR R4 records of a relationship the caller may see, with Merkle proofs",
      description:
        "The patient sees every entry; a viewer with an unexpired, unrevoked grant sees the entries whose required scopes (incl. `sensitive`) the grant fully covers, and only a category it covers. Paged as FHIR searchsets are (`_count`, `total`, `link` `next`); the pages of one search all come from the record set of the first page. Every decision (every page) is audited before the answer.",
      security: sessionOnly,
      parameters: [
        relationshipParameter,
        {
          name: "category",
          in: "query",
          required: false,
          description: "Only this scope's entries",
          schema: { type: "string", enum: [...SCOPE_CODES] },
        },
        {
          name: "_since",
          in: "query",
          required: false,
          description: "Only entries updated at or after this ISO 8601 date or date-time",
          schema: jsonSchema(z.union([z.iso.date(), dateTimeSchema])),
        },
        {
          name: "_count",
          in: "query",
          required: false,
          description: `Entries per page (default ${RECORDS_PAGE_DEFAULT}, at most ${RECORDS_PAGE_MAX})`,
          schema: { type: "integer", minimum: 1, maximum: RECORDS_PAGE_MAX, default: RECORDS_PAGE_DEFAULT },
        },
        {
          name: "_root",
          in: "query",
          required: false,
          description:
            "Next pages only, as the `next` link gives it: the record root of the first page. A root that is no longer current is refused with 409 (start again).",
          schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" },
        },
        {
          name: "_offset",
          in: "query",
          required: false,
          description: "Next pages only, with `_root`: index of the page's first entry among the matches",
          schema: { type: "integer", minimum: 0 },
        },
      ],
      responses: {
        "200": {
          description:
            'One page of a searchset Bundle: `total` counts every match, `link` has `self` and, while more entries follow, `next` (also sent as a `Link: <…>; rel="next"` header). Every entry carries its proof against the root in `Bundle.meta`, the same root on every page.',
          headers: {
            Link: { description: "The next page, when there is one", schema: { type: "string" } },
          },
          content: { "application/fhir+json": { schema: bundleSchema } },
        },
        ...permissionProblems,
        "409": problemResponse(
          "A next page of a record set that has changed since the first page: start again from the first page",
        ),
      },
    },
  },
  "/v1/relationships/{relationship}/audit": {
    get: {
      operationId: "readAudit",
      tags: ["audit"],
      summary:
        "Every access decision and staff action on the relationship, hash-chained, with proofs (patient only)",
      description:
        "Paged in chain order, or newest first with `order=desc`. Each entry carries `leafIndex`, its position in this provider's audit log (an RFC 9162 Merkle tree), and, when inside the latest tree head anchored on chain (AuditAnchor `TreeHeadAnchored`), `inclusion`: the audit path to that head (computed for the page's entries only). Refusals are recorded after the answer (adr/0014): by a caller that ever held a grant on the relationship, each its own entry; by anyone else, counted per hour and logged as one `refusals.aggregate` entry (`count` refusals from `actors` accounts) once the hour has closed; on relationships this provider does not hold, counted in metrics only. A caller's refusals beyond AUDIT_DENIALS_PER_MINUTE get 429.",
      security: sessionOnly,
      parameters: [
        relationshipParameter,
        {
          name: "after",
          in: "query",
          required: false,
          description:
            "Chain order: continue after the entry with this hash (from the `Link: rel=next` header)",
          schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" },
        },
        {
          name: "before",
          in: "query",
          required: false,
          description: "Newest first: continue with the entries older than the one with this hash",
          schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" },
        },
        {
          name: "order",
          in: "query",
          required: false,
          description: "`asc` (chain order, the default) or `desc` (newest first)",
          schema: { type: "string", enum: ["asc", "desc"], default: "asc" },
        },
        {
          name: "limit",
          in: "query",
          required: false,
          description: `Entries per page (default ${AUDIT_PAGE_DEFAULT}, at most ${AUDIT_PAGE_MAX})`,
          schema: { type: "integer", minimum: 1, maximum: AUDIT_PAGE_MAX, default: AUDIT_PAGE_DEFAULT },
        },
      ],
      responses: {
        "200": {
          description:
            'One page of entries in order; `prevHash` of the first entry of the relationship is 32 zero bytes. A `Link: <…?after=…&limit=…>; rel="next"` header says where the next page starts.',
          headers: {
            Link: { description: "The next page, when there may be one", schema: { type: "string" } },
          },
          content: { "application/json": { schema: jsonSchema(auditResponseSchema) } },
        },
        ...permissionProblems,
      },
    },
  },
  [apiPaths.auditHead]: {
    get: {
      operationId: "readAuditHead",
      tags: ["audit"],
      summary: "Where this gatekeeper anchors its audit log, and its latest anchored tree head",
      security: sessionOnly,
      responses: {
        "200": {
          description: "Anchor contract, log account, latest anchored head, current size",
          content: { "application/json": { schema: jsonSchema(auditHeadResponseSchema) } },
        },
        "401": permissionProblems["401"],
        "429": commonProblems["429"],
        "500": commonProblems["500"],
      },
    },
  },
  [apiPaths.auditConsistency]: {
    get: {
      operationId: "readAuditConsistency",
      tags: ["audit"],
      summary: "RFC 9162 consistency proof between two tree sizes of the audit log",
      security: sessionOnly,
      parameters: ["from", "to"].map((name) => ({
        name,
        in: "query",
        required: true,
        description: "A tree size: 1 ≤ from ≤ to ≤ the log's size",
        schema: { type: "integer", minimum: 1 },
      })),
      responses: {
        "200": {
          description: "PROOF(from, D[0:to])",
          content: { "application/json": { schema: jsonSchema(auditConsistencyResponseSchema) } },
        },
        "400": permissionProblems["400"],
        "401": permissionProblems["401"],
        "429": commonProblems["429"],
        "500": commonProblems["500"],
      },
    },
  },
};
