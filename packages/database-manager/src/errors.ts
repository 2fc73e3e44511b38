import { BaseError } from "@medrec/protocol";
import { HTTP_PROBLEMS, type HttpProblemKind, PROBLEM_TYPE_BASE } from "@medrec/protocol/http-guard";
import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { ZodError } from "zod";

/** Every kind of failure the API reports, with its one HTTP status and title (RFC 9457): the table
 * every MedRec HTTP server shares. */
export const PROBLEMS = HTTP_PROBLEMS;
export type ProblemKind = HttpProblemKind;
export { PROBLEM_TYPE_BASE };

/** The one error the gatekeeper throws on purpose. `detail` is shown to the client: no secrets, no record content. */
export class ProblemError extends BaseError {
  override name = "ProblemError";
  readonly kind: ProblemKind;
  readonly detail: string;
  constructor(kind: ProblemKind, detail: string, options: { cause?: unknown } = {}) {
    super(detail, options.cause === undefined ? {} : { cause: options.cause });
    this.kind = kind;
    this.detail = detail;
  }
}

/** An RFC 9457 problem document. */
export type Problem = { type: string; title: string; status: number; detail: string };

export function problem(kind: ProblemKind, detail: string): Problem {
  const { status, title } = PROBLEMS[kind];
  return { type: `${PROBLEM_TYPE_BASE}${kind}`, title, status, detail };
}

/** Names the failing fields of a zod error, without echoing the values. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join(".") : "(body)"}: ${i.message}`)
    .join("; ");
}

/** What Express, its router and body-parser throw: http-errors, `expose`d when the client caused them. */
type HttpError = Error & { type?: string; status?: number; statusCode?: number; expose?: boolean };

/** The kind of a client error by its HTTP status (bad-request when no kind has that status). */
function kindOfStatus(status: number): ProblemKind {
  const kinds = Object.keys(PROBLEMS) as ProblemKind[];
  return kinds.find((k) => PROBLEMS[k].status === status && status < 500) ?? "bad-request";
}

/** Maps any thrown value to a problem. Unknown errors become a bare 500. */
export function toProblem(error: unknown): Problem {
  if (error instanceof ProblemError) return problem(error.kind, error.detail);
  if (error instanceof ZodError) return problem("bad-request", describeZodError(error));
  const e = error as HttpError;
  switch (e?.type) {
    case "entity.too.large":
      return problem("payload-too-large", "The request body is larger than this gatekeeper accepts.");
    case "entity.parse.failed":
      return problem("bad-request", "The request body is not valid JSON.");
    case "encoding.unsupported":
    case "charset.unsupported":
      return problem("unsupported-media-type", "Send JSON encoded as UTF-8.");
    case "request.aborted":
      return problem("bad-request", "The request was aborted.");
  }
  // Other client errors of Express and body-parser: a path parameter that does not
  // percent-decode (`/v1/relationships/%FF/records`), a body that does not inflate (gzip that is
  // not gzip). Their messages quote the input, so the detail is ours.
  const status = e?.status ?? e?.statusCode;
  // (The router marks its URIError with status 400 only; http-errors say `expose`.)
  const fromClient = e?.expose === true || error instanceof URIError;
  if (fromClient && typeof status === "number" && status >= 400 && status < 500)
    return problem(
      kindOfStatus(status),
      "The request could not be read: check the percent-encoding of its path and the encoding of its body.",
    );
  return problem("internal", "The gatekeeper could not complete the request.");
}

/** Sends a problem as `application/problem+json`. */
export function sendProblem(res: Parameters<RequestHandler>[1], p: Problem): void {
  res.status(p.status).type("application/problem+json").send(JSON.stringify(p));
}

/** The one error handler at the edge: logs server faults (without bodies), answers problem+json. */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const p = toProblem(error);
    if (p.status >= 500) {
      logger.error(
        {
          reqId: req.id,
          err: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        },
        "request failed",
      );
    }
    // Failed midway through an answer: end the connection, so the client sees a cut answer
    // instead of waiting for the rest of it.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, p);
  };
}

/** 404 for every route nobody matched. */
export const notFoundHandler: RequestHandler = (_req, res) =>
  sendProblem(res, problem("not-found", "No such resource."));
