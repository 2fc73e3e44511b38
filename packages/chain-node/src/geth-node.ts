import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "@medrec/protocol/node";
import { BaseError } from "./errors.ts";
import { findGeth } from "./geth-binary.ts";
import { ipcRpc } from "./ipc.ts";
import { ensureNodeKey, makePrivateDir } from "./keys.ts";
import { killGroup, reapProcessAtExit } from "./reaper.ts";
import { httpRpc, RpcResponseError } from "./rpc.ts";

/** The account a sealer signs blocks with (see `createSealerKey`). */
export type SealerAccount = {
  address: `0x${string}`;
  /** Directory holding its keystore V3 file. */
  keystoreDir: string;
  /** File holding the keystore password. */
  passwordPath: string;
};

/**
 * A node's TCP ports, all on 127.0.0.1 except p2p (on `p2pHost`). `http` and `ws` exist only on an
 * RPC node: a sealer listens on p2p and the JWT-guarded engine port (`authrpc`), nothing else.
 */
export type GethPorts = { p2p: number; authrpc: number; http?: number; ws?: number };

/** Parameters of {@link gethNode}. */
export type GethNodeParameters = {
  /** Node data directory (chain database, config.toml, geth.log). Keep it outside the repository. */
  dataDir: string;
  /** Genesis JSON file; `geth init` runs with it when `dataDir` has no chain yet. */
  genesisPath: string;
  /** The chain id: `--networkid`, and what `eth_chainId` must answer before `start()` resolves. */
  chainId: number;
  /** p2p identity key file (see `ensureNodeKey`); fixes this node's enode id. */
  nodeKeyPath: string;
  /**
   * Seal blocks as this account. A node either seals or serves RPC, never both:
   * - with `sealer`: IPC only — no HTTP, no WebSocket (`--mine --unlock --password`, and no
   *   `--allow-insecure-unlock`, which geth needs only when HTTP is on);
   * - without: an RPC node holding no key, serving `eth,net,web3` over HTTP and WS on 127.0.0.1.
   *   `start()` refuses a data directory with a keystore file, and checks `eth_accounts` is empty.
   */
  sealer?: SealerAccount;
  /** Ports; any left out are chosen free at start. */
  ports?: Partial<GethPorts>;
  /** Interface the p2p listener binds. Default `127.0.0.1`; a provider joining others over the network uses `0.0.0.0`. */
  p2pHost?: string;
  /** enode URLs this node keeps connected to (config.toml `[Node.P2P] StaticNodes`). Default none. */
  staticNodes?: readonly string[];
  /** IPC socket path. Default `<dataDir>/geth.ipc`, or a short path under the temp dir when that is too long for a unix socket. */
  ipcPath?: string;
  /** Target block gas limit (`--miner.gaslimit`); set it to the genesis gas limit to keep that limit. */
  gasLimit?: bigint;
  /** Browser origins allowed on an RPC node's HTTP (CORS) and WebSocket. Default none (`*` is refused). */
  corsOrigins?: readonly string[];
  /** geth `--verbosity` (0–5). Default 3 (info). */
  verbosity?: number;
  /**
   * Extra flags appended to the run (not to `geth init`), e.g. tx-pool sizes. Flags that would
   * widen what the node exposes (`--http.*`, `--ws.*`, `--ipc*`, `--authrpc.*`, `--allow-insecure-unlock`,
   * `--unlock`, …) are refused: those are this launcher's to set.
   */
  extraArgs?: readonly string[];
  /** geth binary. Default {@link findGeth}. */
  binary?: string;
  /** How long `start()` may take. Default 60 s. */
  startTimeoutMs?: number;
  /** How many log lines `logs()` keeps. Default 200. */
  logLines?: number;
  /** Let geth outlive this process (CLI use). Default false: geth is killed when this process exits. */
  background?: boolean;
};

/** Everything {@link toArgs} needs: parameters with ports and paths resolved. */
export type ResolvedGethNodeParameters = GethNodeParameters & { ports: GethPorts; ipcPath: string };

/** What a node is for: a `sealer` (IPC only, unlocked key) or an `rpc` node (HTTP/WS, no key). */
export type GethNodeRole = "sealer" | "rpc";

/** The role a node's parameters give it. */
export function roleOf(p: Pick<GethNodeParameters, "sealer">): GethNodeRole {
  return p.sealer ? "sealer" : "rpc";
}

