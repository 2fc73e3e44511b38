import {
  apiPaths,
  type CreatePatientResponse,
  createPatientRequestSchema,
  createPatientResponseSchema,
} from "@medrec/protocol";
import { Router } from "express";
import type { AppModule } from "../app.ts";
import { callerOf } from "../auth/auth.guards.ts";
import { commonProblems, jsonSchema, problemResponse } from "../ops/openapi.ts";
import type { Guards, PatientsService } from "../seams.ts";

export type PatientsModuleParameters = {
  patients: Pick<PatientsService, "link">;
  guards: Pick<Guards, "requireStaff">;
};

/** `POST /v1/patients` (provider staff): links MRN ↔ patient and creates the Relationship on chain. */
export function patientsModule({ patients, guards }: PatientsModuleParameters): AppModule {
  const router = Router();
  router.post(apiPaths.patients, guards.requireStaff, async (req, res) => {
    const { mrn, patientAddress } = createPatientRequestSchema.parse(req.body ?? {});
    const result = await patients.link(callerOf(res), mrn, patientAddress);
    const body: CreatePatientResponse = {
      patientId: result.patientId,
      mrn,
      patientAddress,
      relationship: result.relationship,
    };
    res.status(result.created ? 201 : 200).json(body);
  });

  const paths = {
    [apiPaths.patients]: {
      post: {
        summary: "Link a patient (MRN ↔ agent address) and create their Relationship on chain",
        description:
          "Provider staff only (a STAFF_ACCOUNTS session or the operator key); recorded in the patient's audit log as `staff.patient.link`. Idempotent: the same MRN and address again answers 200 with the same relationship. " +
          "The provider's name and gatekeeper URL are sealed to the patient's X25519 key; no MRN goes on chain.",
        security: [{ session: [] }, { operator: [] }],
        requestBody: {
          required: true,
          content: { "application/json": { schema: jsonSchema(createPatientRequestSchema) } },
        },
        responses: {
          "201": {
            description: "Linked; the relationship was created",
            content: { "application/json": { schema: jsonSchema(createPatientResponseSchema) } },
          },
          "200": {
            description: "Already linked (same MRN and address); nothing new on chain",
            content: { "application/json": { schema: jsonSchema(createPatientResponseSchema) } },
          },
          "401": problemResponse("Not signed in"),
          "403": problemResponse("Not provider staff"),
          "409": problemResponse("The MRN or the address is already linked to another patient"),
          "422": problemResponse("The address is not a registered MedRec agent"),
          "503": problemResponse("The chain node is unreachable"),
          ...commonProblems,
        },
      },
    },
  };
  return { router, paths };
}
