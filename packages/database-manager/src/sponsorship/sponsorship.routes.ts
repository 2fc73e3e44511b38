import { apiPaths } from "@medrec/protocol";
import { Router } from "express";
import type { AppModule } from "../app.ts";
import { PROBLEM_TYPE_BASE } from "../errors.ts";
import { problemResponse } from "../ops/openapi.ts";

export const SPONSOR_PATH = "/v1/sponsor";

/**
 * `POST /v1/sponsor` is retired (issue 8): the faucet sent ether to patients and delegates, which
 * grouped a provider's relationships by their common funder. Nobody needs ether now: sign a forward
 * request and send it to `POST /v1/relay`. Answers 410 Gone, with the relay in `Link` and `relay`.
 */
export function retiredSponsorModule(): AppModule {
  const router = Router();
  router.all(SPONSOR_PATH, (_req, res) => {
    res
      .status(410)
      .set("Link", `<${apiPaths.relay}>; rel="successor-version"`)
      .type("application/problem+json")
      .send(
        JSON.stringify({
          type: `${PROBLEM_TYPE_BASE}gone`,
          title: "Gone",
          status: 410,
          detail: `The gas faucet is retired: nobody needs ether. Sign an EIP-712 ForwardRequest for the MedRecForwarder and POST it to ${apiPaths.relay} (@medrec/protocol relayAndWait does both).`,
          relay: apiPaths.relay,
        }),
      );
  });
  const paths = {
    [SPONSOR_PATH]: {
      post: {
        summary: "Retired gas faucet: use POST /v1/relay",
        deprecated: true,
        responses: {
          "410": problemResponse(`Gone: sign a forward request and send it to ${apiPaths.relay}`),
        },
      },
    },
  };
  return { router, paths };
}
