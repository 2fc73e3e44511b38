/**
 * The governance daemon against real geth v1.13.15 processes (no mocks): three genesis sealers with
 * 1 s blocks, the AgentRegistry deployed on them, one daemon per sealer (two in-process, one as the
 * `medrec-chain daemon` CLI process), and a fourth provider that joins through the registry and is
 * later kicked. Nobody calls `clique_propose` by hand.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  agentAbi,
  agentRegistryAbi,
  agentRegistryBytecode,
  medrecChain,
  relationshipAbi,
} from "@medrec/protocol";
import { freePorts } from "@medrec/protocol/node";
import { eventually } from "@medrec/testkit";
import {
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type PrivateKeyAccount,
  parseEther,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import {
  blockNumber,
  type CastRecord,
  CursorFileError,
  cliqueGetSigner,
  cliqueGetSigners,
  cliqueProposals,
  DeployError,
  type DeployedContracts,
  deployRegistry,
  encryptKeystore,
  type GethNode,
  type GovernanceDaemon,
  type GovernanceLogEntry,
  gethNode,
  makePrivateDir,
  type Network,
  RegistryMismatchError,
  RegistryNotFoundError,
  RpcTimeoutError,
  RpcUnreachableError,
  readKeystore,
  SIGNER_ADDED_TOPIC,
  startGovernanceDaemon,
  startNetwork,
  stopNetwork,
  writePrivateFile,
} from "../src/index.ts";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const deployer = privateKeyToAccount(generatePrivateKey());
const joinerKey = generatePrivateKey();
const joiner = privateKeyToAccount(joinerKey);

let network: Network | undefined;
let chain: Chain;
let rpc0: string;
let sealers: PrivateKeyAccount[] = [];
let contracts: DeployedContracts;
let fourth: GethNode | undefined;
let cliDaemon: ChildProcess | undefined;
let cliExited: Promise<void> = Promise.resolve();
const daemons: GovernanceDaemon[] = [];
/** Sealer 2's first daemon, frozen mid-vote by its onCast hook: never stopped (its stop would wait forever). */
let frozen: GovernanceDaemon | undefined;
const servers: Server[] = [];
/** Log entries per sealer's daemon, across restarts (index = sealer). */
const logs: GovernanceLogEntry[][] = [[], [], []];
let crashed = false;
let crashedCursorBefore: bigint | undefined;

const ipc = (i: number) => network?.nodes[i]?.ipcPath as string;
const rpc = (i: number) => network?.nodes[i]?.rpcUrl as string;
const cursorPath = (i: number) => join(network?.dir as string, `governance-${i}.cursor.json`);
const lower = (xs: readonly string[]) => xs.map((x) => x.toLowerCase()).sort();

const publicClient = () => createPublicClient({ chain, transport: http(rpc0, { retryCount: 0 }) });

async function write(
  account: PrivateKeyAccount,
  functionName: "proposeProvider" | "vote" | "proposeKick",
  args: readonly unknown[],
): Promise<bigint> {
  const wallet = createWalletClient({ account, chain, transport: http(rpc0, { retryCount: 0 }) });
  const hash = await wallet.writeContract({
    address: contracts.AgentRegistry,
    abi: agentRegistryAbi,
    functionName,
    args,
  } as never);
  const receipt = await publicClient().waitForTransactionReceipt({
    hash,
    timeout: 30_000,
    pollingInterval: 250,
  });
  assert.equal(receipt.status, "success", `${functionName} reverted`);
  return receipt.blockNumber;
}

async function readRegistry<T>(functionName: "signers" | "proposalCount" | "isSigner", args: unknown[] = []) {
  return (await publicClient().readContract({
    address: contracts.AgentRegistry,
    abi: agentRegistryAbi,
    functionName,
    args,
  } as never)) as T;
}

function daemonFor(i: number, extra: Partial<Parameters<typeof startGovernanceDaemon>[0]> = {}) {
  return startGovernanceDaemon({
    ipcPath: ipc(i),
    rpcUrl: rpc(i),
    registry: contracts.AgentRegistry,
    cursorPath: cursorPath(i),
    pollIntervalMs: 500,
    timeoutMs: 3000,
    log: (e) => logs[i]?.push(e),
    ...extra,
  }).then((d) => {
    daemons.push(d);
    return d;
  });
}

