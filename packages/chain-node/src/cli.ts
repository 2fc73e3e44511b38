#!/usr/bin/env node
/**
 * `medrec-chain`: run a local MedRec Clique network from a directory.
 * Every wait has a timeout; bad input exits 2 with a message, failures exit 1.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BaseError } from "./errors.ts";
import { GenesisParametersError } from "./genesis.ts";
import { isAlive, stopPid } from "./geth-node.ts";
import { GovernanceParametersError, startGovernanceDaemon } from "./governance.ts";
import { createSealerKey } from "./keys.ts";
import {
  initNetwork,
  type Network,
  nodeFor,
  nodeStatus,
  readState,
  startProviders,
  writeState,
} from "./network.ts";

const HELP = `usage: medrec-chain <command> --dir <network-dir> [options]

commands:
  init    create a network: sealer keys, genesis, ports, state file (chain-node.json)
            --sealers <n>       number of sealers (default 3)
            --period <s>        seconds between blocks, 1-3600 (default 5)
            --chain-id <id>     chain id (default 633732)
            --gas-limit <gas>   block gas limit (default 30000000)
            --prefund <a>=<wei> prefund an account (repeatable)
  keys    create one sealer account (keystore + password file, 0600) in --dir; prints its address
  start   start every provider (sealer, IPC only + RPC node, no key) in the background and
          wait until they are peered and sealing
            --timeout <s>       give up after this many seconds (default 120)
  status  block height, peers, signers and turn of every node (--json for JSON)
  stop    stop every sealer and RPC node (SIGTERM, then SIGKILL after 15 s)
  daemon  governance daemon for ONE node: AgentRegistry signer events -> clique_propose over IPC
            --registry <addr>   the AgentRegistry address (required)
            --node <name|addr>  with --dir: the node of that network (fills --ipc, --rpc, --cursor)
            --ipc <path>        the node's IPC socket (without --dir)
            --rpc <url>         the provider's RPC node (HTTP JSON-RPC URL) (without --dir)
            --cursor <file>     cursor file (default with --dir: <dir>/governance/<node>.cursor.json)
            --confirmations <n> process blocks this deep below the head (default 2)
            --poll-ms <ms>      pause between polls (default 1000)
            --from-block <n>    first block to read when there is no cursor (default: confirmed head)
            --dry-run           report drift and planned votes, cast nothing
          runs until SIGINT/SIGTERM; logs one JSON line per event on stdout

options:
  --dir <path>  the network directory (required, except for daemon with --ipc/--rpc/--cursor)
  -h, --help    this text
`;

class UsageError extends BaseError {
  override name = "UsageError" as const;
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === undefined || command === "help") {
    process.stdout.write(HELP);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (positionals.length > 1) throw new UsageError(`Unexpected argument: ${positionals[1]}`);
  if (command === "daemon") return daemon(values);
  if (!values.dir) throw new UsageError("--dir <network-dir> is required.");
  const dir = resolve(values.dir);

  switch (command) {
    case "init": {
      const prefund: Record<string, string> = {};
      for (const entry of values.prefund ?? []) {
        const [address, wei] = entry.split("=");
        if (!address || !wei) throw new UsageError(`--prefund expects <address>=<wei>, got ${entry}`);
        prefund[address] = wei;
      }
      const { state } = await initNetwork({
        dataDir: dir,
        sealers: int("--sealers", values.sealers ?? "3"),
        periodSeconds: int("--period", values.period ?? "5"),
        chainId: int("--chain-id", values["chain-id"] ?? "633732"),
        gasLimit: bigint("--gas-limit", values["gas-limit"] ?? "30000000"),
        prefund,
      });
      console.log(`network created in ${dir} (chain id ${state.chainId}, ${state.nodes.length} sealers)`);
      for (const n of state.nodes) console.log(`  ${n.name}  ${n.address}  ${n.enode}`);
      return 0;
    }
    case "keys": {
      const key = await createSealerKey({ dir });
      console.log(key.address);
      console.error(`keystore: ${key.keystorePath}\npassword file: ${key.passwordPath}`);
      return 0;
    }
    case "start": {
      const state = await readState(dir);
      const timeoutMs = int("--timeout", values.timeout ?? "120") * 1000;
      const running = state.nodes.filter((n) =>
        [n.pid, n.rpc.pid].some((p) => p !== undefined && isAlive(p)),
      );
      if (running.length > 0)
        throw new UsageError(
          `Already running: ${running.map((n) => n.name).join(", ")}. Run \`stop\` first.`,
        );
      const nodes = state.nodes.map((n) => nodeFor(state, n, { background: true }));
      const network: Network = { dir, state, nodes };
      const recordPids = async () => {
        state.nodes.forEach((n, i) => {
          const sealerPid = nodes[i]?.sealer.pid;
          const rpcPid = nodes[i]?.rpc.pid;
          if (sealerPid !== undefined) n.pid = sealerPid;
          if (rpcPid !== undefined) n.rpc.pid = rpcPid;
        });
        await writeState(dir, state);
      };
      try {
        await startProviders(network, { timeoutMs, onStarted: recordPids });
      } catch (error) {
        await Promise.allSettled(nodes.map((n) => n.stop()));
        for (const n of state.nodes) {
          delete n.pid;
          delete n.rpc.pid;
        }
        await writeState(dir, state);
        throw error;
      }
      for (const [i, n] of state.nodes.entries())
        console.log(
          `${n.name}  pid ${n.pid}  ${nodes[i]?.rpcUrl}  ${nodes[i]?.wsUrl}  (RPC node pid ${n.rpc.pid}; sealer IPC only: ${n.ipcPath})`,
        );
      return 0;
    }
    case "stop": {
      const state = await readState(dir);
      await Promise.all(
        state.nodes.map(async (n) => {
          const [sealer, rpc] = await Promise.all(
            [n.pid, n.rpc.pid].map((pid) => (pid === undefined ? "not-running" : stopPid(pid))),
          );
          console.log(`${n.name}: ${sealer} (RPC node: ${rpc})`);
          delete n.pid;
          delete n.rpc.pid;
        }),
      );
      await writeState(dir, state);
      return 0;
    }
    case "status": {
      const state = await readState(dir);
      const rows = await Promise.all(
        state.nodes.map(async (n) => {
          const base = {
            name: n.name,
            address: n.address,
            pid: n.pid,
            rpcUrl: `http://127.0.0.1:${n.rpc.ports.http}`,
            rpcNodeRunning: n.rpc.pid !== undefined && isAlive(n.rpc.pid),
          };
          if (n.pid === undefined || !isAlive(n.pid)) return { ...base, running: false as const };
          try {
            const s = await nodeStatus({ ipcPath: n.ipcPath }, { sealer: n.address, timeoutMs: 3000 });
            return { ...base, running: true as const, ...s, blockNumber: Number(s.blockNumber) };
          } catch (error) {
            return {
              ...base,
              running: true as const,
              error: error instanceof BaseError ? error.shortMessage : String(error),
            };
          }
        }),
      );
      if (values.json) console.log(JSON.stringify({ chainId: state.chainId, nodes: rows }, null, 2));
      else
        for (const r of rows) {
          const detail = !r.running
            ? "stopped"
            : "error" in r
              ? `error: ${r.error}`
              : `block ${r.blockNumber}, ${r.peerCount} peers, ${r.signers.length} signers${r.inTurn ? ", in turn" : ""}${r.rpcNodeRunning ? "" : ", RPC node stopped"}`;
          console.log(`${r.name}  ${r.address}  ${detail}`);
        }
      return rows.every((r) => r.running && r.rpcNodeRunning && !("error" in r)) ? 0 : 1;
    }
    default:
      throw new UsageError(`Unknown command: ${command}. Commands: init, keys, start, status, stop, daemon.`);
  }
}

async function daemon(values: ReturnType<typeof parse>["values"]): Promise<number> {
  if (!values.registry) throw new UsageError("--registry <address> is required.");
  let { ipc, rpc, cursor } = values;
  if (values.dir) {
    const dir = resolve(values.dir);
    if (!values.node) throw new UsageError("--node <name|address> is required with --dir.");
    const state = await readState(dir);
    const wanted = values.node.toLowerCase();
    const node = state.nodes.find((n) => n.name === values.node || n.address.toLowerCase() === wanted);
    if (!node) throw new UsageError(`No node ${values.node} in ${dir}.`);
    ipc ??= node.ipcPath;
    rpc ??= `http://127.0.0.1:${node.rpc.ports.http}`;
    cursor ??= join(dir, "governance", `${node.name}.cursor.json`);
    await mkdir(join(dir, "governance"), { recursive: true, mode: 0o700 });
  }
  if (!ipc || !rpc || !cursor)
    throw new UsageError("daemon needs --ipc, --rpc and --cursor (or --dir with --node).");
  const d = await startGovernanceDaemon({
    ipcPath: ipc,
    rpcUrl: rpc,
    registry: values.registry,
    cursorPath: resolve(cursor),
    confirmations: int("--confirmations", values.confirmations ?? "2"),
    pollIntervalMs: int("--poll-ms", values["poll-ms"] ?? "1000"),
    ...(values["from-block"] ? { fromBlock: bigint("--from-block", values["from-block"]) } : {}),
    ...(values["dry-run"] ? { dryRun: true } : {}),
  });
  await new Promise<void>((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await d.stop();
  return 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      dir: { type: "string" },
      sealers: { type: "string" },
      period: { type: "string" },
      "chain-id": { type: "string" },
      "gas-limit": { type: "string" },
      prefund: { type: "string", multiple: true },
      timeout: { type: "string" },
      json: { type: "boolean" },
      registry: { type: "string" },
      node: { type: "string" },
      ipc: { type: "string" },
      rpc: { type: "string" },
      cursor: { type: "string" },
      confirmations: { type: "string" },
      "poll-ms": { type: "string" },
      "from-block": { type: "string" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function int(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got ${value}`);
  return Number(value);
}

function bigint(flag: string, value: string): bigint {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got ${value}`);
  return BigInt(value);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (
      error instanceof UsageError ||
      error instanceof GenesisParametersError ||
      error instanceof GovernanceParametersError
    ) {
      console.error(`medrec-chain: ${error.shortMessage}\nRun \`medrec-chain --help\` for usage.`);
      process.exitCode = 2;
    } else {
      console.error(`medrec-chain: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    }
  },
);
