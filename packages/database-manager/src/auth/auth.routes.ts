import { nonceResponseSchema, sessionRequestSchema, sessionResponseSchema } from "@medrec/protocol";
import { Router } from "express";
import { commonProblems, jsonSchema, type OpenApiPaths, problemResponse } from "../ops/openapi.ts";
import type { Guards } from "../seams.ts";
import { sessionTokenHashOf } from "./auth.guards.ts";
import type { AuthService } from "./auth.service.ts";

/** `/v1/auth/*`: nonce, sign-in, sign-out. */
export function authRouter(service: AuthService, guards: Guards): Router {
  const router = Router();
  router.get("/v1/auth/nonce", async (_req, res) => {
    const nonce = await service.issueNonce();
    res.setHeader("Cache-Control", "no-store");
    res.json({ nonce });
  });
  router.post("/v1/auth/session", async (req, res) => {
    const { token, address, expiresAt } = await service.signIn(req.body);
    res.setHeader("Cache-Control", "no-store");
    res.json({ token, address, expiresAt: expiresAt.toISOString() });
  });
  router.delete("/v1/auth/session", guards.requireSession, async (_req, res) => {
    await service.endSession(sessionTokenHashOf(res));
    res.status(204).end();
  });
  return router;
}

const json = (schema: Parameters<typeof jsonSchema>[0]) => ({
  "application/json": { schema: jsonSchema(schema) },
});

export const authPaths: OpenApiPaths = {
  "/v1/auth/nonce": {
    get: {
      operationId: "getNonce",
      tags: ["auth"],
      summary: "A single-use sign-in nonce (≥ 16 alphanumerics, valid 5 minutes)",
      responses: {
        "200": { description: "A fresh nonce", content: json(nonceResponseSchema) },
        "429": commonProblems["429"],
        "500": commonProblems["500"],
      },
    },
  },
  "/v1/auth/session": {
    post: {
      operationId: "signIn",
      tags: ["auth"],
      summary: "Sign in with Ethereum (EIP-4361): a session of at most 1 h",
      description:
        "Refused with 401 unless the signature recovers the message's address; `domain` is this gatekeeper's host[:port]; `uri` is under its base URL; `chain-id` is the network's; the nonce was issued here, is unexpired and unused (any attempt consumes it); `issued-at` is at most 60 s ahead; `expiration-time` is present and in the future.",
      requestBody: { required: true, content: json(sessionRequestSchema) },
      responses: {
        "200": { description: "Session opened", content: json(sessionResponseSchema) },
        "400": problemResponse("The body is not valid JSON"),
        "401": problemResponse("Sign-in refused (the detail names the rule, never the values)"),
        "413": problemResponse("Body too large"),
        "429": commonProblems["429"],
        "500": commonProblems["500"],
      },
    },
    delete: {
      operationId: "signOut",
      tags: ["auth"],
      summary: "End the session of the bearer token",
      security: [{ session: [] }],
      responses: {
        "204": { description: "Session ended" },
        "401": problemResponse("No valid session"),
        "429": commonProblems["429"],
        "500": commonProblems["500"],
      },
    },
  },
};
