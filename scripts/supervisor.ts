/**
 * One component of the local system in its own process, kept running: `./medrec start` runs each
 * provider's gatekeeper and the patient dapp this way, as compose runs them in containers of their
 * own (adr/0010). The child is a Node script with an IPC channel: it says `{ type: "ready", … }`
 * once it serves (or `{ type: "failed", message, code }`), and it ends when the channel closes —
 * so it dies with its supervisor, however that ends. A child that exits unasked is restarted after
 * a backoff (0.5 s doubling to 8 s, back to 0.5 s once a start has stayed up 10 s), each restart
 * printed; the other components keep serving meanwhile.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { killGroup, leftovers, reapProcessAtExit } from "@medrec/chain-node";
import { BaseError } from "@medrec/protocol";

/** What a child says over its channel. */
export type ChildMessage =
  | { type: "ready"; url: string; [key: string]: unknown }
  | { type: "failed"; message: string; code?: string };
type Ready = Extract<ChildMessage, { type: "ready" }>;

/** A child that ended before it was ready the first time: its own words, else its last output. */
export class ChildStartError extends BaseError {
  override name = "ChildStartError";
  /** The child's error code (e.g. EADDRINUSE), when it told one. */
  readonly code: string | undefined;
  constructor(reason: string, code: string | undefined, output: readonly string[]) {
    super(reason, { metaMessages: output.length > 0 ? ["its last output:", ...output] : [] });
    this.code = code;
  }
}

export type SuperviseParameters = {
  /** As printed: "gatekeeper of Lakeside Clinic", "patient dapp". */
  name: string;
  /** The script and its arguments, run with this Node. */
  args: readonly string[];
  /** The child's whole environment (nothing of ours leaks in unasked). */
  env: Record<string, string>;
  /** Restart lines and the child's output, one line at a time. */
  log: (line: string) => void;
  /** The environment of every start after a first ready (e.g. the port a first start chose). */
  envAfterReady?: (ready: Ready) => Record<string, string>;
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
};

export type Supervised = {
  readonly name: string;
  /** The running child's pid (undefined between a crash and its restart). */
  readonly pid: number | undefined;
  /** What the child said when it last became ready. */
  readonly ready: Ready;
  /** How many times the child was restarted. */
  readonly restarts: number;
  /** Sends `message` now and again after every restart (the last one of each `type`). */
  send(message: { type: string; [key: string]: unknown }): void;
  /** Resolves once the first start is ready; rejects with a {@link ChildStartError} when it fails. */
  started: Promise<Ready>;
  /** Resolves on the child's next `ready` (after a restart). */
  nextReady(): Promise<Ready>;
  /** Stops the child for good (SIGTERM, then SIGKILL after 10 s) and everything in its process group. */
  stop(): Promise<void>;
};

const TAIL_LINES = 20;

