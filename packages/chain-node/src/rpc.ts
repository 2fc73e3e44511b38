import { BaseError } from "./errors.ts";

/** Default time any single JSON-RPC call may take before it fails. */
export const DEFAULT_RPC_TIMEOUT_MS = 5_000;

/** Thrown when the node answered with a JSON-RPC error object. */
export class RpcResponseError extends BaseError {
  override name = "RpcResponseError" as const;
  /** The JSON-RPC error code. */
  readonly code: number;
  constructor({
    endpoint,
    method,
    code,
    message,
  }: { endpoint: string; method: string; code: number; message: string }) {
    super(`${method} on ${endpoint} failed: ${message}`, { details: `JSON-RPC error ${code}` });
    this.code = code;
  }
}

/** Thrown when nothing answers at the endpoint (refused, no such socket, bad reply). */
export class RpcUnreachableError extends BaseError {
  override name = "RpcUnreachableError" as const;
  constructor({
    endpoint,
    method,
    cause,
    reason,
  }: {
    endpoint: string;
    method: string;
    cause?: unknown;
    /** What went wrong when there is no underlying error (e.g. "socket closed before a reply"). */
    reason?: string;
  }) {
    super(`geth is not reachable at ${endpoint} (${method}).`, {
      cause,
      ...(reason ? { details: reason } : {}),
      metaMessages: ["Is the node running? `medrec-chain status` shows each node's state."],
    });
  }
}

/** Thrown when the endpoint accepted the request but sent no answer in time. */
export class RpcTimeoutError extends BaseError {
  override name = "RpcTimeoutError" as const;
  constructor({ endpoint, method, timeoutMs }: { endpoint: string; method: string; timeoutMs: number }) {
    super(`${method} on ${endpoint} got no answer within ${timeoutMs} ms.`);
  }
}

/** Options of one JSON-RPC call. */
export type RpcOptions = { timeoutMs?: number };

let nextId = 1;

/** Builds a JSON-RPC 2.0 request body. */
export function rpcBody(
  method: string,
  params: readonly unknown[],
): { jsonrpc: "2.0"; id: number; method: string; params: readonly unknown[] } {
  return { jsonrpc: "2.0", id: nextId++, method, params };
}

/** Returns `result` of a JSON-RPC response, or throws {@link RpcResponseError}. */
export function rpcResult<T>(endpoint: string, method: string, response: unknown): T {
  const r = response as { result?: unknown; error?: { code?: number; message?: string } } | null;
  if (r && typeof r === "object" && r.error) {
    throw new RpcResponseError({
      endpoint,
      method,
      code: r.error.code ?? 0,
      message: r.error.message ?? "unknown error",
    });
  }
  if (!r || typeof r !== "object" || !("result" in r)) {
    throw new RpcUnreachableError({ endpoint, method, reason: "reply is not a JSON-RPC response" });
  }
  return r.result as T;
}

/**
 * One JSON-RPC call over HTTP. Never hangs: it fails after `timeoutMs` (default 5 s).
 *
 * @throws {RpcUnreachableError} connection refused or not a JSON-RPC server.
 * @throws {RpcTimeoutError} no answer in time.
 * @throws {RpcResponseError} geth returned an error.
 */
export async function httpRpc<T = unknown>(
  url: string,
  method: string,
  params: readonly unknown[] = [],
  { timeoutMs = DEFAULT_RPC_TIMEOUT_MS }: RpcOptions = {},
): Promise<T> {
  let response: Response;
  let json: unknown;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(rpcBody(method, params)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    json = await response.json();
  } catch (cause) {
    const name = (cause as Error | undefined)?.name;
    if (name === "TimeoutError" || name === "AbortError")
      throw new RpcTimeoutError({ endpoint: url, method, timeoutMs });
    throw new RpcUnreachableError({ endpoint: url, method, cause });
  }
  return rpcResult<T>(url, method, json);
}

/**
 * A JSON-RPC connection over WebSocket (Node's built-in `WebSocket`): many calls, one socket.
 * Every call fails after `timeoutMs` instead of hanging; `close()` when done.
 */
export class WsRpcClient {
  readonly url: string;
  readonly #socket: WebSocket;
  readonly #pending = new Map<
    number,
    { method: string; settle: (reply: unknown, closed?: string) => void }
  >();
  /** Why the socket can no longer be used. */
  #closed: string | undefined;

  private constructor(url: string, socket: WebSocket) {
    this.url = url;
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      let reply: { id?: unknown } | undefined;
      try {
        reply = JSON.parse(String(event.data)) as { id?: unknown };
      } catch {
        return;
      }
      const entry = typeof reply?.id === "number" ? this.#pending.get(reply.id) : undefined;
      entry?.settle(reply);
    });
    socket.addEventListener("close", () => {
      this.#closed = "the WebSocket closed";
      for (const [, entry] of this.#pending) entry.settle(undefined, this.#closed);
      this.#pending.clear();
    });
  }

  /** Opens a connection. @throws {RpcUnreachableError | RpcTimeoutError} */
  static open(url: string, { timeoutMs = DEFAULT_RPC_TIMEOUT_MS }: RpcOptions = {}): Promise<WsRpcClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.close();
        reject(new RpcTimeoutError({ endpoint: url, method: "(connect)", timeoutMs }));
      }, timeoutMs);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new WsRpcClient(url, socket));
      });
      socket.addEventListener("error", (event) => {
        clearTimeout(timer);
        reject(new RpcUnreachableError({ endpoint: url, method: "(connect)", cause: event }));
      });
    });
  }

  /** One call. @throws {RpcResponseError | RpcUnreachableError | RpcTimeoutError} */
  call<T = unknown>(
    method: string,
    params: readonly unknown[] = [],
    { timeoutMs = DEFAULT_RPC_TIMEOUT_MS }: RpcOptions = {},
  ): Promise<T> {
    const endpoint = this.url;
    if (this.#closed)
      return Promise.reject(new RpcUnreachableError({ endpoint, method, reason: this.#closed }));
    const body = rpcBody(method, params);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(body.id);
        reject(new RpcTimeoutError({ endpoint, method, timeoutMs }));
      }, timeoutMs);
      this.#pending.set(body.id, {
        method,
        settle: (reply, closed) => {
          clearTimeout(timer);
          this.#pending.delete(body.id);
          if (closed) return reject(new RpcUnreachableError({ endpoint, method, reason: closed }));
          try {
            resolve(rpcResult<T>(endpoint, method, reply));
          } catch (e) {
            reject(e);
          }
        },
      });
      this.#socket.send(JSON.stringify(body));
    });
  }

  close(): void {
    this.#socket.close();
  }
}

/** One JSON-RPC call over WebSocket (a connection of its own). */
export async function wsRpc<T = unknown>(
  url: string,
  method: string,
  params: readonly unknown[] = [],
  options: RpcOptions = {},
): Promise<T> {
  const client = await WsRpcClient.open(url, options);
  try {
    return await client.call<T>(method, params, options);
  } finally {
    client.close();
  }
}
