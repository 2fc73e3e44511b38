/** A whole HTTP reply as tests read it. */
export type Reply = {
  status: number;
  /** `content-type` ("" when absent). */
  type: string;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when it is empty or not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read bodies loosely, as JSON.parse returns them.
  json: any;
};

export type ReplyInit = {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as JSON (with `content-type: application/json` unless `headers` says otherwise). */
  body?: unknown;
  /** Sent as it is. */
  rawBody?: string;
};

/**
 * `fetch(url)` read whole: status, content type, headers, text and parsed JSON.
 *
 * @example
 * const r = await fetchReply(`${gk.url}/v1/patients`, { method: "POST", body: { mrn, patientAddress } })
 */
export async function fetchReply(url: string, init: ReplyInit = {}): Promise<Reply> {
  const json = init.body !== undefined;
  const res = await fetch(url, {
    method: init.method ?? (json || init.rawBody !== undefined ? "POST" : "GET"),
    headers: { ...(json ? { "content-type": "application/json" } : {}), ...init.headers },
    ...(json
      ? { body: JSON.stringify(init.body) }
      : init.rawBody !== undefined
        ? { body: init.rawBody }
        : {}),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    headers: res.headers,
    text,
    json: parsed,
  };
}
