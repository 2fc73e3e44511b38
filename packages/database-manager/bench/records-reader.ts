/**
 * bench:records' client, in a worker thread of its own (as a real client is another process):
 * its hashing never stalls the gatekeeper's event loop. Reads the whole history `reads` times with
 * `fetchVerifiedRecords` and posts the timings.
 */
import { parentPort, workerData } from "node:worker_threads";
import { fetchVerifiedRecords, type Hash } from "@medrec/protocol";

const { gatekeeperUrl, relationship, token, root, count, reads } = workerData as {
  gatekeeperUrl: string;
  relationship: string;
  token: string;
  root: Hash;
  count: number;
  reads: number;
};
const runs: {
  ms: number;
  bytes: number;
  pages: number;
  total: number;
  valid: boolean;
  failures: unknown[];
}[] = [];
for (let i = 0; i < reads; i++) {
  const started = performance.now();
  const read = await fetchVerifiedRecords({ gatekeeperUrl, relationship, token, onChainRoot: root, count });
  runs.push({
    ms: performance.now() - started,
    bytes: read.bytes,
    pages: read.pages,
    total: read.total,
    valid: read.valid,
    failures: read.failures.slice(0, 3),
  });
}
parentPort?.postMessage(runs);
