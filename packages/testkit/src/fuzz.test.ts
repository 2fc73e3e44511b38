import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fuzzSeed, isIncomplete, parseResponse, replyProblems, serializeRequest } from "./fuzz.ts";

const problem = (status: number) =>
  JSON.stringify({ type: "https://medrec.dev/problems/x", title: "X", status, detail: "d" });
const answer = (head: string, body = "") => parseResponse(Buffer.from(`${head}\r\n\r\n${body}`, "latin1"));
const GET = { method: "GET", target: "/", headers: [] } as const;

describe("fuzzSeed", () => {
  test("default: the fallback; FUZZ_SEED overrides it", () => {
    assert.equal(fuzzSeed(7, {}), 7);
    assert.equal(fuzzSeed(7, { FUZZ_SEED: "42" }), 42);
  });
  test("error: a seed that is not an integer", () => {
    assert.throws(() => fuzzSeed(7, { FUZZ_SEED: "x" }), /FUZZ_SEED/);
  });
});

describe("serializeRequest", () => {
  test("default: request line, Host, Connection: close, headers, length-framed body", () => {
    const bytes = serializeRequest({
      ...GET,
      method: "POST",
      headers: [["A", "b"]],
      body: Buffer.from("{}"),
    });
    assert.equal(
      bytes.toString(),
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nA: b\r\nContent-Length: 2\r\n\r\n{}",
    );
  });
  test("behavior: chunked framing, and lies that leave the request incomplete", () => {
    const chunked = serializeRequest({ ...GET, body: Buffer.from("abc"), framing: "chunked" }).toString();
    assert.ok(chunked.endsWith("Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    assert.equal(isIncomplete({ ...GET, body: Buffer.from("a"), framing: "length-lie-longer" }), true);
    assert.equal(isIncomplete({ ...GET, body: Buffer.from("a"), framing: "length" }), false);
  });
});

describe("parseResponse", () => {
  test("default: status, lower-case headers, body by Content-Length", () => {
    const r = answer("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2", "no");
    assert.deepEqual(r, {
      kind: "answer",
      status: 404,
      headers: { "content-type": "text/plain", "content-length": "2" },
      body: Buffer.from("no"),
      trailing: 0,
    });
  });
  test("behavior: de-chunks, skips 100 Continue, counts bytes after the answer", () => {
    const r = parseResponse(
      Buffer.from(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
      ),
    );
    assert.equal(r.kind === "answer" && `${r.status} ${r.body} ${r.trailing}`, "200 ok 0");
    const twice = answer("HTTP/1.1 200 OK\r\nContent-Length: 0", "HTTP/1.1 400 Bad Request\r\n\r\n");
    assert.equal(twice.kind === "answer" && twice.trailing, 28);
  });
  test("behavior: no head → closed", () => {
    assert.deepEqual(parseResponse(Buffer.alloc(0)), { kind: "closed", bytes: 0 });
  });
});

describe("replyProblems", () => {
  const json = "Content-Type: application/problem+json";
  test("default: a problem+json error and a 200 keep every property", () => {
    assert.deepEqual(replyProblems(GET, answer(`HTTP/1.1 404 Not Found\r\n${json}`, problem(404))), []);
    assert.deepEqual(replyProblems(GET, answer("HTTP/1.1 200 OK", "<html>")), []);
  });
  test("error: an error that is not problem+json, a wrong status member, a stack trace, a 500", () => {
    assert.match(
      replyProblems(GET, answer("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain", "x"))[0] ?? "",
      /content-type/,
    );
    assert.match(
      replyProblems(GET, answer(`HTTP/1.1 400 Bad Request\r\n${json}`, problem(404))).join(),
      /status 404/,
    );
    const leak = JSON.stringify({ type: "t", title: "t", status: 400, detail: "at f (/work/main/x.ts:1:2)" });
    assert.match(replyProblems(GET, answer(`HTTP/1.1 400 Bad Request\r\n${json}`, leak)).join(), /leaks/);
    assert.match(
      replyProblems(GET, answer(`HTTP/1.1 500 Internal\r\n${json}`, problem(500))).join(),
      /server fault/,
    );
  });
  test("behavior: Node's bare parser refusal is a failure; a close only where the request allows it", () => {
    const parser = answer("HTTP/1.1 400 Bad Request\r\nConnection: close");
    assert.notDeepEqual(replyProblems(GET, parser), []);
    assert.notDeepEqual(replyProblems(GET, { kind: "closed", bytes: 0 }), []);
    assert.deepEqual(replyProblems({ ...GET, mayClose: true }, { kind: "closed", bytes: 0 }), []);
    assert.notDeepEqual(replyProblems(GET, { kind: "timeout" }), []);
  });
});
