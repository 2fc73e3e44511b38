import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { fetchReply } from "./http.ts";

const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => {
    body += c.toString();
  });
  req.on("end", () => {
    if (req.url === "/text") {
      res.writeHead(200, { "content-type": "text/plain" }).end("not json");
      return;
    }
    res
      .writeHead(201, { "content-type": "application/json" })
      .end(JSON.stringify({ method: req.method, type: req.headers["content-type"] ?? null, body }));
  });
});
let url: string;
before(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test("default: a JSON body is POSTed as JSON and the reply is read whole", async () => {
  const r = await fetchReply(`${url}/echo`, { body: { a: 1 } });
  assert.equal(r.status, 201);
  assert.equal(r.type, "application/json");
  assert.deepEqual(r.json, { method: "POST", type: "application/json", body: '{"a":1}' });
});

test("behavior: GET without a body; a text reply has no json", async () => {
  assert.equal((await fetchReply(`${url}/echo`)).json.method, "GET");
  const r = await fetchReply(`${url}/text`);
  assert.equal(r.text, "not json");
  assert.equal(r.json, undefined);
});
