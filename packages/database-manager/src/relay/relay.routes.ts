import { apiPaths, relayResponseSchema } from "@medrec/protocol";
import { type ErrorRequestHandler, Router } from "express";
import { rateLimit } from "express-rate-limit";
import type { AppModule } from "../app.ts";
import { PROBLEM_TYPE_BASE, problem, sendProblem } from "../errors.ts";
import type { Metrics } from "../ops/metrics.ts";
import { commonProblems, jsonSchema, problemResponse } from "../ops/openapi.ts";
import { looksProtective, PROTECTIVE_FUNCTIONS } from "./admission.ts";
import { describeAllowlist } from "./allowlist.ts";
import { DEPENDENCY_MAX_AHEAD_BLOCKS, DEPENDENCY_MAX_WAIT_MS, DEPENDENCY_MAX_WAITING } from "./dependency.ts";
import {
  MAX_CONCURRENT_CHECKS,
  MAX_DEADLINE_AHEAD_SECONDS,
  RELAY_CHECKS,
  RelayRefusal,
  type RelayService,
} from "./relay.service.ts";

export const RELAY_PATH = apiPaths.relay;

/** The `type` of a relay refusal's problem: one per check. */
export const relayProblemType = (check: string) => `${PROBLEM_TYPE_BASE}relay/${check}`;

export type RelayModuleParameters = {
  relay: Pick<RelayService, "relay">;
  /** POST /v1/relay calls per client address per minute. */
  ratePerMinute: number;
  metrics?: Pick<Metrics, "relayRequests">;
};

/**
 * `POST /v1/relay` (no session: the EIP-712 signature is the authentication), rate limited per
 * client — except protective calls (adr/0013): a flood from the patient's own address (a shared
 * NAT, an attacker beside them) must not hold back a revoke; the lanes bound those instead.
 */
