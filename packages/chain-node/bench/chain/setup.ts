/**
 * bench:chain's set-up: a 3-provider network in a temp dir (stopped and removed by the cleanup),
 * MedRecForwarder, Agent and Relationship deployed as the system deploys them (Agent trusts the
 * forwarder), every patient registered with one relationship, and one relayer per provider.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { availableParallelism, cpus, setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import {
  agentAbi,
  agentBytecode,
  type ForwardRequest,
  medRecForwarderAbi,
  medRecForwarderBytecode,
  relationshipAbi,
  signForwardRequest,
  toForwardRequestData,
} from "@medrec/protocol";
import {
  concat,
  decodeFunctionResult,
  encodeAbiParameters,
  encodeDeployData,
  encodeFunctionData,
  type Hex,
  keccak256,
  toHex,
} from "viem";
import { findGeth, type Network, startNetwork, stopNetwork } from "../../src/index.ts";
import { otherGethProcesses } from "../diagnostics.ts";
import { TXPOOL_FLAGS } from "../geth-flags.ts";
import { Rpc, sleep, waitForReceipts } from "../rpc.ts";
import { DETAILS_BYTES, grantCalldata, Sender, type SignedTx } from "../txs.ts";
import { type BenchOptions, FEES, PERIOD_SECONDS, PREFUND, SEALERS, SETUP_FEES } from "./config.ts";
import { cleanups, log } from "./process.ts";

/** Starts the network and deploys and fills the contracts; everything the measurements need. */
export async function setUp(opts: BenchOptions, smoke: boolean) {
  // Environment
  const gethBinary = await findGeth();
  const gethVersion =
    /Version:\s*(\S+)/.exec(execFileSync(gethBinary, ["version"], { encoding: "utf8" }))?.[1] ?? "unknown";
  const environment = {
    geth: gethVersion,
    node: process.version,
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    platform: `${process.platform}-${process.arch}`,
  };
  log(
    `geth ${environment.geth}, Node ${environment.node}, ${environment.cores} cores (${environment.cpu})` +
      (smoke ? "  — SMOKE RUN: no report is written" : ""),
  );

  const foreignAtStart = await otherGethProcesses([]);
  if (foreignAtStart.length > 0)
    console.warn(
      `warning: ${foreignAtStart.length} other geth process(es) are running on this machine (pids ${foreignAtStart.join(", ")}); ` +
        "they compete for the same cores and will depress the figures",
    );

  // Accounts: a deployer, one provider delegate, latency patients and load patients, each patient
  // pinned to one node (as a patient would use its own provider's node).
  const latencySenderCount = 6;
  const deployer = new Sender(0);
  const delegate = new Sender(0);
  // One relayer per provider, sending through its own provider's RPC node (a gatekeeper's relay).
  const relayers = Array.from({ length: SEALERS }, (_, k) => new Sender(k));
  const latencySenders = Array.from({ length: latencySenderCount }, (_, i) => new Sender(i % SEALERS));
  const loadSenders = Array.from({ length: opts.senders }, (_, i) => new Sender(i % SEALERS));
  const patients = [...latencySenders, ...loadSenders];
  const prefund = Object.fromEntries(
    [deployer, delegate, ...relayers, ...patients].map((s) => [s.address, PREFUND]),
  );

  // Network (in our own temp dir, so an interrupted start-up is cleaned up too)
  const work = await mkdtemp(join(tmpdir(), "medrec-bench-"));
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  log(
    `starting ${SEALERS} providers (each a sealer, IPC only, + an RPC node; period ${PERIOD_SECONDS} s, gas limit ${opts.gasLimit.toLocaleString("en-US")}) in ${work}`,
  );
  let network: Network | undefined;
  const starting = startNetwork({
    dataDir: join(work, "net"),
    sealers: SEALERS,
    periodSeconds: PERIOD_SECONDS,
    gasLimit: opts.gasLimit,
    prefund,
    scrypt: "light",
    binary: gethBinary,
    extraArgs: [...TXPOOL_FLAGS, ...opts.gethArgs],
    rpcExtraArgs: opts.rpcArgs,
    readyTimeoutMs: 90_000,
  });
  cleanups.push(async () => {
    // If start-up is still running, give it a moment to finish (it stops what started on failure).
    const net =
      network ?? (await Promise.race([starting.catch(() => undefined), sleep(20_000).then(() => undefined)]));
    if (net) await stopNetwork(net);
  });
  network = await starting;
  const rpcs = network.nodes.map((n) => new Rpc(n.rpcUrl));
  const chainId = network.state.chainId;
  log(`network up: ${network.nodes.map((n) => n.rpcUrl).join(", ")}`);

  // ---- Setup: Agent (→ Relationship), patients registered, one relationship each -------------
  const node0 = rpcs[0] as Rpc;
  const send = async (txs: SignedTx[]) => {
    const byNode = new Map<number, SignedTx[]>();
    for (const tx of txs) byNode.set(tx.sender.node, [...(byNode.get(tx.sender.node) ?? []), tx]);
    await Promise.all(
      [...byNode].map(async ([node, list]) => {
        const replies = await (rpcs[node] as Rpc).batch(
          list.map((t) => ({ method: "eth_sendRawTransaction", params: [t.raw] })),
        );
        const bad = replies.find((r) => r.error);
        if (bad) throw new Error(`eth_sendRawTransaction: ${bad.error?.message}`);
      }),
    );
  };
  const mine = async (txs: SignedTx[], what: string) => {
    await send(txs);
    const receipts = await waitForReceipts(
      node0,
      txs.map((t) => t.hash),
    );
    const failed = [...receipts.values()].filter((r) => r.status !== "0x1");
    if (failed.length > 0) throw new Error(`${failed.length} ${what} transaction(s) reverted`);
    return receipts;
  };
  const estimate = async (from: string, to: string | null, data: Hex) =>
    BigInt(await node0.call<string>("eth_estimateGas", [{ from, ...(to ? { to } : {}), data }]));

  // MedRecForwarder, then Agent(trustedForwarder) (→ Relationship), as deployRegistry does. A direct
  // call costs the same as without a forwarder (it is an immutable compared with msg.sender).
  const forwarderData = encodeDeployData({ abi: medRecForwarderAbi, bytecode: medRecForwarderBytecode });
  const forwarderTx = await deployer.sign({
    chainId,
    to: null,
    data: forwarderData,
    gas: ((await estimate(deployer.address, null, forwarderData)) * 12n) / 10n,
    fees: SETUP_FEES,
  });
  const forwarderAddress = (await mine([forwarderTx], "deploy")).get(forwarderTx.hash)?.contractAddress;
  if (!forwarderAddress) throw new Error("MedRecForwarder deployment has no contract address");
  const agentDeployData = encodeDeployData({
    abi: agentAbi,
    bytecode: agentBytecode,
    args: [forwarderAddress],
  });
  const deployGas = await estimate(deployer.address, null, agentDeployData);
  const deployTx = await deployer.sign({
    chainId,
    to: null,
    data: agentDeployData,
    gas: (deployGas * 12n) / 10n,
    fees: SETUP_FEES,
  });
  const agentAddress = (await mine([deployTx], "deploy")).get(deployTx.hash)?.contractAddress;
  if (!agentAddress) throw new Error("Agent deployment has no contract address");
  const relationshipAddress = decodeFunctionResult({
    abi: agentAbi,
    functionName: "relationships",
    data: await node0.call<Hex>("eth_call", [
      { to: agentAddress, data: encodeFunctionData({ abi: agentAbi, functionName: "relationships" }) },
      "latest",
    ]),
  });
  log(`Agent ${agentAddress}, Relationship ${relationshipAddress}`);

  const registerData = () =>
    encodeFunctionData({ abi: agentAbi, functionName: "register", args: [toHex(randomBytes(32)), [], 0] });
  const registerGas =
    ((await estimate((patients[0] as Sender).address, agentAddress, registerData())) * 13n) / 10n;
  await mine(
    await Promise.all(
      patients.map((p) =>
        p.sign({ chainId, to: agentAddress, data: registerData(), gas: registerGas, fees: SETUP_FEES }),
      ),
    ),
    "register",
  );
  const createData = (patient: `0x${string}`) =>
    encodeFunctionData({
      abi: relationshipAbi,
      functionName: "create",
      args: [patient, toHex(randomBytes(DETAILS_BYTES))],
    });
  const createGas =
    ((await estimate(delegate.address, relationshipAddress, createData((patients[0] as Sender).address))) *
      13n) /
    10n;
  const creates: SignedTx[] = [];
  for (const p of patients)
    creates.push(
      await delegate.sign({
        chainId,
        to: relationshipAddress,
        data: createData(p.address),
        gas: createGas,
        fees: SETUP_FEES,
      }),
    );
  await mine(creates, "create");
  const idOf = (patient: `0x${string}`) =>
    keccak256(encodeAbiParameters([{ type: "address" }, { type: "address" }], [patient, delegate.address]));
  const onChainId = decodeFunctionResult({
    abi: relationshipAbi,
    functionName: "relationshipId",
    data: await node0.call<Hex>("eth_call", [
      {
        to: relationshipAddress,
        data: encodeFunctionData({
          abi: relationshipAbi,
          functionName: "relationshipId",
          args: [(patients[0] as Sender).address, delegate.address],
        }),
      },
      "latest",
    ]),
  });
  if (onChainId !== idOf((patients[0] as Sender).address)) throw new Error("relationshipId mismatch");
  const relationshipIds = new Map(patients.map((p) => [p.address, idOf(p.address)]));

  const latest = await node0.call<{ timestamp: Hex }>("eth_getBlockByNumber", ["latest", false]);
  const expiresAt = BigInt(latest.timestamp) + 30n * 24n * 3600n;
  const grantFor = (s: Sender) => grantCalldata(relationshipIds.get(s.address) as Hex, expiresAt);
  const grantEstimate = await estimate(
    (patients[0] as Sender).address,
    relationshipAddress,
    grantFor(patients[0] as Sender),
  );
  const grantGasLimit = (grantEstimate * 11n) / 10n;
  const signGrant = (s: Sender) =>
    s.sign({ chainId, to: relationshipAddress, data: grantFor(s), gas: grantGasLimit, fees: FEES });

  // Relayed grants, as the system sends them: the patient signs an EIP-712 ForwardRequest (its
  // forwarder nonce kept here; the forwarded call's gas estimated from the forwarder with the
  // patient appended, plus buildForwardRequest's 25 %), and the relayer of the patient's provider
  // sends `execute(request)` (gas limit: the estimate + 20 %, as relay.service does).
  const domain = { chainId, forwarder: forwarderAddress };
  const forwarderNonces = new Map<string, bigint>();
  const p0 = patients[0] as Sender;
  const forwardedGas =
    ((await estimate(forwarderAddress, relationshipAddress, concat([grantFor(p0), p0.address]))) * 125n) /
    100n;
  const executeData = async (p: Sender, nonce: bigint) => {
    const request: ForwardRequest = {
      from: p.address,
      to: relationshipAddress,
      value: 0n,
      gas: forwardedGas,
      nonce,
      deadline: Math.floor(Date.now() / 1000) + 600,
      data: grantFor(p),
    };
    const signature = await signForwardRequest(p.account, request, domain);
    return encodeFunctionData({
      abi: medRecForwarderAbi,
      functionName: "execute",
      args: [toForwardRequestData(request, signature)],
    });
  };
  // A patient's first request also writes its forwarder nonce (a fresh slot): the dearest case.
  const executeEstimate = await estimate(
    (relayers[0] as Sender).address,
    forwarderAddress,
    await executeData(p0, 0n),
  );
  const executeGasLimit = (executeEstimate * 12n) / 10n;
  // Later requests update that nonce instead (5,000 gas, not 22,100): what a block holds is
  // counted with this figure (it sizes the pre-signed stock of transactions).
  const executeSteadyGas = executeEstimate - 17_100n;
  const signRelayedGrant = async (p: Sender) => {
    const nonce = forwarderNonces.get(p.address) ?? 0n;
    forwarderNonces.set(p.address, nonce + 1n);
    const data = await executeData(p, nonce);
    return (relayers[p.node] as Sender).sign({
      chainId,
      to: forwarderAddress,
      data,
      gas: executeGasLimit,
      fees: FEES,
    });
  };
  // A measurement pre-signs more than it sends (its stock is sized for full blocks): before the next
  // one, every account's nonces are read back from the chain — transaction nonces of the relayers
  // and patients, and the patients' forwarder nonces.
  const resyncNonces = async () => {
    const accounts = [...relayers, ...patients];
    const counts = await node0.batch<Hex>(
      accounts.map((a) => ({ method: "eth_getTransactionCount", params: [a.address, "pending"] })),
    );
    const forwarded = await node0.batch<Hex>(
      patients.map((p) => ({
        method: "eth_call",
        params: [
          {
            to: forwarderAddress,
            data: encodeFunctionData({ abi: medRecForwarderAbi, functionName: "nonces", args: [p.address] }),
          },
          "latest",
        ],
      })),
    );
    accounts.forEach((a, i) => {
      const count = counts[i]?.result;
      if (!count) throw new Error(`eth_getTransactionCount: ${counts[i]?.error?.message}`);
      a.nonce = Number(BigInt(count));
    });
    patients.forEach((p, i) => {
      const nonce = forwarded[i]?.result;
      if (!nonce) throw new Error(`forwarder nonces: ${forwarded[i]?.error?.message}`);
      forwarderNonces.set(p.address, BigInt(nonce));
    });
  };
  log(
    `${patients.length} patients registered, ${patients.length} relationships created; ` +
      `grant ≈ ${grantEstimate.toLocaleString("en-US")} gas direct (tx gas limit ${grantGasLimit.toLocaleString("en-US")}), ` +
      `≈ ${executeEstimate.toLocaleString("en-US")} relayed (execute gas limit ${executeGasLimit.toLocaleString("en-US")})`,
  );
  return {
    environment,
    foreignAtStart,
    network,
    rpcs,
    latencySenders,
    loadSenders,
    signGrant,
    signRelayedGrant,
    resyncNonces,
    relationshipAddress,
    forwarderAddress,
    grantEstimate,
    grantGasLimit,
    executeEstimate,
    executeGasLimit,
    executeSteadyGas,
  };
}

/**
 * Every thread of each RPC node at CPU priority `nice` (1–19: below the sealers), so that the
 * sealers get the cores first. Linux applies a priority per thread, and the threads geth starts
 * later inherit it from the thread that starts them. Returns how many threads were changed.
 */
export async function reniceRpcNodes(network: Network, nice: number): Promise<number> {
  let threads = 0;
  for (const pid of network.nodes.map((n) => n.rpc.pid))
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
      setPriority(Number(tid), nice);
      threads++;
    }
  return threads;
}
