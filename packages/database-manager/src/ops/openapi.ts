import { z } from "zod";

/** OpenAPI 3.1 path items, keyed by path template (`/v1/relationships/{relationship}`). */
export type OpenApiPaths = Record<string, Record<string, unknown>>;

/** JSON Schema (2020-12, which OpenAPI 3.1 uses) of a zod schema. */
export const jsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });

export const problemSchema = {
  type: "object",
  required: ["type", "title", "status", "detail"],
  properties: {
    type: { type: "string", format: "uri" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
  },
} as const;

/** A response that is an RFC 9457 problem. */
export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});

/** The operations' common error answers. */
export const commonProblems = {
  "400": problemResponse("Malformed request (the detail names the field)"),
  "429": problemResponse("Rate limit exceeded"),
  "500": problemResponse("Internal error (no details leak)"),
};

export const opsPaths: OpenApiPaths = {
  "/healthz": {
    get: {
      summary: "Readiness: 200 only when the database and the chain view are reachable and current",
      responses: {
        "200": { description: "Healthy", content: { "application/json": { schema: { type: "object" } } } },
        "503": {
          description: "A dependency is failing",
          content: { "application/json": { schema: { type: "object" } } },
        },
      },
    },
  },
  "/openapi.json": {
    get: {
      summary: "This document",
      responses: {
        "200": {
          description: "OpenAPI 3.1",
          content: { "application/json": { schema: { type: "object" } } },
        },
      },
    },
  },
};

/** The gatekeeper's OpenAPI 3.1 document from every module's paths. */
export function buildOpenApi({ publicUrl, paths }: { publicUrl: string; paths: OpenApiPaths[] }) {
  return {
    openapi: "3.1.0",
    info: {
      title: "MedRec gatekeeper",
      version: "1",
      description:
        "A provider's gatekeeper (the MedRec protocol, v1: docs/protocol.md in the MedRec repository): FHIR R4 records served only with on-chain permission. Errors are RFC 9457 application/problem+json.",
    },
    servers: [{ url: publicUrl }],
    paths: Object.assign({}, opsPaths, ...paths),
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        session: { type: "http", scheme: "bearer", description: "Token from POST /v1/auth/session (SIWE)" },
        operator: { type: "apiKey", in: "header", name: "X-Operator-Key" },
      },
    },
  };
}