function startCliDaemon(i: number): void {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "daemon",
      "--ipc",
      ipc(i),
      "--rpc",
      rpc(i),
      "--registry",
      contracts.AgentRegistry,
      "--cursor",
      cursorPath(i),
      "--poll-ms",
      "500",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  cliDaemon = child;
  cliExited = new Promise((r) => child.once("exit", () => r()));
  let buffer = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) logs[i]?.push(JSON.parse(line) as GovernanceLogEntry);
  });
  child.stderr
    ?.setEncoding("utf8")
    .on("data", (chunk: string) => process.stderr.write(`[daemon ${i}] ${chunk}`));
}

/** `vote-cast` log entries of sealer `i`'s daemon about `address`. */
const castsOf = (i: number, address: string, authorize: boolean) =>
  (logs[i] ?? []).filter(
    (e) =>
      e.event === "vote-cast" &&
      String(e.address).toLowerCase() === address.toLowerCase() &&
      e.authorize === authorize,
  ).length;

async function sealedBy(from: bigint, to: bigint): Promise<string[]> {
  const out: string[] = [];
  for (let b = from; b <= to; b++) out.push((await cliqueGetSigner(ipc(0), b)).toLowerCase());
  return out;
}

before(async () => {
  network = await startNetwork({
    sealers: 3,
    periodSeconds: 1,
    scrypt: "light",
    prefund: {
      [deployer.address]: parseEther("1000").toString(),
      [joiner.address]: parseEther("10").toString(),
    },
  });
  const net = network;
  rpc0 = rpc(0);
  chain = medrecChain({ chainId: net.state.chainId, rpcUrl: rpc0 }).chain;
  sealers = await Promise.all(
    net.state.nodes.map(async (n) => {
      const [file] = await readdir(n.keystoreDir);
      return privateKeyToAccount(
        await readKeystore(join(n.keystoreDir, file as string), await readFile(n.passwordPath, "utf8")),
      );
    }),
  );
  // Clique pays no block reward: the sealers need gas for their registry votes.
  const wallet = createWalletClient({ account: deployer, chain, transport: http(rpc0, { retryCount: 0 }) });
  const nonce = await publicClient().getTransactionCount({ address: deployer.address, blockTag: "pending" });
  const hashes = await Promise.all(
    sealers.map((s, i) =>
      wallet.sendTransaction({ to: s.address, value: parseEther("10"), nonce: nonce + i }),
    ),
  );
  for (const hash of hashes) await publicClient().waitForTransactionReceipt({ hash, timeout: 30_000 });

  contracts = await deployRegistry({
    rpcUrl: rpc0,
    ipcPath: ipc(0),
    deployer,
    initialSigners: net.state.nodes.map((n, i) => ({
      account: n.address,
      name: `Genesis Hospital ${i}`,
      gatekeeperUrl: `https://gatekeeper-${i}.example`,
    })),
  });

  // The fourth provider: its own sealer key and node, statically peered with the three; not a signer yet.
  const dir = join(net.dir, "nodes", "provider-3");
  await makePrivateDir(join(dir, "keystore"));
  const keystore = await encryptKeystore(joinerKey, "fourth-password", "light");
  await writePrivateFile(join(dir, "keystore", `UTC--joiner--${keystore.address}`), JSON.stringify(keystore));
  await writePrivateFile(join(dir, "password"), "fourth-password");
  fourth = gethNode({
    dataDir: join(dir, "data"),
    genesisPath: net.state.genesisPath,
    chainId: net.state.chainId,
    nodeKeyPath: join(dir, "nodekey"),
    sealer: {
      address: joiner.address,
      keystoreDir: join(dir, "keystore"),
      passwordPath: join(dir, "password"),
    },
    staticNodes: net.state.nodes.map((n) => n.enode),
    gasLimit: BigInt(net.state.gasLimit),
  });
  await fourth.start();

  await daemonFor(0);
  startCliDaemon(1);
  frozen = await daemonFor(2, {
    // "Killed mid-vote": on its first removal vote, sealer 2's daemon freezes right after
    // clique_propose and before its cursor is written — nothing after the cast ever runs.
    onCast: async (record: CastRecord) => {
      if (record.authorize !== false || crashed) return;
      crashedCursorBefore = JSON.parse(await readFile(cursorPath(2), "utf8")).block;
      crashed = true;
      await new Promise(() => {});
    },
  });
});

