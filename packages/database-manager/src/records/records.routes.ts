import { patientParamsSchema, uploadRecordsResponseSchema } from "@medrec/protocol";
import { Router } from "express";
import type { AppModule } from "../app.ts";
import { callerOf } from "../auth/auth.guards.ts";
import { ProblemError } from "../errors.ts";
import { commonProblems, jsonSchema, type OpenApiPaths, problemResponse } from "../ops/openapi.ts";
import type { Guards, PatientsService } from "../seams.ts";
import {
  BUNDLE_TYPES,
  NDJSON_TYPES,
  UPLOAD_LIMITS_LOCAL,
  type UploadLimits,
  UploadStream,
} from "./upload.ts";

export type RecordsModuleParameters = {
  /** Uploads go through the patients service, which records each one in the patient's audit log. */
  patients: Pick<PatientsService, "uploadRecords">;
  /** Only `requireStaff` is used: provider staff (a STAFF_ACCOUNTS session, or the operator key). */
  guards: Pick<Guards, "requireStaff">;
};

const bundleSchema = {
  type: "object",
  description:
    "A FHIR R4 Bundle of type `collection`, `transaction` or `batch` (POST or PUT entries). Every entry is validated against the R4 StructureDefinitions and required bindings; a resource with the same type and id as a stored one replaces it.",
  required: ["resourceType", "type"],
  properties: {
    resourceType: { const: "Bundle" },
    type: { enum: ["collection", "transaction"] },
    entry: { type: "array", items: { type: "object", required: ["resource"] } },
  },
} as const;

const paths: OpenApiPaths = {
  "/v1/patients/{mrn}/records": {
    post: {
      summary: "Store FHIR R4 records of a patient (provider staff)",
      description:
        "A Bundle (collection, transaction or batch) or NDJSON (one resource per line), read as a stream. Validates the whole upload (422 naming the element path, or the NDJSON line), then stores it in one transaction (all or nothing) and recomputes the patient's record root once, which the gatekeeper then publishes on the Relationship. Conditional references matching exactly one resource of the upload are rewritten to it; others become logical references (type and identifier). Ids are assigned where missing (`urn:uuid:` fullUrls become ids and references are rewritten); `meta.lastUpdated` is set by the server. Re-sending unchanged resources changes nothing. Recorded in the patient's audit log as `staff.records.upload` (actor, count, salted MRN hash).",
      operationId: "uploadPatientRecords",
      security: [{ session: [] }, { operator: [] }],
      parameters: [
        {
          name: "mrn",
          in: "path",
          required: true,
          description: "The patient's medical record number at this provider",
          schema: jsonSchema(patientParamsSchema.shape.mrn),
        },
      ],
      requestBody: {
        required: true,
        content: {
          "application/fhir+json": { schema: bundleSchema },
          "application/json": { schema: bundleSchema },
          "application/fhir+ndjson": {
            schema: {
              type: "string",
              description:
                "FHIR Bulk Data NDJSON ($import): one FHIR R4 resource per line, references as `Type/id`. Also accepted as application/ndjson and application/x-ndjson.",
            },
          },
        },
      },
      responses: {
        "200": {
          description:
            "Stored: `stored` resources accepted, `changed` of them new or different; `recordRoot` is the committed root",
          content: {
            "application/json": {
              schema: {
                ...jsonSchema(uploadRecordsResponseSchema),
                properties: {
                  ...(jsonSchema(uploadRecordsResponseSchema) as { properties?: object }).properties,
                  mrn: { type: "string" },
                  changed: { type: "integer", minimum: 0 },
                },
              },
            },
          },
        },
        ...commonProblems,
        "401": problemResponse("Not signed in, or no valid operator key"),
        "403": problemResponse("Signed in, but not as this provider's staff"),
        "404": problemResponse("No patient with this MRN at this provider"),
        "413": problemResponse(
          "The upload exceeds RECORDS_UPLOAD_LIMIT_BYTES (default 64 MiB) or RECORDS_UPLOAD_MAX_RESOURCES (default 30,000); the detail names the limit and the alternative (several uploads; NDJSON)",
        ),
        "415": problemResponse(
          "Neither a FHIR Bundle (application/fhir+json) nor NDJSON (application/fhir+ndjson)",
        ),
        "422": problemResponse(
          "Not a valid FHIR R4 collection/transaction Bundle; the detail names the failing element path (e.g. `Bundle.entry[3].resource.birthDate: Invalid date format`). Nothing was stored.",
        ),
      },
    },
  },
};

/** The upload's format from its `Content-Type` (parameters such as charset ignored). */
export function uploadFormatOf(contentType: string | undefined): "bundle" | "ndjson" | undefined {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if ((NDJSON_TYPES as readonly string[]).includes(type)) return "ndjson";
  if ((BUNDLE_TYPES as readonly string[]).includes(type)) return "bundle";
  return undefined;
}

/**
 * `POST /v1/patients/{mrn}/records` with its OpenAPI path, guarded by `requireStaff`. The body is
 * not parsed by the app's JSON parser (`isStreamedUpload`, upload.ts): the records service
 * reads it as a stream, within RECORDS_UPLOAD_LIMIT_BYTES.
 */
export function recordsModule({ patients, guards }: RecordsModuleParameters): AppModule {
  const router = Router();
  router.post("/v1/patients/:mrn/records", guards.requireStaff, async (req, res) => {
    try {
      const { mrn } = patientParamsSchema.parse(req.params);
      let upload: unknown = req.body;
      if (upload === undefined) {
        const format = uploadFormatOf(req.headers["content-type"]);
        if (format === undefined) {
          if (!req.headers["content-type"] && !Number(req.headers["content-length"] ?? 0)) {
            throw new ProblemError(
              "unprocessable",
              "Bundle: the request has no body (send application/fhir+json or application/fhir+ndjson)",
            );
          }
          throw new ProblemError(
            "unsupported-media-type",
            "Send a FHIR Bundle as application/fhir+json, or resources as application/fhir+ndjson (one per line).",
          );
        }
        upload = new UploadStream(format, req, res.locals[UPLOAD_LIMITS_LOCAL] as UploadLimits | undefined);
      }
      const result = await patients.uploadRecords(callerOf(res), mrn, upload);
      res.json({ mrn, stored: result.stored, changed: result.changed, recordRoot: result.root });
    } finally {
      // What was not read is discarded, so that the answer still reaches the client.
      if (!req.readableEnded) req.resume();
    }
  });
  return { router, paths };
}
