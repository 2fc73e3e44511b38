import { Router } from "express";
import { z } from "zod";
import type { AppModule } from "../app.ts";
import { ProblemError } from "../errors.ts";
import { commonProblems, jsonSchema, problemResponse } from "../ops/openapi.ts";
import type { Caller, Guards } from "../seams.ts";
import type { Sponsor } from "./sponsorship.service.ts";

export const SPONSOR_PATH = "/v1/sponsor";

/** `POST /v1/sponsor` → 200. Amounts in wei, as decimal strings. */
export const sponsorResponseSchema = z.object({
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  amount: z.string().regex(/^\d+$/),
  transaction: z
    .string()
    .regex(/^0x[0-9a-f]{64}$/)
    .nullable(),
  balance: z.string().regex(/^\d+$/),
});

export type SponsorshipModuleParameters = {
  sponsor: Pick<Sponsor, "topUp">;
  guards: Pick<Guards, "requireSession">;
};

/** The gas faucet: the signed-in caller's own address is topped up, within daily limits. */
export function sponsorshipModule({ sponsor, guards }: SponsorshipModuleParameters): AppModule {
  const router = Router();
  router.post(SPONSOR_PATH, guards.requireSession, async (_req, res) => {
    const caller = res.locals.caller as Caller | undefined;
    if (caller?.kind !== "session")
      throw new ProblemError("forbidden", "Only a signed-in account can be sponsored (its own address).");
    try {
      const result = await sponsor.topUp(caller.address);
      res.json({
        address: result.address,
        amount: result.amount.toString(),
        transaction: result.transaction,
        balance: result.balance.toString(),
      } satisfies z.input<typeof sponsorResponseSchema>);
    } catch (error) {
      const retry = (error as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retry !== undefined) res.set("Retry-After", String(retry));
      throw error;
    }
  });

  const paths = {
    [SPONSOR_PATH]: {
      post: {
        summary: "Gas faucet: top the caller's own address up so it can send its transactions",
        description:
          "Patients never obtain ether by hand. Tops the signed-in address up to the configured amount; " +
          "nothing is sent when it already has enough. Limited per address and in total per 24 hours " +
          "(kept in the database: restarts do not reset it). Waits for the transfer to be mined.",
        security: [{ session: [] }],
        responses: {
          ...commonProblems,
          "200": {
            description: "Topped up (or already had enough: amount 0, transaction null)",
            content: { "application/json": { schema: jsonSchema(sponsorResponseSchema) } },
          },
          "401": problemResponse("Not signed in"),
          "403": problemResponse("Not a session (operators have no address)"),
          "429": {
            ...problemResponse("The address's or the provider's daily allowance is used up"),
            headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds" } },
          },
          "503": problemResponse("The chain node is unreachable"),
        },
      },
    },
  };
  return { router, paths };
}