after(async () => {
  // Every process and directory goes, whatever failed. (The frozen daemon has no timer left.)
  await Promise.allSettled(daemons.filter((d) => !(crashed && d === frozen)).map((d) => d.stop()));
  if (cliDaemon && cliDaemon.exitCode === null) {
    cliDaemon.kill("SIGTERM");
    const t = setTimeout(() => cliDaemon?.kill("SIGKILL"), 5000);
    await cliExited;
    clearTimeout(t);
  }
  for (const s of servers) s.close();
  await fourth?.stop();
  if (network) await stopNetwork(network, { removeDir: true });
});

describe("governance daemon on a 3-sealer network", () => {
  test("default: the registry lists the genesis sealers and every daemon starts in sync", async () => {
    const net = network as Network;
    assert.deepEqual(
      lower(await readRegistry<Address[]>("signers")),
      lower(net.state.nodes.map((n) => n.address)),
    );
    // The forwarder is deployed first and every contract trusts it (relayed meta-transactions).
    assert.notEqual(await publicClient().getCode({ address: contracts.Forwarder }), undefined);
    for (const [address, abi] of [
      [contracts.AgentRegistry, agentRegistryAbi],
      [contracts.Agent, agentAbi],
      [contracts.Relationship, relationshipAbi],
    ] as const)
      assert.equal(
        await publicClient().readContract({ address, abi, functionName: "trustedForwarder" } as never),
        contracts.Forwarder,
      );
    for (const d of [daemons[0], daemons[1]]) {
      assert.ok(d);
      assert.equal(d.reconciliation.drift.inSync, true);
      assert.deepEqual(d.reconciliation.votes, []);
    }
    await eventually("the CLI daemon to start", async () =>
      logs[1]?.some((e) => e.event === "started") ? true : undefined,
    );
    assert.ok(logs[1]?.some((e) => e.event === "in-sync"));
    // Quiet and keyless: nothing that looks like a private key in any log line.
    for (const e of logs.flat())
      assert.doesNotMatch(
        JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
        /0x[0-9a-f]{64}/i,
      );
  });

  test("behavior: a look-alike SignerAdded/SignerRemoved from another contract is ignored", async () => {
    // Runtime: LOG2(topic0 = SignerAdded(address), topic1 = calldata[0:32]); 12-byte constructor copies it.
    const runtime = `6000357f${SIGNER_ADDED_TOPIC.slice(2)}60006000a200`;
    const initcode = `0x602a600c600039602a6000f3${runtime}` as Hex;
    const wallet = createWalletClient({ account: deployer, chain, transport: http(rpc0, { retryCount: 0 }) });
    const deployed = await publicClient().waitForTransactionReceipt({
      hash: await wallet.deployContract({ abi: [], bytecode: initcode }),
      timeout: 30_000,
    });
    const fake = deployed.contractAddress as Address;
    const receipt = await publicClient().waitForTransactionReceipt({
      hash: await wallet.sendTransaction({ to: fake, data: `0x${"0".repeat(24)}${joiner.address.slice(2)}` }),
      timeout: 30_000,
    });
    assert.equal(receipt.logs.length, 1, "the look-alike emitted its event");
    assert.equal(receipt.logs[0]?.topics[0], SIGNER_ADDED_TOPIC);
    const block = receipt.blockNumber;
    await eventually("every daemon's cursor past the look-alike's block", async () => {
      const c = await Promise.all(
        [0, 1, 2].map(async (i) => BigInt(JSON.parse(await readFile(cursorPath(i), "utf8")).block)),
      );
      return c.every((b) => b >= block) ? true : undefined;
    });
    for (const i of [0, 1, 2]) {
      assert.deepEqual(
        logs[i]?.filter((e) => e.event === "signer-event" || e.event === "vote-cast"),
        [],
        `daemon ${i} reacted to the look-alike`,
      );
      assert.deepEqual(await cliqueProposals(ipc(i)), {});
    }
  });

  test("behavior: a provider proposes itself, two signers vote, the daemons vote it into Clique and it seals", {
    timeout: 120_000,
  }, async (t) => {
    const started = Date.now();
    await write(joiner, "proposeProvider", ["Fourth Clinic", "https://fourth.example"]);
    const id = await readRegistry<bigint>("proposalCount");
    await write(sealers[0] as PrivateKeyAccount, "vote", [id]);
    const addedAt = await write(sealers[1] as PrivateKeyAccount, "vote", [id]);
    assert.equal(await readRegistry<boolean>("isSigner", [joiner.address]), true);
    const registryDone = Date.now();

    for (const i of [0, 1, 2])
      await eventually(`the joiner in clique_getSigners on node ${i}`, async () =>
        lower(await cliqueGetSigners(ipc(i))).includes(joiner.address.toLowerCase()) ? true : undefined,
      );
    const cliqueDone = Date.now();
    const appliedAt = await blockNumber(rpc0);
    const sealed = await eventually("a block sealed by the joiner", async () => {
      const head = await blockNumber(rpc0);
      const who = await sealedBy(addedAt + 1n, head);
      const k = who.indexOf(joiner.address.toLowerCase());
      return k >= 0 ? addedAt + 1n + BigInt(k) : undefined;
    });
    assert.equal(
      (await cliqueGetSigner(fourth?.ipcPath as string, sealed)).toLowerCase(),
      joiner.address.toLowerCase(),
    );
    assert.ok(
      lower(await cliqueGetSigners(fourth?.ipcPath as string)).includes(joiner.address.toLowerCase()),
    );

    // Once applied, every daemon withdrew its vote so the node stops voting on it.
    for (const i of [0, 1, 2])
      await eventually(`node ${i}'s vote discarded`, async () =>
        Object.keys(await cliqueProposals(ipc(i))).length === 0 ? true : undefined,
      );
    const casts = [0, 1, 2].map((i) => castsOf(i, joiner.address, true));
    for (const c of casts) assert.ok(c <= 1, `a daemon cast the add vote ${c} times`);
    assert.ok(casts.reduce((a, b) => a + b, 0) >= 2, `add votes cast: ${casts.join(", ")}`);
    t.diagnostic(
      `SignerAdded in block ${addedAt}; Clique applied by block ~${appliedAt} (${cliqueDone - registryDone} ms after the registry vote); joiner sealed block ${sealed}; whole flow ${Date.now() - started} ms; casts per daemon ${casts.join("/")}`,
    );
  });

  test("behavior: kick — a daemon killed mid-vote (cast, cursor not written) restarts, casts nothing twice, and the joiner stops sealing", {
    timeout: 120_000,
  }, async (t) => {
    const started = Date.now();
    await write(sealers[0] as PrivateKeyAccount, "proposeKick", [joiner.address]);
    const id = await readRegistry<bigint>("proposalCount");
    await write(sealers[1] as PrivateKeyAccount, "vote", [id]);
    const removedAt = await write(sealers[2] as PrivateKeyAccount, "vote", [id]);
    assert.equal(await readRegistry<boolean>("isSigner", [joiner.address]), false);

    await eventually("sealer 2's daemon to freeze after casting", async () => (crashed ? true : undefined));
    const cursorAtCrash = BigInt(JSON.parse(await readFile(cursorPath(2), "utf8")).block);
    assert.equal(
      cursorAtCrash,
      BigInt(crashedCursorBefore as bigint),
      "the cursor was not written after the cast",
    );
    assert.ok(cursorAtCrash < removedAt, "the cursor is still before the SignerRemoved block");
    assert.deepEqual(lower(Object.keys(await cliqueProposals(ipc(2)))), [joiner.address.toLowerCase()]);

    // Restart: same cursor file; the range with SignerRemoved is read again.
    const restarted = await daemonFor(2);
    const drift = restarted.reconciliation.drift;
    t.diagnostic(
      `restart reconciliation: in sync ${drift.inSync}, notInRegistry [${drift.notInRegistry.join(", ")}], planned ${JSON.stringify(restarted.reconciliation.votes)}`,
    );
    await eventually("the restarted daemon to pass the SignerRemoved block", async () =>
      restarted.status().cursor >= removedAt ? true : undefined,
    );
    assert.ok(
      restarted.status().events.some((e) => e.kind === "SignerRemoved" && e.signer === joiner.address),
      "the restarted daemon re-read the event",
    );

    for (const i of [0, 1, 2])
      await eventually(`the joiner out of clique_getSigners on node ${i}`, async () =>
        lower(await cliqueGetSigners(ipc(i))).includes(joiner.address.toLowerCase()) ? undefined : true,
      );
    const outAt = await blockNumber(rpc0);
    const cliqueDone = Date.now();
    for (const i of [0, 1, 2])
      await eventually(`node ${i}'s kick vote discarded`, async () =>
        Object.keys(await cliqueProposals(ipc(i))).length === 0 ? true : undefined,
      );
    // Exactly once per daemon (sealer 2: once before the "kill", not again after the restart).
    assert.deepEqual(
      [0, 1, 2].map((i) => castsOf(i, joiner.address, false)),
      [1, 1, 1],
    );
    assert.ok(logs[2]?.some((e) => e.event === "vote-discarded" && e.address === joiner.address));

    // It no longer seals.
    await eventually("8 more blocks", async () =>
      (await blockNumber(rpc0)) >= outAt + 8n ? true : undefined,
    );
    const who = await sealedBy(outAt + 1n, outAt + 8n);
    assert.ok(!who.includes(joiner.address.toLowerCase()), `sealers after the kick: ${who.join(", ")}`);
    assert.equal(new Set(who).size, 3);
    t.diagnostic(
      `SignerRemoved in block ${removedAt}; out of Clique by block ~${outAt}; ${cliqueDone - started} ms from proposeKick`,
    );
  });

  test("behavior: start-up reconciliation reports drift between registry and Clique (dry run casts nothing)", async () => {
    const net = network as Network;
    const stranger = privateKeyToAccount(generatePrivateKey()).address;
    const [s0, s1, s2] = net.state.nodes.map((n) => n.address);
    const deploy = async (accounts: string[]) => {
      const wallet = createWalletClient({
        account: deployer,
        chain,
        transport: http(rpc0, { retryCount: 0 }),
      });
      const hash = await wallet.deployContract({
        abi: agentRegistryAbi,
        bytecode: agentRegistryBytecode,
        args: [
          accounts.map((a, i) => ({
            account: a as Address,
            name: `n${i}`,
            gatekeeperUrl: `https://g${i}.example`,
          })),
          contracts.Forwarder,
        ],
      });
      return (await publicClient().waitForTransactionReceipt({ hash, timeout: 30_000 }))
        .contractAddress as Address;
    };
    const drifted = await deploy([s0 as string, s1 as string, stranger]);
    const entries: GovernanceLogEntry[] = [];
    const d = await startGovernanceDaemon({
      ipcPath: ipc(0),
      rpcUrl: rpc(0),
      registry: drifted,
      cursorPath: join(net.dir, "drift.cursor.json"),
      dryRun: true,
      log: (e) => entries.push(e),
    });
    await d.stop();
    const r = d.reconciliation;
    assert.equal(r.drift.inSync, false);
    assert.deepEqual(r.drift.missingFromClique, [stranger]);
    assert.deepEqual(r.drift.notInRegistry, [s2]);
    assert.deepEqual(
      r.votes.map((v) => [v.kind, v.address, v.kind === "propose" && v.authorize]).sort(),
      [
        ["propose", s2, false],
        ["propose", stranger, true],
      ].sort(),
    );
    assert.ok(entries.some((e) => e.event === "drift" && e.level === "warn"));
    assert.deepEqual(await cliqueProposals(ipc(0)), {}, "dry run cast nothing");

    // A registry sharing no signer with Clique is a wrong address, not a reason to vote everyone out.
    const foreign = await deploy([stranger, privateKeyToAccount(generatePrivateKey()).address]);
    await assert.rejects(
      startGovernanceDaemon({
        ipcPath: ipc(0),
        rpcUrl: rpc(0),
        registry: foreign,
        cursorPath: join(net.dir, "foreign.cursor.json"),
        log: () => {},
      }),
      RegistryMismatchError,
    );
    assert.deepEqual(await cliqueProposals(ipc(0)), {});
  });

  test("behavior: the CLI daemon stops cleanly on SIGTERM and leaves a valid cursor", async () => {
    assert.ok(cliDaemon);
    cliDaemon.kill("SIGTERM");
    await cliExited;
    assert.equal(cliDaemon.exitCode, 0);
    assert.ok(logs[1]?.some((e) => e.event === "stopped"));
    const cursor = JSON.parse(await readFile(cursorPath(1), "utf8"));
    assert.equal(cursor.registry, contracts.AgentRegistry);
    assert.match(cursor.block, /^\d+$/);
  });
});

