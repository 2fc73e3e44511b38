/**
 * The load generator, run in a worker thread (bench/load.ts starts it): `concurrency` keep-alive
 * HTTP/1.1 connections to 127.0.0.1, each sending one GET at a time (no pipelining) for
 * `warmupMs + durationMs`. Raw sockets instead of node:http's client, like autocannon: the client
 * shares the 2 cores with the server under test, so it must cost as little CPU as possible.
 *
 * A response counts as a read only if it is a 200 whose body is complete: exactly
 * `expectedBytes` long (Content-Length and the bytes received), ending in `}`; every
 * `parseEvery`-th one is also parsed and must be a Bundle with `expectedEntries` entries.
 * Only responses completed inside the measured window (after the warm-up) are counted.
 */
import { connect, type Socket } from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import type { LoadOptions, LoadResult } from "./load.ts";

const options = workerData as LoadOptions;
const url = new URL(options.url);
if (url.hostname !== "127.0.0.1") throw new Error("the load generator only talks to 127.0.0.1");
const port = Number(url.port);
const request = Buffer.from(
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${options.token}\r\nAccept: application/fhir+json\r\nConnection: keep-alive\r\n\r\n`,
  "latin1",
);
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let incomplete = 0;
let invalid = 0;
let socketErrors = 0;
let connections = 0;
let parsed = 0;

const startedAt = performance.now();
const windowStart = startedAt + options.warmupMs;
const windowEnd = windowStart + options.durationMs;
// The worker's own CPU over the measured window only (from the end of the warm-up).
let cpuBefore = process.threadCpuUsage();
setTimeout(() => {
  cpuBefore = process.threadCpuUsage();
}, options.warmupMs).unref();

/** One connection's loop: send, read the whole response, record, repeat until the window closes. */
function runConnection(): Promise<void> {
  return new Promise((resolve) => {
    let socket: Socket;
    let sentAt = 0;
    let head: Buffer | undefined; // bytes of the head read so far
    let status = 0;
    let remaining = -1; // body bytes still expected; -1 while reading the head
    let bodyLength = 0;
    let lastByte = 0;
    let body: Buffer[] | undefined;
    let count = 0;

    const finish = () => {
      socket.removeAllListeners();
      socket.destroy();
      resolve();
    };
    const send = () => {
      if (performance.now() >= windowEnd) return finish();
      head = undefined;
      remaining = -1;
      status = 0;
      count += 1;
      body = options.parseEvery > 0 && count % options.parseEvery === 0 ? [] : undefined;
      sentAt = performance.now();
      socket.write(request);
    };
    const complete = () => {
      const now = performance.now();
      if (now >= windowStart && now <= windowEnd) {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) {
          if (bodyLength !== options.expectedBytes || lastByte !== 0x7d) incomplete += 1;
          else if (body && !validBundle(Buffer.concat(body))) invalid += 1;
          else latencies.push(now - sentAt);
        }
      }
      send();
    };
    const onBody = (chunk: Buffer) => {
      if (chunk.length > remaining) {
        // More than the response: the server broke the protocol (we never pipeline).
        socketErrors += 1;
        return reconnect();
      }
      remaining -= chunk.length;
      if (chunk.length > 0) lastByte = chunk[chunk.length - 1] as number;
      body?.push(chunk);
      if (remaining === 0) complete();
    };
    const onData = (chunk: Buffer) => {
      if (remaining >= 0) return onBody(chunk);
      head = head ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf(HEAD_END);
      if (end < 0) return;
      const text = head.subarray(0, end).toString("latin1");
      status = Number(text.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text)?.[1];
      if (length === undefined) {
        socketErrors += 1; // every route of the gatekeeper sends Content-Length
        return reconnect();
      }
      remaining = Number(length);
      bodyLength = remaining;
      lastByte = 0;
      const rest = head.subarray(end + HEAD_END.length);
      head = undefined;
      if (remaining === 0) return complete();
      if (rest.length > 0) onBody(rest);
    };
    const open = () => {
      connections += 1;
      socket = connect({ host: "127.0.0.1", port, noDelay: true });
      socket.on("connect", send);
      socket.on("data", onData);
      socket.on("error", () => undefined);
      socket.on("close", () => {
        // The server closed the connection (or it failed) mid-run: count it and reconnect.
        if (performance.now() < windowEnd) {
          socketErrors += 1;
          setTimeout(open, 10);
        } else resolve();
      });
    };
    const reconnect = () => {
      socket.removeAllListeners();
      socket.destroy();
      if (performance.now() < windowEnd) open();
      else resolve();
    };
    open();
  });
}

function validBundle(bytes: Buffer): boolean {
  parsed += 1;
  try {
    const bundle = JSON.parse(bytes.toString("utf8")) as { resourceType?: unknown; entry?: unknown };
    return (
      bundle.resourceType === "Bundle" &&
      Array.isArray(bundle.entry) &&
      bundle.entry.length === options.expectedEntries
    );
  } catch {
    return false;
  }
}

await Promise.all(Array.from({ length: options.concurrency }, runConnection));
const cpu = process.threadCpuUsage(cpuBefore);
const result: LoadResult = {
  concurrency: options.concurrency,
  windowMs: options.durationMs,
  latencies,
  statuses,
  incomplete,
  invalid,
  socketErrors,
  connections,
  parsed,
  workerCpuMs: (cpu.user + cpu.system) / 1000,
};
parentPort?.postMessage(result);
