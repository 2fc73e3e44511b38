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
  constructor({ endpoint, method, cause }: { endpoint: string; method: string; cause?: unknown }) {
    super(`geth is not reachable at ${endpoint} (${method}).`, {
      cause,
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
    throw new RpcUnreachableError({ endpoint, method, cause: new Error("reply is not a JSON-RPC response") });
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