/** Resolves once `pid`'s process group is empty, sending SIGTERM, then SIGKILL after `graceMs`. */
export async function endGroup(pid: number, graceMs = 3_000): Promise<void> {
  killGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let killed = false;
  while (leftovers([pid], []).length > 0) {
    if (!killed && Date.now() > deadline) {
      killGroup(pid, "SIGKILL");
      killed = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Starts the child; `started` resolves once it is ready, or rejects with a {@link ChildStartError}
 * when its first start fails (no restart then: a start that fails names the part and stops).
 */
export function supervise(p: SuperviseParameters): Supervised {
  const initialMs = p.backoff?.initialMs ?? 500;
  const maxMs = p.backoff?.maxMs ?? 8_000;
  const resetAfterMs = p.backoff?.resetAfterMs ?? 10_000;
  let env = p.env;
  let child: ChildProcess | undefined;
  let ready: Ready | undefined;
  let readyAt = 0;
  let delay = initialMs;
  let restarts = 0;
  let stopping: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let waiters: ((r: Ready) => void)[] = [];
  /** When the child last exited unasked (for the "back after" line). */
  let exitedAt: number | undefined;
  const replay = new Map<string, { type: string }>();

  let resolveFirst: (r: Ready) => void = () => undefined;
  let rejectFirst: (e: unknown) => void = () => undefined;
  const started = new Promise<Ready>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  // Observed by the caller; unhandled here only when nobody awaits it.
  started.catch(() => undefined);
  const launch = () => {
    const tail: string[] = [];
    let failed: { message: string; code?: string } | undefined;
    const proc = spawn(process.execPath, [...p.args], {
      env,
      // Its own process group: a Ctrl-C to the terminal reaches this supervisor only, which stops
      // the child in order; and a group kill also ends what the child started (its PostgreSQL).
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    child = proc;
    const forget = proc.pid ? reapProcessAtExit(proc.pid) : () => undefined;
    for (const stream of [proc.stdout, proc.stderr]) {
      let partial = "";
      stream?.on("data", (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (!line) continue;
          tail.push(line);
          if (tail.length > TAIL_LINES) tail.shift();
          p.log(`[${p.name}] ${line}`);
        }
      });
    }
    proc.on("message", (message: ChildMessage) => {
      if (message?.type === "failed") failed = message;
      if (message?.type !== "ready") return;
      const first = ready === undefined;
      if (exitedAt !== undefined)
        p.log(`[supervisor] ${p.name} is back after ${((Date.now() - exitedAt) / 1000).toFixed(1)} s`);
      exitedAt = undefined;
      ready = message;
      readyAt = Date.now();
      if (p.envAfterReady) env = { ...env, ...p.envAfterReady(message) };
      for (const m of replay.values()) proc.send(m);
      const waiting = waiters;
      waiters = [];
      for (const w of waiting) w(message);
      if (first) resolveFirst(message);
    });
    proc.on("error", (error) => {
      failed ??= { message: error.message };
    });
    proc.on("exit", (code, signal) => {
      forget();
      if (child === proc) child = undefined;
      if (stopping) return;
      const how = signal ? `signal ${signal}` : `exit code ${code}`;
      if (ready === undefined) {
        // A first start that fails is not retried, and leaves nothing: its group ends first.
        stopping = Promise.resolve();
        const error = new ChildStartError(
          failed?.message ?? `exited (${how}) before it was ready`,
          failed?.code,
          tail,
        );
        void (proc.pid ? endGroup(proc.pid) : Promise.resolve()).then(() => rejectFirst(error));
        return;
      }
      exitedAt ??= Date.now();
      if (Date.now() - readyAt >= resetAfterMs) delay = initialMs;
      p.log(`[supervisor] ${p.name} exited (${how}); restarting in ${delay / 1000} s`);
      const wait = delay;
      delay = Math.min(delay * 2, maxMs);
      // What the child started (its PostgreSQL) ends with it before another takes its place.
      const pause = new Promise((resolve) => {
        timer = setTimeout(resolve, wait);
      });
      void Promise.all([proc.pid ? endGroup(proc.pid) : undefined, pause]).then(() => {
        if (stopping) return;
        restarts++;
        launch();
      });
    });
  };

  const stop = () => {
    stopping ??= (async () => {
      clearTimeout(timer);
      if (ready === undefined) rejectFirst(new ChildStartError("stopped before it was ready", undefined, []));
      const proc = child;
      if (!proc?.pid) return;
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGTERM");
        const hard = setTimeout(() => killGroup(proc.pid as number, "SIGKILL"), 10_000);
        await exited;
        clearTimeout(hard);
      }
      await endGroup(proc.pid);
    })();
    return stopping;
  };

  launch();
  return {
    name: p.name,
    get pid() {
      return child?.pid;
    },
    get ready() {
      return ready as Ready;
    },
    get restarts() {
      return restarts;
    },
    started,
    send(m) {
      replay.set(m.type, m);
      if (child?.connected) child.send(m);
    },
    nextReady: () => new Promise((resolve) => waiters.push(resolve)),
    stop,
  };
}
