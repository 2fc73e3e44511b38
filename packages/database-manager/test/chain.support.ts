/**
 * Shared set-up of the chain tests: a REAL geth v1.13.15 Clique network (1 sealer, 1 s blocks)
 * with the MedRec contracts, a real PostgreSQL server with a migrated database, funded accounts,
 * and helpers to act as a patient on chain. Everything started here is stopped by `stop()`.
 */
import {
  type DeployedContracts,
  deployRegistry,
  type Network,
  startNetwork,
  stopNetwork,
} from "@medrec/chain-node";
import {
  accountFromMnemonic,
  agentAbi,
  encryptionKeyPairFromMnemonic,
  generatePatientMnemonic,
  medrecChain,
  relationshipAbi,
} from "@medrec/protocol";
import type { RequestHandler } from "express";
import type { Knex } from "knex";
import { pino } from "pino";
import {
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  type Hex,
  http,
  type PublicClient,
  parseEther,
  type Transport,
} from "viem";
import {
  generatePrivateKey,
  type LocalAccount,
  type PrivateKeyAccount,
  privateKeyToAccount,
} from "viem/accounts";
import { type ChainSettings, defaultRelaySettings } from "../src/chain/config.ts";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { problem, sendProblem } from "../src/errors.ts";
import type { Guards } from "../src/seams.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

export const silent = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
export const DELEGATE_MNEMONIC = "test test test test test test test test test test test junk";

export type ChainEnv = {
  network: Network;
  contracts: DeployedContracts;
  rpcUrl: string;
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  deployer: PrivateKeyAccount;
  /** Each provider's relayer key (funded at genesis); `relayerKey` is the first provider's. */
  relayerKey: Hex;
  relayerKeys: Hex[];
  /** The providers registered in AgentRegistry: one sealer each. */
  providers: { name: string; account: Address; gatekeeperUrl: string }[];
  pg: TestPostgres;
  dbUrl: string;
  db: Knex;
  /** Chain settings of provider `index` (default the first), with `overrides`. */
  settings(overrides?: Partial<ChainSettings>, index?: number): ChainSettings;
  /** A new patient with a 12-word seed, funded, registered as an agent (unless `register: false`). */
  patient(options?: { register?: boolean }): Promise<Patient>;
  /** A funded plain account (viewer, custodian). */
  account(): Promise<PrivateKeyAccount>;
  send(
    account: LocalAccount,
    call: { address: Address; abi: unknown; functionName: string; args: readonly unknown[] },
    options?: { nonce?: number },
  ): Promise<Hex>;
  receipt(hash: Hex): Promise<{ blockNumber: bigint; status: string }>;
  stop(): Promise<void>;
};

export type Patient = {
  mnemonic: string;
  account: LocalAccount;
  address: Address;
  encryption: { secretKey: Uint8Array; publicKey: Hex };
};

export type ChainEnvOptions = {
  /** The providers (one sealer each) and their gatekeeper URLs. Default: Riverside General at :7101. */
  providers?: { name: string; gatekeeperUrl: string }[];
  /** PostgreSQL with production durability (fsync on) instead of the tests' fsync=off. */
  durablePostgres?: boolean;
};

