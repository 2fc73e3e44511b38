/**
 * Runs the keep-alive load generator (bench/load-worker.ts) in a worker thread and summarizes
 * what it measured. The worker is terminated if the run overruns or the bench is interrupted.
 */
import { Worker } from "node:worker_threads";
import { type Summary, summarize as summarizeSamples } from "@medrec/testkit";

export type LoadOptions = {
  /** `http://127.0.0.1:<port>/v1/relationships/<id>/records` */
  url: string;
  token: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** The exact size of a complete 200 body. */
  expectedBytes: number;
  /** Entries every parsed sample must hold. */
  expectedEntries: number;
  /** Parse (and check) every n-th 200 body; 0 = never. */
  parseEvery: number;
};

export type LoadResult = {
  concurrency: number;
  windowMs: number;
  /** Latency (ms) of every counted read: a 200 with a complete body. */
  latencies: number[];
  /** Every response in the window, by status code. */
  statuses: Record<string, number>;
  /** 200s whose body was short or not the expected size. */
  incomplete: number;
  /** Sampled 200 bodies that were not the expected Bundle. */
  invalid: number;
  /** Connections closed or broken by the server mid-run. */
  socketErrors: number;
  connections: number;
  parsed: number;
  /** CPU time of the load generator's thread. */
  workerCpuMs: number;
};

export type LoadSummary = {
  concurrency: number;
  windowS: number;
  reads: number;
  readsPerSec: number;
  /** testkit's summary of the window's read latencies: n, nearest-rank percentiles, max, mean. */
  latencyMs: Summary;
  /** Every response in the window that was not a counted read. */
  errors: number;
  statuses: Record<string, number>;
  incomplete: number;
  invalid: number;
  socketErrors: number;
  parsedSamples: number;
  workerCpuMs: number;
};

export const round = (n: number, digits = 2) => Number(n.toFixed(digits));

export function summarize(result: LoadResult): LoadSummary {
  const { latencies } = result;
  const reads = latencies.length;
  const non200 = Object.entries(result.statuses)
    .filter(([status]) => status !== "200")
    .reduce((sum, [, n]) => sum + n, 0);
  return {
    concurrency: result.concurrency,
    windowS: result.windowMs / 1000,
    reads,
    readsPerSec: round(reads / (result.windowMs / 1000), 1),
    latencyMs: summarizeSamples(latencies),
    errors: non200 + result.incomplete + result.invalid + result.socketErrors,
    statuses: result.statuses,
    incomplete: result.incomplete,
    invalid: result.invalid,
    socketErrors: result.socketErrors,
    parsedSamples: result.parsed,
    workerCpuMs: round(result.workerCpuMs, 0),
  };
}

const running = new Set<Worker>();

/** Terminates every load worker still running (Ctrl-C, errors). */
export async function stopLoadWorkers(): Promise<void> {
  await Promise.all([...running].map((w) => w.terminate()));
}

/** Runs one load window in a worker thread; rejects if it does not report within the window + 30 s. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./load-worker.ts", import.meta.url), { workerData: options });
    running.add(worker);
    const timer = setTimeout(
      () => {
        void worker.terminate();
        reject(new Error("the load generator did not finish in time"));
      },
      options.warmupMs + options.durationMs + 30_000,
    );
    const done = () => {
      clearTimeout(timer);
      running.delete(worker);
    };
    worker.once("message", (result: LoadResult) => {
      done();
      resolve(result);
    });
    worker.once("error", (error) => {
      done();
      reject(error);
    });
    worker.once("exit", (code) => {
      done();
      reject(new Error(`the load generator exited (${code}) without a result`));
    });
  });
}