/** Lifecycle state of a {@link GethNode}. */
export type GethNodeStatus = "idle" | "starting" | "started" | "stopping" | "stopped";

/** A geth process in the prool `Instance` shape. */
export type GethNode = {
  /** Runs `geth init` if needed, spawns geth, and resolves once it is up and answers `eth_chainId`. */
  start(): Promise<void>;
  /** SIGTERM to geth's process group, then SIGKILL if it has not exited after `timeoutMs` (default 15 s). */
  stop(timeoutMs?: number): Promise<void>;
  readonly status: GethNodeStatus;
  /** geth's pid while running. */
  readonly pid: number | undefined;
  /** Resolved ports and paths (ports are known after `start()` begins). */
  readonly parameters: Readonly<ResolvedGethNodeParameters> | undefined;
  /** `sealer` (IPC only) or `rpc` (HTTP/WS, no key). */
  readonly role: GethNodeRole;
  /** An RPC node's `http://127.0.0.1:<port>`; undefined for a sealer (it serves no HTTP). */
  readonly rpcUrl: string | undefined;
  /** An RPC node's `ws://127.0.0.1:<port>`; undefined for a sealer. */
  readonly wsUrl: string | undefined;
  /** IPC socket path (the only way to reach `clique` and `admin`, and a sealer's only endpoint). */
  readonly ipcPath: string;
  /** This node's `enode://` URL (known once the node key exists). */
  readonly enode: string | undefined;
  /** geth's last log lines (up to `logLines`), oldest first. */
  logs(): string[];
};

/** Thrown when geth fails to initialise, start or become ready; carries geth's last log lines. */
export class GethStartError extends BaseError {
  override name = "GethStartError" as const;
}

// sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS) including the NUL.
const MAX_IPC_PATH = 100;

/** The IPC path for a data directory: `<dataDir>/geth.ipc` if short enough, else `<tmp>/medrec-<hash>.ipc`. */
export function defaultIpcPath(dataDir: string): string {
  const inDir = join(dataDir, "geth.ipc");
  if (Buffer.byteLength(inDir) <= MAX_IPC_PATH) return inDir;
  return join(tmpdir(), `medrec-${createHash("sha256").update(dataDir).digest("hex").slice(0, 16)}.ipc`);
}

const RESERVED_FLAGS =
  /^--(?:(?:http|ws|ipc|authrpc|graphql|rpc)[\w.-]*|allow-insecure-unlock|unlock|password|keystore|datadir|config|nodekey|networkid|mine|miner\.etherbase)(?:=|$)/;

/** Returns `extraArgs` unchanged, or throws when one would override a flag the launcher owns. */
export function checkExtraArgs(extraArgs: readonly string[]): readonly string[] {
  const reserved = extraArgs.find((a) => RESERVED_FLAGS.test(a));
  if (reserved)
    throw new GethStartError(`extraArgs may not set ${reserved.split("=")[0]}: the launcher owns it.`);
  return extraArgs;
}

/**
 * geth's command line for a node — pure, and the one source of MedRec's geth flags (the compose
 * file is checked against it). A **sealer** gets IPC and nothing else: `--mine --unlock
 * --password` without `--http`/`--ws`, so without `--allow-insecure-unlock`; geth 1.13.15 seals
 * Clique that way. An **RPC node** holds no key and serves `eth,net,web3` over HTTP and WS on
 * 127.0.0.1. Both: p2p only with static peers, the engine API pinned to loopback, and
 * `clique`/`admin` only over the IPC socket.
 */