export function relayModule({ relay, ratePerMinute, metrics }: RelayModuleParameters): AppModule {
  const router = Router();
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: ratePerMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    skip: (req) => looksProtective(req.body),
    handler: (_req, res) => {
      metrics?.relayRequests.inc({ outcome: "rate-limited" });
      sendProblem(res, problem("too-many-requests", "Too many relay requests from this client; slow down."));
    },
  });
  router.post(RELAY_PATH, limiter, async (req, res) => {
    const result = await relay.relay(req.body);
    metrics?.relayRequests.inc({ outcome: result.repeated ? "repeated" : "relayed" });
    res.status(202).json({ txHash: result.txHash });
  });
  const refusals: ErrorRequestHandler = (error, _req, res, next) => {
    if (!(error instanceof RelayRefusal) || res.headersSent) return next(error);
    metrics?.relayRequests.inc({ outcome: error.check });
    if (error.retryAfterSeconds !== undefined) res.set("Retry-After", String(error.retryAfterSeconds));
    const base = problem(error.kind, error.detail);
    res
      .status(base.status)
      .type("application/problem+json")
      .send(
        JSON.stringify({
          ...base,
          type: relayProblemType(error.check),
          check: error.check,
          ...(error.revert === undefined ? {} : { revert: error.revert }),
        }),
      );
  };
  router.use(RELAY_PATH, refusals);

  const statuses = Object.entries(RELAY_CHECKS).reduce<Record<string, string[]>>((acc, [check, kind]) => {
    const status = String(problem(kind, "").status);
    acc[status] = [...(acc[status] ?? []), check];
    return acc;
  }, {});
  const refused = (status: string, what: string) =>
    problemResponse(`${what} — \`check\`: ${(statuses[status] ?? []).join(", ")}`);

  const paths = {
    [RELAY_PATH]: {
      post: {
        summary: "Relay a signed ERC-2771 forward request: the gatekeeper's relayer pays the gas",
        description:
          "Body: `{request: {from, to, value, gas, nonce, deadline, data}, signature}` — an EIP-712 " +
          "`ForwardRequest` of the network's MedRecForwarder (domain `MedRecForwarder`, version `1`), signed by " +
          "`from` (`@medrec/protocol` `relayAndWait` builds, signs, submits and waits). No session: the " +
          "signature is the authentication; calls are rate limited per client. Relayed only when `to` is " +
          `this network's Agent or Relationship and the function is one of: ${describeAllowlist()}; ` +
          `\`value\` is 0; the deadline is in the future and at most ${MAX_DEADLINE_AHEAD_SECONDS} s ahead; ` +
          "`gas` is within the relay's cap; " +
          "then, when the body names a dependency — `notBeforeBlock` (the block the client saw its prerequisite " +
          "in) and/or `after` (the transaction it follows) — that this relay's node has not seen yet, the relay " +
          `waits for it (at most ${DEPENDENCY_MAX_WAIT_MS / 1000} s; refused at once when \`notBeforeBlock\` is more than ` +
          `${DEPENDENCY_MAX_AHEAD_BLOCKS} blocks ahead of its node or ${DEPENDENCY_MAX_WAITING} requests already wait) before: ` +
          "`nonce` is the forwarder's `nonces(from)`; the forwarder's " +
          "`verify` accepts it; its lane's limits allow it (below); and `eth_call` of the forwarder's `execute` " +
          "from the relayer succeeds. " +
          "Admission (adr/0013): each request is served in a lane and charged to a budget key that a stranger " +
          `cannot mint for free. **protective** — ${Object.entries(PROTECTIVE_FUNCTIONS)
            .flatMap(([c, fns]) => fns.map((f) => `${c}.${f}`))
            .join(
              ", ",
            )} on an agent that has a relationship (or by a relationship's provider): sent before any other ` +
          "waiting request, never counted against the daily totals, RELAY_PROTECTIVE_DAILY_REQUESTS per agent or " +
          "relationship and one unmined at a time (`protective-in-flight`), not rate limited per client. **linked** — " +
          "any other call on such an agent (key: the agent) or by a relationship's provider (key: the relationship): " +
          "RELAY_SIGNER_DAILY_REQUESTS per key (`signer-limit`). **open** — everything else: Agent.register, " +
          "Relationship.create, calls on an agent without a relationship (key: the signer, which is free to mint): " +
          "the whole lane is bounded by RELAY_OPEN_DAILY_REQUESTS and RELAY_OPEN_DAILY_GAS (`open-lane-limit`), " +
          "checked before the node is asked anything. **member** — open-lane work whose body carries a `voucher` " +
          "that recovers to one of this relay's member addresses (the consortium's shared RELAY_MEMBER_KEY, " +
          "RELAY_MEMBER_ADDRESSES; a gatekeeper's own requests, e.g. its delegates' creations): its own budget, " +
          "RELAY_MEMBER_DAILY_REQUESTS and RELAY_MEMBER_DAILY_GAS (`member-lane-limit`), apart from the open lane " +
          "and the daily totals; any other voucher is refused (`bad-voucher`, 401); a relay with no member " +
          "address ignores vouchers. Linked and open work together: RELAY_DAILY_REQUESTS " +
          "(`daily-limit`), RELAY_DAILY_GAS (`gas-budget`) and at most RELAY_MAX_IN_FLIGHT unmined transactions " +
          "(`relayer-busy`, 503 Retry-After 1), so a protective transaction is never more than that many behind; " +
          `a call not to a protective function also takes one of ${MAX_CONCURRENT_CHECKS} checking slots before anything ` +
          "is verified (`relayer-busy` at once when none is free), so a flood costs the relay bounded work. " +
          "Gas is charged from receipts' `gasUsed` (reverted calls too), the gas limit while in flight; every limit " +
          "counts the last 24 h in the database. " +
          "The same request again answers the same transaction. Every refusal is problem+json whose " +
          "`type` ends in `relay/<check>` and whose `check` member names the check that failed " +
          "(`revert` names the contract error of a simulated revert).",
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: {
                type: "object",
                required: ["request", "signature"],
                properties: {
                  request: {
                    type: "object",
                    required: ["from", "to", "value", "gas", "nonce", "deadline", "data"],
                    properties: {
                      from: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
                      to: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" },
                      value: { type: "string", pattern: "^[0-9]+$", description: "uint256, decimal" },
                      gas: { type: "string", pattern: "^[0-9]+$", description: "uint256, decimal" },
                      nonce: { type: "string", pattern: "^[0-9]+$", description: "uint256, decimal" },
                      deadline: { type: "integer", description: "uint48, unix seconds" },
                      data: { type: "string", pattern: "^0x([0-9a-fA-F]{2})*$" },
                    },
                  },
                  signature: { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" },
                  notBeforeBlock: {
                    type: "string",
                    pattern: "^[0-9]+$",
                    description:
                      "Optional, not signed: the block the client saw the request's prerequisite in; the relay waits until its node has it",
                  },
                  after: {
                    type: "string",
                    pattern: "^0x[0-9a-fA-F]{64}$",
                    description:
                      "Optional, not signed: the hash of the transaction the request follows; the relay waits until its node has mined it",
                  },
                  voucher: {
                    type: "string",
                    pattern: "^0x[0-9a-fA-F]{130}$",
                    description:
                      "Optional, not signed by `from`: the consortium member key's EIP-712 signature of `RelayVoucher(bytes32 request)` (the request's EIP-712 digest) in the domain \"medrec relay voucher\", version 1, this chain, the forwarder (`@medrec/protocol` `signVoucher`)",
                  },
                },
              },
            },
          },
        },
        responses: {
          ...commonProblems,
          "202": {
            description: "Sent (or sent before: the same transaction); wait for its receipt",
            content: { "application/json": { schema: jsonSchema(relayResponseSchema) } },
          },
          "400": refused("400", "Not a relay request"),
          "401": refused("401", "The signature, or the member voucher, does not hold"),
          "403": refused("403", "Not a MedRec contract, or a function this relay does not pay for"),
          "409": refused("409", "Not the signer's next nonce"),
          "422": refused(
            "422",
            "Refused: value, deadline, gas cap, `notBeforeBlock` too far ahead, or the call reverts",
          ),
          "429": {
            ...refused(
              "429",
              "A limit of the request's lane is reached (or the per-client rate limit, without `check`)",
            ),
            headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds" } },
          },
          "503": {
            ...refused(
              "503",
              "The relayer cannot pay or has RELAY_MAX_IN_FLIGHT transactions unmined, the chain node does not answer, or it has not seen the request's dependency in time (or too many requests wait for theirs)",
            ),
            headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds" } },
          },
        },
      },
    },
  };
  return { router, paths };
}
