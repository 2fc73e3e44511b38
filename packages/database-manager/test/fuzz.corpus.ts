/**
 * The gatekeeper's named known-bad requests, aimed at its real routes with and without
 * credentials: hand-written cases and every crash or 500 the fuzzing found (named
 * `regression: …`, with what went wrong). The shared corpus (`KNOWN_BAD` of @medrec/testkit/fuzz)
 * is sent beside them.
 */
import type { NamedRequest } from "@medrec/testkit/fuzz";
import { nestedJson } from "@medrec/testkit/fuzz";

export type CorpusContext = {
  /** A relationship at this gatekeeper whose patient holds `patientToken`. */
  relationship: string;
  mrn: string;
  patientToken: string;
  operatorKey: string;
};

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

export function gatekeeperCorpus({
  relationship,
  mrn,
  patientToken,
  operatorKey,
}: CorpusContext): NamedRequest[] {
  const patient = ["Authorization", `Bearer ${patientToken}`] as const;
  const operator = ["X-Operator-Key", operatorKey] as const;
  const records = `/v1/relationships/${relationship}/records`;
  const upload = `/v1/patients/${mrn}/records`;
  const fhir = ["Content-Type", "application/fhir+json"] as const;
  const ndjson = ["Content-Type", "application/fhir+ndjson"] as const;
  const post = (target: string, headers: NamedRequest["headers"], body: Buffer) => ({
    method: "POST",
    target,
    headers,
    body,
  });
  return [
    {
      name: "regression: records with /%FF as the relationship (was 500: the router's URIError)",
      method: "GET",
      target: "/v1/relationships/%FF/records",
      headers: [patient],
    },
    {
      name: "regression: records with %E0%A4%A as the relationship (was 500)",
      method: "GET",
      target: "/v1/relationships/%E0%A4%A/records",
      headers: [patient],
    },
    {
      name: "records with ..%2f..%2f",
      method: "GET",
      target: `/v1/relationships/..%2f..%2f/records`,
      headers: [patient],
    },
    {
      name: "records with a NUL in the query",
      method: "GET",
      target: `${records}?category=%00`,
      headers: [patient],
    },
    {
      name: "records with every paging parameter twice",
      method: "GET",
      target: `${records}?_count=1&_count=2&_offset=0&_offset=1&_root=0x&_root=0x1`,
      headers: [patient],
    },
    {
      name: "records with _count=1e999 and _since garbage",
      method: "GET",
      target: `${records}?_count=1e999&_since=%FF`,
      headers: [patient],
    },
    {
      name: "records with __proto__ in the query",
      method: "GET",
      target: `${records}?__proto__=1&constructor=2`,
      headers: [patient],
    },
    {
      name: "audit with a bad after hash",
      method: "GET",
      target: `/v1/relationships/${relationship}/audit?after=%ZZ&limit=-1`,
      headers: [patient],
    },
    {
      name: "audit consistency from > to",
      method: "GET",
      target: "/v1/audit/consistency?from=9&to=1",
      headers: [],
    },
    {
      name: "audit consistency with huge sizes",
      method: "GET",
      target: "/v1/audit/consistency?from=1e308&to=99999999999999999999",
      headers: [],
    },
    {
      name: "a bearer token of 8 KiB",
      method: "GET",
      target: "/v1/relationships",
      headers: [["Authorization", `Bearer ${"t".repeat(8_192)}`]],
    },
    {
      name: "a 1 MiB header on a route",
      method: "GET",
      target: records,
      headers: [patient, ["X-Big", "b".repeat(1 << 20)]],
    },
    {
      name: "sign-in with a JSON body nested 100,000 deep",
      ...post("/v1/auth/session", [["Content-Type", "application/json"]], Buffer.from(nestedJson(100_000))),
    },
    {
      name: "sign-in with an object nested 100,000 deep",
      ...post(
        "/v1/auth/session",
        [["Content-Type", "application/json"]],
        Buffer.from(nestedJson(100_000, "object")),
      ),
    },
    {
      name: "sign-in with a message that is not SIWE",
      ...post(
        "/v1/auth/session",
        [["Content-Type", "application/json"]],
        json({ message: "hello", signature: `0x${"00".repeat(65)}` }),
      ),
    },
    {
      name: "sign-in with wrong types",
      ...post(
        "/v1/auth/session",
        [["Content-Type", "application/json"]],
        json({ message: [1], signature: { a: 1 } }),
      ),
    },
    {
      name: "sign-in as text/plain",
      ...post("/v1/auth/session", [["Content-Type", "text/plain"]], Buffer.from("message=x")),
    },
    {
      name: "sign-in in UTF-16",
      ...post(
        "/v1/auth/session",
        [["Content-Type", "application/json; charset=utf-16"]],
        Buffer.from("{}", "utf16le"),
      ),
    },
    {
      name: "regression: sign-in as gzip that is not gzip (was 500: body-parser's inflate error)",
      ...post(
        "/v1/auth/session",
        [
          ["Content-Type", "application/json"],
          ["Content-Encoding", "gzip"],
        ],
        Buffer.from("{}"),
      ),
    },
    {
      name: "sign-in with an unknown Content-Encoding",
      ...post(
        "/v1/auth/session",
        [
          ["Content-Type", "application/json"],
          ["Content-Encoding", "x-unknown"],
        ],
        Buffer.from("{}"),
      ),
    },
    {
      name: "sign-in with a body longer than its Content-Length",
      ...post(
        "/v1/auth/session",
        [["Content-Type", "application/json"]],
        Buffer.from('{"message":"a","signature":"0x"}'),
      ),
      framing: "length-lie-shorter",
    },
    {
      name: "sign-in with a Content-Length lie (longer)",
      ...post("/v1/auth/session", [["Content-Type", "application/json"]], Buffer.from("{}")),
      framing: "length-lie-longer",
    },
    {
      name: "sign-in with chunked garbage",
      ...post("/v1/auth/session", [["Content-Type", "application/json"]], Buffer.from("{}")),
      framing: "chunked-garbage",
    },
    {
      name: "relay with wrong types",
      ...post(
        "/v1/relay",
        [["Content-Type", "application/json"]],
        json({
          request: { from: 1, to: [], value: "-1", gas: "1e9", nonce: "x", deadline: null, data: "0xzz" },
          signature: "0x",
        }),
      ),
    },
    {
      name: "relay with a request that is an array",
      ...post(
        "/v1/relay",
        [["Content-Type", "application/json"]],
        json({ request: [], signature: `0x${"11".repeat(65)}` }),
      ),
    },
    {
      name: "relay with 2^256 values",
      ...post(
        "/v1/relay",
        [["Content-Type", "application/json"]],
        json({
          request: {
            from: `0x${"11".repeat(20)}`,
            to: `0x${"22".repeat(20)}`,
            value: (2n ** 256n).toString(),
            gas: (2n ** 256n).toString(),
            nonce: (2n ** 256n).toString(),
            deadline: (2n ** 256n).toString(),
            data: "0x",
          },
          signature: `0x${"11".repeat(65)}`,
        }),
      ),
    },
    {
      name: "patients with wrong types (operator)",
      ...post(
        "/v1/patients",
        [operator, ["Content-Type", "application/json"]],
        json({ mrn: { $gt: "" }, patientAddress: 7 }),
      ),
    },
    {
      name: "upload: a Bundle whose entries have wrong types (operator)",
      ...post(
        upload,
        [operator, fhir],
        json({
          resourceType: "Bundle",
          type: 7,
          entry: [{ resource: "x" }, { resource: { resourceType: 1 } }, null, 3],
        }),
      ),
    },
    {
      name: "upload: a Bundle whose entry is an object (operator)",
      ...post(
        upload,
        [operator, fhir],
        json({ resourceType: "Bundle", type: "collection", entry: { resource: {} } }),
      ),
    },
    {
      name: "upload: a Bundle of a resource with __proto__ (operator)",
      ...post(
        upload,
        [operator, fhir],
        Buffer.from(
          '{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Observation","__proto__":{"x":1}}}]}',
        ),
      ),
    },
    {
      name: "upload: a JSON body nested 100,000 deep (operator)",
      ...post(upload, [operator, fhir], Buffer.from(nestedJson(100_000))),
    },
    {
      name: "upload: a Bundle nested 100,000 deep in a resource (operator)",
      ...post(
        upload,
        [operator, fhir],
        Buffer.from(
          `{"resourceType":"Bundle","type":"collection","entry":[{"resource":${nestedJson(100_000, "object")}}]}`,
        ),
      ),
    },
    {
      name: "upload: NDJSON with a broken line (operator)",
      ...post(
        upload,
        [operator, ndjson],
        Buffer.from(
          '{"resourceType":"Patient","id":"p1"}\n{"resourceType":"Obs\n{"resourceType":"Patient","id":"p2"}\n',
        ),
      ),
    },
    {
      name: "upload: NDJSON whose second line nests 100,000 deep (operator; was read past JSON_MAX_DEPTH)",
      ...post(
        upload,
        [operator, ndjson],
        Buffer.from(
          `{"resourceType":"Patient","id":"p1"}\n{"resourceType":"Basic","x":${nestedJson(100_000, "object")}}\n`,
        ),
      ),
    },
    {
      name: "upload: NDJSON with a line of nested arrays one level past JSON_MAX_DEPTH (operator)",
      ...post(upload, [operator, ndjson], Buffer.from(`{"resourceType":"Basic","x":${nestedJson(64)}}\n`)),
    },
    {
      name: "upload: NDJSON of arrays and numbers (operator)",
      ...post(upload, [operator, ndjson], Buffer.from('[]\n1\nnull\n"x"\n')),
    },
    {
      name: "upload: NDJSON chunked garbage (operator)",
      ...post(upload, [operator, ndjson], Buffer.from('{"resourceType":"Patient"}\n')),
      framing: "chunked-garbage",
    },
    {
      name: "upload: NDJSON cut short (operator)",
      ...post(upload, [operator, ndjson], Buffer.from('{"resourceType":"Patient","id":"p1"}\n')),
      framing: "length-lie-longer",
    },
    {
      name: "upload: binary as FHIR (operator)",
      ...post(upload, [operator, fhir], Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x22])),
    },
    {
      name: "upload: without credentials",
      ...post(upload, [fhir], json({ resourceType: "Bundle", type: "collection", entry: [] })),
    },
    {
      name: "regression: upload to an MRN of %FF (was 500: the router's URIError)",
      ...post(
        "/v1/patients/%FF/records",
        [operator, fhir],
        json({ resourceType: "Bundle", type: "collection", entry: [] }),
      ),
    },
    {
      name: "upload: multipart (operator)",
      ...post(
        upload,
        [operator, ["Content-Type", "multipart/form-data; boundary=x"]],
        Buffer.from("--x\r\n\r\n--x--"),
      ),
    },
    {
      name: "metrics with a body",
      ...post("/metrics", [["Content-Type", "application/json"]], Buffer.from("{")),
    },
    { name: "healthz as DELETE", method: "DELETE", target: "/healthz", headers: [] },
    // Express's router skipped every layer and its final handler answered an HTML 404.
    {
      name: "regression: absolute-form target it cannot parse (was an HTML 404)",
      method: "GET",
      target: "http://[::1/v1/relationships",
      headers: [patient],
    },
    {
      name: "OPTIONS preflight from a stranger origin",
      method: "OPTIONS",
      target: records,
      headers: [
        ["Origin", "https://evil.example"],
        ["Access-Control-Request-Method", "DELETE"],
      ],
    },
  ];
}