export function toArgs(p: ResolvedGethNodeParameters): string[] {
  const args = [
    "--datadir",
    p.dataDir,
    "--config",
    join(p.dataDir, "config.toml"),
    "--networkid",
    String(p.chainId),
    "--syncmode",
    "full",
    "--nodiscover",
    "--nat",
    "none",
    "--nodekey",
    p.nodeKeyPath,
    "--ipcpath",
    p.ipcPath,
    // The engine API is always on in 1.13 (default port 8551): pin it to loopback and a free port.
    "--authrpc.addr",
    "127.0.0.1",
    "--authrpc.port",
    String(p.ports.authrpc),
    "--verbosity",
    String(p.verbosity ?? 3),
  ];
  if (p.sealer) {
    if (p.corsOrigins?.length)
      throw new GethStartError("corsOrigins is for an RPC node: a sealer serves no HTTP or WebSocket.");
    args.push(...checkExtraArgs(p.extraArgs ?? []));
    if (p.gasLimit !== undefined) args.push("--miner.gaslimit", p.gasLimit.toString());
    args.push(
      "--mine",
      "--miner.etherbase",
      p.sealer.address,
      "--keystore",
      p.sealer.keystoreDir,
      "--unlock",
      p.sealer.address,
      "--password",
      p.sealer.passwordPath,
    );
    return args;
  }
  const { http, ws } = p.ports;
  if (http === undefined || ws === undefined)
    throw new GethStartError("An RPC node needs an HTTP and a WebSocket port.");
  args.push(
    "--http",
    "--http.addr",
    "127.0.0.1",
    "--http.port",
    String(http),
    "--http.api",
    "eth,net,web3",
    "--http.vhosts",
    "localhost,127.0.0.1",
    "--ws",
    "--ws.addr",
    "127.0.0.1",
    "--ws.port",
    String(ws),
    "--ws.api",
    "eth,net,web3",
  );
  const cors = [...(p.corsOrigins ?? [])];
  if (cors.length > 0) args.push("--http.corsdomain", cors.join(","), "--ws.origins", cors.join(","));
  args.push(...checkExtraArgs(p.extraArgs ?? []));
  return args;
}

/**
 * The node's `config.toml` — pure. geth 1.13 ignores `static-nodes.json` ("deprecated and
 * ignored"); static peers live in `[Node.P2P] StaticNodes`. `ListenAddr` is set here rather than
 * with `--port`, which would bind every interface.
 */
export function toConfigToml(p: ResolvedGethNodeParameters): string {
  const nodes = (p.staticNodes ?? []).map((e) => JSON.stringify(e)).join(", ");
  return [
    "[Node.P2P]",
    `ListenAddr = ${JSON.stringify(`${p.p2pHost ?? "127.0.0.1"}:${p.ports.p2p}`)}`,
    `StaticNodes = [${nodes}]`,
    "",
  ].join("\n");
}

/** The enode URL of a node id at a host and port. */
export function enodeUrl(nodeId: string, host: string, port: number): string {
  return `enode://${nodeId}@${host}:${port}`;
}

/**
 * Creates a geth v1.13.15 node in the prool shape: nothing runs until `start()`.
 *
 * @example
 * const node = gethNode({ dataDir, genesisPath, chainId: 633732, nodeKeyPath, sealer })
 * await node.start(); console.log(node.rpcUrl); await node.stop()
 */