describe("governance daemon: bad input fails fast and clearly", () => {
  const base = () => ({
    ipcPath: ipc(0),
    rpcUrl: rpc(0),
    registry: contracts.AgentRegistry,
    cursorPath: join(network?.dir as string, "bad.cursor.json"),
    timeoutMs: 1000,
    log: () => {},
  });
  async function fails(
    parameters: Parameters<typeof startGovernanceDaemon>[0],
    error: new (...a: never[]) => Error,
    re: RegExp,
  ) {
    await assert.rejects(
      startGovernanceDaemon(parameters),
      (e: unknown) => e instanceof error && re.test((e as Error).message),
    );
  }

  test("error: no code at the registry address", async () => {
    await fails(
      { ...base(), registry: privateKeyToAccount(generatePrivateKey()).address },
      RegistryNotFoundError,
      /No contract at the registry address/,
    );
  });

  test("error: unreachable geth — closed HTTP port, missing IPC socket", async () => {
    const [port] = await freePorts(1);
    await fails({ ...base(), rpcUrl: `http://127.0.0.1:${port}` }, RpcUnreachableError, /not reachable/);
    await fails(
      { ...base(), ipcPath: join(tmpdir(), "no-such-geth.ipc") },
      RpcUnreachableError,
      /not reachable at ipc:/,
    );
  });

  test("error: a node that accepts but never answers times out (HTTP and IPC)", async () => {
    const silent = createServer(() => {});
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    await fails(
      { ...base(), rpcUrl: `http://127.0.0.1:${port}` },
      RpcTimeoutError,
      /no answer within 1000 ms/,
    );
    const sock = join(network?.dir as string, "silent.ipc");
    const silentIpc = createServer(() => {});
    servers.push(silentIpc);
    await new Promise<void>((r) => silentIpc.listen(sock, r));
    await fails({ ...base(), ipcPath: sock }, RpcTimeoutError, /no answer within 1000 ms/);
  });

  test("error: invalid cursor file (garbage, or another registry's)", async () => {
    const path = join(network?.dir as string, "garbage.cursor.json");
    await writeFile(path, "{ not json");
    await fails(
      { ...base(), cursorPath: path },
      CursorFileError,
      /garbage\.cursor\.json is invalid: not JSON/,
    );
    const other = join(network?.dir as string, "other.cursor.json");
    await writeFile(
      other,
      JSON.stringify({ version: 1, chainId: network?.state.chainId, registry: deployer.address, block: "1" }),
    );
    await fails({ ...base(), cursorPath: other }, CursorFileError, /belongs to registry/);
  });

  test("error: the CLI exits 1 with the message for a registry without code, 2 for missing flags", () => {
    // A hung CLI is killed at 20 s and then has no exit status, which fails the assertions below.
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, "daemon", ...args], { encoding: "utf8", timeout: 20_000 });
    const noCode = run(
      "--ipc",
      ipc(0),
      "--rpc",
      rpc(0),
      "--registry",
      privateKeyToAccount(generatePrivateKey()).address,
      "--cursor",
      join(network?.dir as string, "cli-bad.cursor.json"),
    );
    assert.equal(noCode.status, 1, noCode.stderr);
    assert.match(noCode.stderr, /No contract at the registry address/);
    const missing = run("--ipc", ipc(0));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--registry/);
  });

  test("error: deployRegistry refuses initial signers that are not the Clique signers, before any transaction", async () => {
    const net = network as Network;
    const nonce = await publicClient().getTransactionCount({ address: deployer.address });
    await assert.rejects(
      deployRegistry({
        rpcUrl: rpc0,
        ipcPath: ipc(0),
        deployer,
        initialSigners: net.state.nodes.slice(0, 2).map((n, i) => ({
          account: n.address,
          name: `x${i}`,
          gatekeeperUrl: "https://x.example",
        })),
      }),
      (e: unknown) => e instanceof DeployError && /Clique signers not listed: 0x/.test(e.message),
    );
    assert.equal(await publicClient().getTransactionCount({ address: deployer.address }), nonce);
  });
});