export async function startChainEnv(
  name: string,
  {
    providers: wanted = [{ name: "Riverside General", gatekeeperUrl: "http://127.0.0.1:7101" }],
    durablePostgres = false,
  }: ChainEnvOptions = {},
): Promise<ChainEnv> {
  const deployer = privateKeyToAccount(generatePrivateKey());
  // Relayers are funded at genesis, by whoever runs the network; nothing else funds them.
  const relayerKeys = wanted.map(() => generatePrivateKey());
  const delegateMnemonics = wanted.map((_, i) => (i === 0 ? DELEGATE_MNEMONIC : generatePatientMnemonic()));
  const pg = await startTestPostgres({ durable: durablePostgres });
  let network: Network | undefined;
  let db: Knex | undefined;
  try {
    const dbUrl = await createTestDatabase(pg.url, name);
    db = createDb(dbUrl);
    await migrateToLatest(db);
    network = await startNetwork({
      sealers: wanted.length,
      periodSeconds: 1,
      scrypt: "light",
      prefund: {
        [deployer.address]: parseEther("100000").toString(),
        ...Object.fromEntries(
          relayerKeys.map((k) => [privateKeyToAccount(k).address, parseEther("1000").toString()]),
        ),
      },
    });
    const node = network.nodes[0];
    if (!node) throw new Error("no node");
    const rpcUrl = node.rpcUrl;
    const state = network.state;
    const { chain } = medrecChain({ chainId: state.chainId, rpcUrl });
    const publicClient = createPublicClient({
      chain,
      transport: http(rpcUrl, { retryCount: 0 }),
      pollingInterval: 50,
    });
    const providers = wanted.map((p, i) => {
      const sealer = state.nodes[i];
      if (!sealer) throw new Error("no sealer");
      return { ...p, account: sealer.address };
    });
    const contracts = await deployRegistry({
      rpcUrl,
      ipcPath: node.ipcPath,
      deployer,
      initialSigners: providers,
    });

    const deployerWallet = createWalletClient({
      account: deployer,
      chain,
      transport: http(rpcUrl, { retryCount: 0 }),
    });
    let fundQueue: Promise<unknown> = Promise.resolve();
    const fund = (to: Address) => {
      const next = fundQueue.then(() => deployerWallet.sendTransaction({ to, value: parseEther("10") }));
      fundQueue = next.catch(() => undefined);
      return next;
    };
    const receipt = async (hash: Hex) => {
      const r = await publicClient.waitForTransactionReceipt({ hash, timeout: 30_000, pollingInterval: 50 });
      return { blockNumber: r.blockNumber, status: r.status };
    };
    const send: ChainEnv["send"] = async (account, call, options = {}) => {
      const wallet = createWalletClient({ account, chain, transport: http(rpcUrl, { retryCount: 0 }) });
      return wallet.writeContract({
        ...call,
        account,
        chain,
        ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
      } as never);
    };
    const account = async () => {
      const a = privateKeyToAccount(generatePrivateKey());
      await receipt(await fund(a.address));
      return a;
    };
    const env: ChainEnv = {
      network,
      contracts,
      rpcUrl,
      chain,
      publicClient,
      deployer,
      relayerKey: relayerKeys[0] as Hex,
      relayerKeys,
      providers,
      pg,
      dbUrl,
      db,
      settings: (overrides = {}, index = 0) => ({
        rpcUrl,
        chainId: state.chainId,
        agent: contracts.Agent,
        relationship: contracts.Relationship,
        startBlock: contracts.registryBlock,
        provider: {
          name: (providers[index] as (typeof providers)[number]).name,
          account: (providers[index] as (typeof providers)[number]).account,
          gatekeeperUrl: (providers[index] as (typeof providers)[number]).gatekeeperUrl,
        },
        delegateMnemonic: delegateMnemonics[index] as string,
        relayerPrivateKey: relayerKeys[index] as Hex,
        forwarder: contracts.Forwarder,
        registry: contracts.AgentRegistry,
        relay: defaultRelaySettings({ minBalance: parseEther("1") }),
        view: { pollIntervalMs: 250, maxStalenessMs: 3_000, maxLagBlocks: 2 },
        rpcTimeoutMs: 1_000,
        receiptTimeoutMs: 30_000,
        ...overrides,
      }),
      async patient({ register = true } = {}) {
        const mnemonic = generatePatientMnemonic();
        const acct = accountFromMnemonic(mnemonic);
        const encryption = encryptionKeyPairFromMnemonic(mnemonic);
        await receipt(await fund(acct.address));
        if (register)
          await receipt(
            await send(acct, {
              address: contracts.Agent,
              abi: agentAbi,
              functionName: "register",
              args: [encryption.publicKey, [], 0],
            }),
          );
        return { mnemonic, account: acct, address: acct.address, encryption };
      },
      account,
      send,
      receipt,
      async stop() {
        await db?.destroy();
        if (network) await stopNetwork(network, { removeDir: true });
        await pg.stop();
      },
    };
    return env;
  } catch (error) {
    await db?.destroy();
    if (network) await stopNetwork(network, { removeDir: true });
    await pg.stop();
    throw error;
  }
}

export { agentAbi, relationshipAbi };

/** Test guards: `X-Test-Staff: yes` is staff; `X-Test-Address` is a session. */
export const stubGuards: Guards = {
  requireStaff: ((req, res, next) => {
    if (req.get("x-test-staff") !== "yes")
      return sendProblem(res, problem("unauthorized", "Sign in as staff."));
    res.locals.caller = { kind: "operator" };
    next();
  }) as RequestHandler,
  requireSession: ((req, res, next) => {
    const address = req.get("x-test-address");
    if (address === "operator") res.locals.caller = { kind: "operator" };
    else if (address) res.locals.caller = { kind: "session", address };
    else return sendProblem(res, problem("unauthorized", "Sign in first."));
    next();
  }) as RequestHandler,
};
