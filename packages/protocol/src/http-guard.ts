/**
 * What every MedRec HTTP server (the gatekeeper, the dapp server) answers below its request
 * handler: the bytes Node's HTTP parser could not read, an `Expect` it does not understand, a
 * proxy's CONNECT. Node's defaults are an empty 400/431/417 or a silently closed connection; here
 * each is one RFC 9457 problem+json answer (adr/0007), then the connection closes.
 *
 * Node's own modules only: the dapp's container runs the server with no node_modules (its
 * Dockerfile copies this file beside it).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
export const PROBLEM_TYPE_BASE = "https://medrec.dev/problems/";

/** The kinds of failure an HTTP server of MedRec answers, with their one status and title. */
export const HTTP_PROBLEMS = {
  "bad-request": { status: 400, title: "Bad request" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "request-timeout": { status: 408, title: "Request timeout" },
  conflict: { status: 409, title: "Conflict" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "expectation-failed": { status: 417, title: "Expectation failed" },
  unprocessable: { status: 422, title: "Unprocessable content" },
  "too-many-requests": { status: 429, title: "Too many requests" },
  "headers-too-large": { status: 431, title: "Request header fields too large" },
  internal: { status: 500, title: "Internal server error" },
  unavailable: { status: 503, title: "Service unavailable" },
} as const;
export type HttpProblemKind = keyof typeof HTTP_PROBLEMS;

/** An RFC 9457 problem document as its bytes. */
export function problemBody(kind: HttpProblemKind, detail: string): string {
  const { status, title } = HTTP_PROBLEMS[kind];
  return JSON.stringify({ type: `${PROBLEM_TYPE_BASE}${kind}`, title, status, detail });
}

/** Answers one problem+json on `res`, or ends the response when its head is already sent. */
export function answerProblem(
  req: IncomingMessage,
  res: ServerResponse,
  kind: HttpProblemKind,
  detail: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = problemBody(kind, detail);
  res.writeHead(HTTP_PROBLEMS[kind].status, {
    ...headers,
    "content-type": PROBLEM_CONTENT_TYPE,
    "content-length": Buffer.byteLength(body),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/** A whole HTTP/1.1 problem answer for a socket no `ServerResponse` owns; the connection then closes. */
function rawAnswer(kind: HttpProblemKind, detail: string): string {
  const { status } = HTTP_PROBLEMS[kind];
  const body = problemBody(kind, detail);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/** Connections whose request said `Connection: close`: nothing after that request is answered. */
const closing = new WeakSet<Socket>();

/**
 * What Node's HTTP parser could not read (a bad request line, headers over the limit, a broken
 * body, a timeout) gets one problem+json too, then the connection closes: through the response
 * of a request whose handler has not answered yet, else written on the socket.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  const kind: HttpProblemKind =
    error.code === "HPE_HEADER_OVERFLOW"
      ? "headers-too-large"
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "request-timeout"
        : "bad-request";
  const detail = "The request could not be read as HTTP/1.1.";
  // Node's own default handler reads the same field: the response under way on this connection.
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (current && !current.headersSent && socket.writable) {
    current.once("finish", () => socket.destroy());
    answerProblem(current.req, current, kind, detail, { connection: "close" });
    return;
  }
  // One request, one answer: nothing more for a response already sent, or for bytes after a
  // request that said `Connection: close` (a body longer than its Content-Length).
  if (!socket.writable || error.code === "ECONNRESET" || current || closing.has(socket)) {
    socket.destroy();
    return;
  }
  socket.end(rawAnswer(kind, detail));
}

/**
 * Installs the answers below the request handler on `server` (HTTP or HTTPS). `methods` names what
 * the server does accept, for the CONNECT refusal.
 */
export function guardHttpServer(server: Server, { methods }: { methods: string }): Server {
  server.prependListener("request", (req: IncomingMessage) => {
    if (/\bclose\b/i.test(req.headers.connection ?? "")) closing.add(req.socket);
  });
  server.on("clientError", answerClientError);
  // An `Expect` other than 100-continue: Node would answer an empty 417.
  server.on("checkExpectation", (req: IncomingMessage, res: ServerResponse) =>
    answerProblem(req, res, "expectation-failed", "Only `Expect: 100-continue` is understood here."),
  );
  // CONNECT (a proxy's method) would otherwise close the connection without a word.
  server.on("connect", (_req: IncomingMessage, socket: Socket) => {
    socket.end(rawAnswer("method-not-allowed", `This server answers ${methods}, not CONNECT.`));
  });
  return server;
}