export function gethNode(parameters: GethNodeParameters): GethNode {
  if (parameters.corsOrigins?.includes("*")) {
    throw new GethStartError(
      "corsOrigins must list origins explicitly; `*` would let any web page use the node.",
    );
  }
  const role = roleOf(parameters);
  if (role === "sealer" && parameters.corsOrigins?.length)
    throw new GethStartError("corsOrigins is for an RPC node: a sealer serves no HTTP or WebSocket.");
  let status: GethNodeStatus = "idle";
  let pid: number | undefined;
  let resolved: ResolvedGethNodeParameters | undefined;
  let exited: Promise<void> | undefined;
  let exitInfo: string | undefined;
  let nodeId: string | undefined;
  /** Forgets the running geth in the reaper (see reaper.ts); set while it runs, unless `background`. */
  let forget: (() => void) | undefined;
  const logFile = join(parameters.dataDir, "geth.log");
  const tail = new LogTail(logFile, parameters.logLines ?? 200);

  const fail = (message: string, cause?: unknown) =>
    new GethStartError(message, {
      cause,
      metaMessages: ["geth's last log lines:", ...tail.read().slice(-20)],
    });

  return {
    get status() {
      return status;
    },
    get pid() {
      return pid;
    },
    get parameters() {
      return resolved;
    },
    get role() {
      return role;
    },
    get rpcUrl() {
      if (role === "sealer") return undefined;
      return `http://127.0.0.1:${resolved?.ports.http ?? parameters.ports?.http ?? 0}`;
    },
    get wsUrl() {
      if (role === "sealer") return undefined;
      return `ws://127.0.0.1:${resolved?.ports.ws ?? parameters.ports?.ws ?? 0}`;
    },
    get ipcPath() {
      return parameters.ipcPath ?? defaultIpcPath(parameters.dataDir);
    },
    get enode() {
      const port = resolved?.ports.p2p ?? parameters.ports?.p2p;
      return nodeId && port ? enodeUrl(nodeId, "127.0.0.1", port) : undefined;
    },
    logs: () => tail.read(),

    async start() {
      if (status === "starting" || status === "started")
        throw new GethStartError(`geth is already ${status}.`);
      status = "starting";
      try {
        const binary = parameters.binary ?? (await findGeth());
        const [p2p, authrpc, http, ws] = (await freePorts(role === "sealer" ? 2 : 4)) as number[];
        const ports: GethPorts = {
          p2p: p2p as number,
          authrpc: authrpc as number,
          ...(role === "rpc" ? { http: http as number, ws: ws as number } : {}),
          ...parameters.ports,
        };
        if (role === "sealer") {
          delete ports.http;
          delete ports.ws;
        }
        resolved = {
          ...parameters,
          ports,
          ipcPath: parameters.ipcPath ?? defaultIpcPath(parameters.dataDir),
        };
        await makePrivateDir(parameters.dataDir);
        if (role === "rpc") await refuseKeystore(parameters.dataDir, fail);
        nodeId = await readNodeId(parameters.nodeKeyPath);
        await writeFile(join(parameters.dataDir, "config.toml"), toConfigToml(resolved), { mode: 0o600 });
        if (!existsSync(join(parameters.dataDir, "geth", "chaindata")))
          await gethInit(binary, parameters.dataDir, parameters.genesisPath);

        const fd = openSync(logFile, "a", 0o600);
        tail.skipToEnd();
        const child = spawn(binary, toArgs(resolved), { detached: true, stdio: ["ignore", fd, fd] });
        closeSync(fd);
        child.unref();
        exitInfo = undefined;
        exited = new Promise((resolve) => {
          child.once("exit", (code, signal) => {
            exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
            forget?.();
            forget = undefined;
            pid = undefined;
            resolve();
          });
          child.once("error", (e) => {
            exitInfo = e.message;
            resolve();
          });
        });
        pid = child.pid;
        // Last resort if a test or script ends (exit, or a signal nothing else handles) without stop().
        if (pid && !parameters.background) forget = reapProcessAtExit(pid);

        await waitReady({
          ...(role === "rpc" ? { rpcUrl: `http://127.0.0.1:${ports.http}` } : { ipcPath: resolved.ipcPath }),
          chainId: parameters.chainId,
          timeoutMs: parameters.startTimeoutMs ?? 60_000,
          needLogLine: (parameters.verbosity ?? 3) >= 3,
          hasExited: () => exitInfo,
          logs: () => tail.read(),
          fail,
        });
        status = "started";
      } catch (error) {
        if (pid) {
          killGroup(pid, "SIGKILL");
          await exited;
        }
        status = "stopped";
        throw error instanceof GethStartError ? error : fail("geth failed to start.", error);
      }
    },

    async stop(timeoutMs = 15_000) {
      if (!pid) {
        status = "stopped";
        return;
      }
      status = "stopping";
      const current = pid;
      killGroup(current, "SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exited?.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        killGroup(current, "SIGKILL");
        await exited;
      }
      forget?.();
      forget = undefined;
      status = "stopped";
    },
  };
}

/**
 * Ready means, for a sealer: its IPC socket answers `eth_chainId` = our id and `eth_mining` = true
 * (geth unlocks the key only after its RPC servers are up, and exits if that fails). For an RPC
 * node: geth logged "HTTP server started", HTTP answers `eth_chainId` = our id, and `eth_accounts`
 * is empty (it holds no key). Being peered and synced is the network's to wait for.
 */
