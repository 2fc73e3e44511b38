/**
 * The dapp server (`serve.ts`, the container's entry point) in its own process, fuzzed over raw
 * sockets: 10,000 seeded requests (FUZZ_SEED overrides the seed) plus the hand-written corpus of
 * known-bad requests. Every answer is a status below 600 and every error one problem+json; after
 * the run the process is still alive, still serves the dapp and its memory stayed bounded (a 64 MiB
 * old space, and resident memory grown by less than RSS_GROWTH_LIMIT). Run: `pnpm --filter
 * @medrec/user-client run test:server` (FUZZ_SEED=n for another seed).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "@medrec/protocol/node";
import {
  type FuzzRequest,
  fuzzHttp,
  KNOWN_BAD,
  type NamedRequest,
  replyProblems,
  requestArbitrary,
  sendRequest,
} from "@medrec/testkit/fuzz";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const MIB = 1024 * 1024;
/** Resident memory may grow by at most this much over the 10,000 requests (after a warm-up). */
const RSS_GROWTH_LIMIT = 96 * MIB;

/** The dapp server's own regressions, beside the shared corpus. */
const DAPP_CASES: readonly NamedRequest[] = [
  // decodeURIComponent threw inside the handler: an unhandled rejection ended the process.
  { name: "regression: GET /%FF killed the server", method: "GET", target: "/%FF", headers: [] },
  { name: "regression: GET /assets/%E0%A4%A.js", method: "GET", target: "/assets/%E0%A4%A.js", headers: [] },
  // new URL() threw on an authority it could not parse.
  { name: "regression: GET //[ (new URL threw)", method: "GET", target: "//[", headers: [] },
  // Found by the fuzzing while this server was rewritten: the parser refused the body while the
  // file opened, and piping it to the closed response threw (ERR_STREAM_UNABLE_TO_PIPE).
  {
    name: "regression: a chunked body the parser refuses while the file opens",
    method: "GET",
    target: "/assets/app-1234.js",
    headers: [["Content-Type", "application/json"]],
    body: Buffer.from("{}"),
    framing: "chunked-garbage",
  },
  // …and answered twice: the parser's 400, then the handler's own answer.
  {
    name: "regression: a body longer than its Content-Length got a second answer",
    method: "HEAD",
    target: "/",
    headers: [["Content-Type", "application/json"]],
    body: Buffer.from('{"a":"bcdefghij"}'),
    framing: "length-lie-shorter",
  },
  // CONNECT had no listener: Node closed the connection without an answer.
  { name: "regression: CONNECT closed without an answer", method: "CONNECT", target: "x:1", headers: [] },
  { name: "config.json with bad encoding", method: "GET", target: "/config%2Ejson%FF", headers: [] },
  { name: "HEAD /%FF", method: "HEAD", target: "/%FF", headers: [] },
  { name: "POST / (method not allowed)", method: "POST", target: "/", headers: [], body: Buffer.from("{}") },
  { name: "a directory as an asset", method: "GET", target: "/assets/", headers: [] },
  { name: "a missing asset", method: "GET", target: "/assets/missing.js", headers: [] },
];

let child: ChildProcess;
let port: number;
let work: string;
let stderr = "";