async function waitReady(o: {
  /** An RPC node's HTTP URL… */
  rpcUrl?: string;
  /** …or a sealer's IPC socket. */
  ipcPath?: string;
  chainId: number;
  timeoutMs: number;
  /** Require geth's "HTTP server started" / "IPC endpoint opened" line (only logged at verbosity ≥ 3). */
  needLogLine: boolean;
  hasExited: () => string | undefined;
  logs: () => string[];
  fail: (message: string, cause?: unknown) => GethStartError;
}): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  const call = <T>(method: string) =>
    o.rpcUrl !== undefined
      ? httpRpc<T>(o.rpcUrl, method, [], { timeoutMs: 1000 })
      : ipcRpc<T>(o.ipcPath as string, method, [], { timeoutMs: 1000 });
  const line = o.rpcUrl !== undefined ? "HTTP server started" : "IPC endpoint opened";
  let lastError: unknown;
  for (;;) {
    const exit = o.hasExited();
    if (exit) throw o.fail(`geth exited during start-up (${exit}).`);
    if (!o.needLogLine || o.logs().some((l) => l.includes(line))) {
      try {
        const id = await call<string>("eth_chainId");
        if (Number(id) !== o.chainId)
          throw o.fail(`geth answers chain id ${Number(id)}, expected ${o.chainId}.`);
        if (o.rpcUrl !== undefined) {
          const accounts = await call<string[]>("eth_accounts");
          if (accounts.length > 0)
            throw o.fail(`The RPC node lists accounts (${accounts.join(", ")}); it must hold no key.`);
          return;
        }
        if (await call<boolean>("eth_mining")) return;
      } catch (error) {
        if (error instanceof GethStartError || error instanceof RpcResponseError) throw error;
        lastError = error;
      }
    }
    if (Date.now() > deadline) throw o.fail(`geth was not ready within ${o.timeoutMs} ms.`, lastError);
    await sleep(100);
  }
}

/** An RPC node must hold no key: refuse a data directory whose keystore has any file in it. */
async function refuseKeystore(
  dataDir: string,
  fail: (message: string, cause?: unknown) => GethStartError,
): Promise<void> {
  const files = await readdir(join(dataDir, "keystore")).catch(() => [] as string[]);
  if (files.length > 0)
    throw fail(
      `${join(dataDir, "keystore")} holds ${files.length} file(s): an RPC node must hold no key (it serves eth_sign and eth_sendTransaction for any key it has).`,
    );
}

function gethInit(binary: string, dataDir: string, genesisPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ["init", "--datadir", dataDir, genesisPath],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        if (!error) return resolve();
        const lines = `${stdout}${stderr}`.split("\n").filter(Boolean).slice(-15);
        reject(
          new GethStartError(`\`geth init\` failed for ${genesisPath}.`, {
            cause: error,
            metaMessages: lines,
          }),
        );
      },
    );
  });
}

async function readNodeId(path: string): Promise<string> {
  return (await ensureNodeKey(path)).nodeId;
}

// The reaper's API, for whoever runs geth beside other processes of its own (scripts/system.ts).
export {
  guardianPid,
  killGroup,
  leftovers,
  reapAfterDeath,
  reapProcessAtExit,
  removeDirAtExit,
} from "./reaper.ts";

/** True when a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Stops a process we only know by pid (a geth started by another CLI run): SIGTERM to its group,
 * wait up to `timeoutMs`, then SIGKILL. Resolves once it is gone.
 */
export async function stopPid(
  pid: number,
  timeoutMs = 15_000,
): Promise<"terminated" | "killed" | "not-running"> {
  if (!isAlive(pid)) return "not-running";
  killGroup(pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return "terminated";
    await sleep(100);
  }
  killGroup(pid, "SIGKILL");
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  return "killed";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Keeps the last `max` lines of a growing log file, reading only what was appended since last time. */
class LogTail {
  readonly #path: string;
  readonly #max: number;
  #offset = 0;
  #partial = "";
  #lines: string[] = [];
  constructor(path: string, max: number) {
    this.#path = path;
    this.#max = max;
  }
  /** Forget the file's current content (a restart appends to the same file). */
  skipToEnd(): void {
    this.read();
    this.#lines = [];
    this.#partial = "";
  }
  read(): string[] {
    let fd: number;
    try {
      fd = openSync(this.#path, "r");
    } catch {
      return [...this.#lines];
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.#offset) this.#offset = 0;
      // Only the last 256 KiB can matter for the last `max` lines.
      if (size - this.#offset > 256 * 1024) this.#offset = size - 256 * 1024;
      const buffer = Buffer.alloc(size - this.#offset);
      const n = buffer.length > 0 ? readSync(fd, buffer, 0, buffer.length, this.#offset) : 0;
      this.#offset += n;
      const parts = (this.#partial + buffer.subarray(0, n).toString("utf8")).split("\n");
      this.#partial = parts.pop() ?? "";
      this.#lines.push(...parts.filter((l) => l.length > 0));
      if (this.#lines.length > this.#max) this.#lines.splice(0, this.#lines.length - this.#max);
    } finally {
      closeSync(fd);
    }
    return [...this.#lines];
  }
}