/** Resident memory of the server process (bytes), from /proc. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(kib, "VmRSS in /proc status");
  return Number(kib[1]) * 1024;
}

async function get(target: string) {
  const reply = await sendRequest({ port }, { method: "GET", target, headers: [] });
  assert.equal(reply.kind, "answer", `GET ${target}`);
  return reply;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "medrec-dapp-fuzz-"));
  const dist = join(work, "dist");
  await mkdir(join(dist, "assets"), { recursive: true });
  await writeFile(join(dist, "index.html"), "<!doctype html><title>MedRec</title>");
  await writeFile(join(dist, "assets", "app-1234.js"), "console.log(1)");
  await writeFile(join(dist, "favicon.ico"), Buffer.alloc(64));
  const manifest = join(work, "network.json");
  await writeFile(
    manifest,
    JSON.stringify({
      chainId: 1337,
      contracts: { Relationship: `0x${"11".repeat(20)}` },
      deployBlock: 1,
      providers: [
        {
          name: "Riverside General",
          account: `0x${"22".repeat(20)}`,
          gatekeeperUrl: "http://127.0.0.1:7101",
          rpcUrl: "http://127.0.0.1:8545",
        },
      ],
      demo: { patientMnemonic: "never leaves the manifest" },
    }),
  );
  port = await freePort();
  // A 64 MiB old space: a leak would end the process (and the test) long before 10,000 requests.
  child = spawn(process.execPath, ["--max-old-space-size=64", "serve.ts"], {
    cwd: PACKAGE_DIR,
    env: {
      PATH: process.env.PATH ?? "",
      HOST: "127.0.0.1",
      PORT: String(port),
      MEDREC_MANIFEST: manifest,
      MEDREC_DAPP_DIST: dist,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  let stdout = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes("MedRec dapp on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`serve.ts exited (${code}): ${stderr}`)));
  });
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
  await rm(work, { recursive: true, force: true });
});

/** The server process is alive and serves the app and its config. */
async function assertServing() {
  assert.equal(child.exitCode, null, `the server exited: ${stderr}`);
  assert.equal((await get("/")).status, 200);
  const config = await get("/config.json");
  assert.equal(config.status, 200);
  assert.equal(JSON.parse(config.body.toString()).chainId, 1337);
  assert.equal(stderr, "", "nothing on stderr (no crash, no unhandled error)");
}

describe("the dapp server under hostile requests", () => {
  test("behavior: serves the dapp before the run", assertServing);

  for (const request of [...DAPP_CASES, ...KNOWN_BAD])
    test(`error: ${request.name} → an answer, never a crash`, async () => {
      const reply = await sendRequest({ port }, request);
      assert.deepEqual(replyProblems(request, reply), [], request.name);
      assert.equal(child.exitCode, null, `the server exited after ${request.name}: ${stderr}`);
    });

  test("testFuzz: 10,000 generated requests, each answered within the properties; the server lives on with bounded memory", async () => {
    const arbitrary = requestArbitrary({
      routes: [
        { method: "GET", path: "/" },
        { method: "GET", path: "/config.json" },
        { method: "HEAD", path: "/config.json" },
        { method: "GET", path: "/index.html" },
        { method: "GET", path: "/assets/app-1234.js" },
        { method: "GET", path: "/assets/{file}" },
        { method: "GET", path: "/favicon.ico" },
        { method: "GET", path: "/records/{id}" },
        { method: "HEAD", path: "/sharing/{id}" },
        { method: "GET", path: "/{a}/{b}" },
      ],
      params: ["app-1234.js", "index.html", "..", "assets", "config.json"],
      queryNames: ["v", "code", "state"],
    });
    // Warm-up (JIT, buffers), then the baseline.
    await fuzzHttp({ server: { port }, arbitrary, requests: 500, seed: 1 });
    const rssBefore = await rssOf(child.pid as number);
    const result = await fuzzHttp({
      server: { port },
      arbitrary,
      // No secret of the manifest in any answer.
      check: (_request, reply) =>
        reply.kind === "answer" && reply.body.includes("never leaves") ? ["the demo secrets leaked"] : [],
    });
    const rssAfter = await rssOf(child.pid as number);
    console.log(
      `dapp server fuzz: seed ${result.seed}, ${result.requests} requests in ${(result.ms / 1000).toFixed(1)} s; ` +
        `RSS ${(rssBefore / MIB).toFixed(1)} → ${(rssAfter / MIB).toFixed(1)} MiB; statuses ${JSON.stringify(result.statuses)}`,
    );
    assert.ok(result.requests >= 10_000);
    await assertServing();
    assert.ok(
      rssAfter - rssBefore < RSS_GROWTH_LIMIT,
      `RSS grew ${((rssAfter - rssBefore) / MIB).toFixed(1)} MiB (limit ${RSS_GROWTH_LIMIT / MIB})`,
    );
  });

  test("behavior: a request that is not fuzzed still works after the run", async () => {
    const request: FuzzRequest = { method: "GET", target: "/assets/app-1234.js", headers: [] };
    const reply = await sendRequest({ port }, request);
    assert.equal(reply.kind === "answer" && reply.body.toString(), "console.log(1)");
  });
});
