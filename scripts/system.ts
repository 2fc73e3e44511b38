/**
 * The whole local system that `./medrec start` runs: three providers, each with its sealer (IPC
 * only), its non-signing RPC node, its governance daemon and its gatekeeper on its own embedded
 * PostgreSQL; the contracts; a demo patient with records at every provider and a family member
 * holding a grant at two of them. Every step is named, so a failure says which component failed.
 *
 * Each gatekeeper and the dapp server run in processes of their own, supervised (restarted with
 * backoff when they crash; scripts/supervisor.ts), and whatever this process started is reaped
 * even if it is killed with SIGKILL (chain-node's reaper and its guardian; adr/0010).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  deployRegistry,
  findGeth,
  type GovernanceDaemon,
  ipcRpc,
  type Network,
  reapAfterDeath,
  removeDirAtExit,
  startGovernanceDaemon,
  startNetwork,
  stopNetwork,
} from "@medrec/chain-node";
import {
  createDb,
  DEMO_FAMILY_GRANT,
  DEMO_PATIENT,
  demoPatientBundles,
  loadConfig,
} from "@medrec/database-manager";
import {
  agentAbi,
  apiPaths,
  auditAnchorAbi,
  BaseError,
  type CreatePatientResponse,
  deployAuditAnchor,
  encryptionKeyPairFromMnemonic,
  type FhirBundle,
  gatekeeperJson,
  relationshipAbi,
  relayAndWait,
  scopesToMask,
  sealJson,
  signIn,
} from "@medrec/protocol";
import {
  accountFromMnemonic,
  freePorts,
  generatePatientMnemonic,
  medrecCacheDir,
  type NetworkManifestInput,
} from "@medrec/protocol/node";
import { buildDapp, publicConfig } from "@medrec/user-client/server";
import type { Logger } from "pino";
import {
  type Address,
  createPublicClient,
  createWalletClient,
  encodeFunctionData,
  type Hex,
  http,
  type PublicClient,
  parseEther,
} from "viem";
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { ChildStartError, type Supervised, supervise } from "./supervisor.ts";
import { untilSeen, waitForRoot } from "./wait.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const GATEKEEPER_ENTRY = path.join(ROOT, "packages/database-manager/src/cli.ts");
const DAPP_ENTRY = path.join(ROOT, "packages/user-client/serve.ts");

export const PROVIDERS = [
  { name: "Riverside General", port: 7101 },
  { name: "Lakeside Clinic", port: 7102 },
  { name: "Hilltop Medical", port: 7103 },
] as const;

/** The family member's grant (labs and medications at two providers) lasts this long. */
const FAMILY_GRANT_DAYS = 90;

/** A failure of one named component: `./medrec start` prints it and stops everything. */
export class ComponentError extends BaseError {
  override name = "ComponentError";
  readonly component: string;
  constructor(component: string, cause: unknown) {
    const reason =
      cause instanceof BaseError
        ? cause.shortMessage
        : cause instanceof Error
          ? cause.message
          : String(cause);
    // The reason is in the message already; only a MedRec error has details beyond it.
    super(`${component}: ${reason}`, { cause, details: cause instanceof BaseError ? cause.details : "" });
    this.component = component;
  }
}

async function step<T>(component: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw error instanceof ComponentError ? error : new ComponentError(component, error);
  }
}

export type SystemParameters = {
  periodSeconds: number;
  /** First gatekeeper port (the others follow); 0 = free ports. */
  gatekeeperPort: number;
  /** Origins allowed to call the gatekeepers and the RPC nodes from a browser (besides the dapp's own). */
  corsOrigins: string[];
  /** Build and serve the patient dapp on 127.0.0.1 at this port (0 = a free one); absent = no dapp. */
  dappPort?: number;
  log: (line: string) => void;
  logger: Logger;
  /** Receives `stop` before anything starts, so that a signal during start-up can stop what has. */
  onStop?: (stop: () => Promise<void>) => void;
};

/** A provider's gatekeeper, running in its own supervised process. */
export type GatekeeperProcess = {
  /** Where it listens, e.g. `http://127.0.0.1:7101` (the same after a restart). */
  url: string;
  /**
   * Its database as the gatekeeper's runtime role, from this process (tests that alter what it
   * serves); opened on first use, again after a restart.
   */
  readonly db: ReturnType<typeof createDb>;
  /** Its supervisor: the process's pid, restarts. */
  readonly process: Supervised;
  /** Stops it for good (no restart): in-flight requests finish, then its PostgreSQL stops. */
  stop(): Promise<void>;
};

export type ProviderHandle = {
  name: string;
  account: Address;
  rpcUrl: string;
  wsUrl: string;
  gatekeeper: GatekeeperProcess;
  dataDir: string;
  staffKey: Hex;
  operatorKey: string;
  relayerKey: Hex;
  mrn: string;
  relationship: Hex;
  resources: number;
};

export type System = {
  network: Network;
  providers: ProviderHandle[];
  manifest: NetworkManifestInput;
  /** Where the patient dapp is served, when `dappPort` was given. */
  dappUrl: string | undefined;
  /** The dapp server's supervised process, when `dappPort` was given. */
  dapp: Supervised | undefined;
  stop(): Promise<void>;
};

/**
 * What a provider's staff does when new results come in: signs in with the staff key and uploads
 * `bundle` to the demo patient's records (`provider.mrn`) through the staff API.
 */
export async function uploadAsStaff(provider: ProviderHandle, chainId: number, bundle: FhirBundle) {
  const { token } = await signIn({
    gatekeeperUrl: provider.gatekeeper.url,
    account: privateKeyToAccount(provider.staffKey),
    chainId,
  });
  return gatekeeperJson<{ stored?: number; root?: Hex }>(
    provider.gatekeeper.url,
    apiPaths.patientRecords(provider.mrn),
    { method: "POST", token, body: bundle },
  );
}

/**
 * Starts everything, or — when any part fails — stops what had started, removes its data and
 * throws a {@link ComponentError} naming the part.
 */
export async function startSystem(p: SystemParameters): Promise<System> {
  // From here on, what this process starts is reaped even if it is killed with SIGKILL.
  reapAfterDeath();
  let network: Network | undefined;
  let dapp: Supervised | undefined;
  const daemons: GovernanceDaemon[] = [];
  const gatekeeperChildren: Supervised[] = [];
  const databases: ReturnType<typeof createDb>[] = [];
  const dataDirs: { dir: string; forget: () => void }[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await Promise.allSettled(databases.map((db) => db.destroy()));
      await Promise.allSettled(gatekeeperChildren.map((x) => x.stop()));
      await Promise.allSettled(
        dataDirs.map(async ({ dir, forget }) => {
          await rm(dir, { recursive: true, force: true });
          forget();
        }),
      );
      await Promise.allSettled(daemons.map((d) => d.stop()));
      if (network) await stopNetwork(network, { removeDir: true }).catch(() => undefined);
      await dapp?.stop();
    })();
    return stopped;
  };
  p.onStop?.(stop);
  // The children's logs at the level of ours; their environment holds only what they need.
  const level = p.logger.level;
  const baseEnv = {
    ...(Object.fromEntries(
      ["PATH", "HOME", "TMPDIR", "LANG", "TZ"].flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])),
    ) as Record<string, string>),
    // V8's code cache on disk: a restarted gatekeeper loads its modules in about half the time.
    NODE_COMPILE_CACHE: path.join(medrecCacheDir(), "node-compile-cache"),
  };

  try {
    const binary = await step("geth", () => findGeth());
    // The dapp first: its origin must be known to the RPC nodes and gatekeepers before they start.
    // It serves only the manifest's public fields, once the network is up.
    let dappUrl: string | undefined;
    if (p.dappPort !== undefined) {
      const port = p.dappPort;
      dappUrl = await step("patient dapp (build and static server)", async () => {
        await buildDapp();
        dapp = supervise({
          name: "patient dapp",
          args: [DAPP_ENTRY],
          env: { ...baseEnv, HOST: "127.0.0.1", PORT: String(port) },
          log: p.log,
          // A restart listens where the first start did (port 0 = the one it was given).
          envAfterReady: (ready) => ({ PORT: new URL(ready.url).port }),
        });
        const ready = await dapp.started.catch((error: unknown) => {
          throw inUse(error)
            ? new Error(`port ${port} is in use (set MEDREC_DAPP_PORT to another port, or 0)`)
            : error;
        });
        return ready.url;
      });
    }
    const corsOrigins = [
      ...new Set([
        ...(dappUrl ? [dappUrl, dappUrl.replace("127.0.0.1", "localhost")] : []),
        ...p.corsOrigins,
      ]),
    ];
    // The deployer only deploys and funds: a fresh key each run, prefunded in the genesis.
    const deployer = privateKeyToAccount(generatePrivateKey());
    // Demo identities (local demo secrets only): the patient, a family member, and per provider a
    // staff member, an operator key, a delegate seed, a relayer and an audit log account.
    const patientMnemonic = generatePatientMnemonic();
    const patient = accountFromMnemonic(patientMnemonic, 0);
    const viewerMnemonic = generatePatientMnemonic();
    const viewer = accountFromMnemonic(viewerMnemonic, 0);
    const perProvider = PROVIDERS.map(() => ({
      staffKey: generatePrivateKey(),
      operatorKey: generatePrivateKey().slice(2),
      delegateMnemonic: generatePatientMnemonic(),
      // Pays the gas of what this provider's gatekeeper relays: funded in the genesis, by no one.
      relayerKey: generatePrivateKey(),
      // The audit log account: used for nothing else, funded in the genesis too.
      anchorKey: generatePrivateKey(),
    }));
    // The consortium's member voucher key, shared by every gatekeeper (adr/0013 "Member vouchers").
    const memberKey = generatePrivateKey();
    network = await step("chain network (sealers and RPC nodes)", () =>
      startNetwork({
        sealers: PROVIDERS.length,
        periodSeconds: p.periodSeconds,
        binary,
        corsOrigins,
        prefund: {
          [deployer.address]: parseEther("1000000"),
          ...Object.fromEntries(
            perProvider.flatMap((x) => [
              [privateKeyToAccount(x.relayerKey).address, parseEther("1000")],
              [privateKeyToAccount(x.anchorKey).address, parseEther("10")],
            ]),
          ),
        },
      }),
    );
    const net = network;
    const nodes = net.state.nodes;
    const rpcUrl = net.nodes[0]?.rpcUrl;
    if (!rpcUrl) throw new ComponentError("chain network", "no node");
    const ports =
      p.gatekeeperPort === 0
        ? await freePorts(PROVIDERS.length)
        : PROVIDERS.map((_, i) => p.gatekeeperPort + i);
    const urls = ports.map((port) => `http://127.0.0.1:${port}`);

    const contracts = await step("contracts", () =>
      deployRegistry({
        rpcUrl,
        ipcPath: net.nodes[0]?.ipcPath ?? "",
        deployer,
        initialSigners: nodes.map((node, i) => ({
          account: node.address,
          name: PROVIDERS[i]?.name ?? node.name,
          gatekeeperUrl: urls[i] ?? "",
        })),
      }),
    );

    const auditAnchor = await step("AuditAnchor contract", () =>
      deployAuditAnchor({
        rpcUrl,
        deployer,
        registry: contracts.AgentRegistry,
        forwarder: contracts.Forwarder,
      }),
    );

    await mkdir(path.join(net.dir, "governance"), { recursive: true, mode: 0o700 });
    for (const [i, node] of net.nodes.entries()) {
      const name = PROVIDERS[i]?.name ?? `sealer-${i}`;
      daemons.push(
        await step(`governance daemon of ${name}`, () =>
          startGovernanceDaemon({
            ipcPath: node.ipcPath,
            rpcUrl: node.rpcUrl,
            registry: contracts.AgentRegistry,
            cursorPath: path.join(net.dir, "governance", `sealer-${i}.json`),
            fromBlock: contracts.registryBlock,
            log: ({ level, event, ...fields }) => {
              // Daemon logs carry addresses and block numbers only (no keys).
              const detail = Object.entries(fields)
                .map(([k, v]) => `${k}=${String(v)}`)
                .join(" ");
              p.log(`[governance ${name}] ${level} ${event} ${detail}`);
            },
          }),
        ),
      );
    }

    // viem polls every 4 s by default; blocks come every period here.
    const pollingInterval = 250;
    const client = createPublicClient({ transport: http(rpcUrl), pollingInterval }) as PublicClient;
    const wallet = (account: LocalAccount) =>
      createWalletClient({
        account,
        transport: http(rpcUrl),
        pollingInterval,
      });
    const confirm = async (hash: Hex | Promise<Hex>, what: string) => {
      const receipt = await client.waitForTransactionReceipt({ hash: await hash });
      if (receipt.status !== "success")
        throw new BaseError(`${what}: transaction ${receipt.transactionHash} reverted`);
    };

    await step("funding", async () => {
      // Sealers pay their own governance transactions (and the audit log binding). Nobody funds a
      // patient or a delegate: their transactions are relayed.
      const transfers: [Address, string][] = nodes.map((node): [Address, string] => [node.address, "100"]);
      const nonce = await client.getTransactionCount({ address: deployer.address, blockTag: "pending" });
      const hashes = await Promise.all(
        transfers.map(([to, ether], i) =>
          wallet(deployer).sendTransaction({
            to,
            value: parseEther(ether),
            nonce: nonce + i,
            chain: null,
          }),
        ),
      );
      await Promise.all(hashes.map((hash) => confirm(hash, "funding")));
    });

    // Each provider binds its gatekeeper's audit log account, once and for good, with its sealer
    // key — over the sealer's own IPC socket, the only place that key can sign.
    await Promise.all(
      net.nodes.map((node, i) =>
        step(`audit log binding of ${PROVIDERS[i]?.name ?? node.address}`, async () => {
          // The log account consents (EIP-712, adr/0016): a sealer cannot claim a peer's log key.
          const logAccount = privateKeyToAccount(perProvider[i]?.anchorKey ?? "0x");
          const log = logAccount.address;
          const digest = await client.readContract({
            address: auditAnchor.address,
            abi: auditAnchorAbi,
            functionName: "bindLogDigest",
            args: [node.address, log],
          });
          const consent = await logAccount.sign({ hash: digest });
          const hash = await ipcRpc<Hex>(node.ipcPath, "eth_sendTransaction", [
            {
              from: node.address,
              to: auditAnchor.address,
              data: encodeFunctionData({
                abi: auditAnchorAbi,
                functionName: "bindLog",
                args: [log, consent],
              }),
            },
          ]);
          await confirm(hash, "bindLog");
        }),
      ),
    );

    // The three gatekeepers, each in its own process on its own embedded PostgreSQL (own temp dir:
    // as root, PostgreSQL runs as `postgres`, who cannot enter the 0700 network dir).
    const bundles = demoPatientBundles();
    const settled = await Promise.allSettled(
      PROVIDERS.map(async (provider, i) => {
        const node = nodes[i];
        const keys = perProvider[i];
        const url = urls[i];
        const port = ports[i];
        if (!node || !keys || !url || port === undefined)
          throw new ComponentError(provider.name, "no sealer");
        const handle: Partial<ProviderHandle> = { name: provider.name, account: node.address };
        const dataDir = await mkdtemp(path.join(tmpdir(), "medrec-gatekeeper-"));
        dataDirs.push({ dir: dataDir, forget: removeDirAtExit(dataDir) });
        const env = await step(`gatekeeper of ${provider.name} (configuration)`, async () => {
          const env: Record<string, string> = {
            PORT: String(port),
            PUBLIC_URL: url,
            DATA_DIR: dataDir,
            LOG_LEVEL: level,
            CORS_ORIGINS: corsOrigins.join(","),
            OPERATOR_KEY: keys.operatorKey,
            STAFF_ACCOUNTS: privateKeyToAccount(keys.staffKey).address,
            CHAIN_RPC_URL: net.nodes[i]?.rpcUrl ?? rpcUrl,
            CHAIN_ID: String(contracts.chainId),
            AGENT_ADDRESS: contracts.Agent,
            RELATIONSHIP_ADDRESS: contracts.Relationship,
            AGENT_REGISTRY_ADDRESS: contracts.AgentRegistry,
            CHAIN_START_BLOCK: String(contracts.registryBlock),
            PROVIDER_NAME: provider.name,
            PROVIDER_ACCOUNT: node.address,
            DELEGATE_MNEMONIC: keys.delegateMnemonic,
            RELAYER_PRIVATE_KEY: keys.relayerKey,
            RELAY_MEMBER_KEY: memberKey,
            FORWARDER_ADDRESS: contracts.Forwarder,
            AUDIT_ANCHOR_ADDRESS: auditAnchor.address,
            AUDIT_ANCHOR_PRIVATE_KEY: keys.anchorKey,
          };
          // Checked here, so that a bad value names its gatekeeper before any process starts.
          loadConfig(env);
          return env;
        });
        const name = `gatekeeper of ${provider.name}`;
        const supervised = supervise({
          name,
          args: [GATEKEEPER_ENTRY, "serve"],
          env: { ...baseEnv, ...env },
          log: p.log,
        });
        gatekeeperChildren.push(supervised);
        await step(`${name} on ${url}`, () =>
          supervised.started.catch((error: unknown) => {
            throw inUse(error)
              ? new BaseError(
                  `port ${port} is in use (set MEDREC_GATEKEEPER_PORT to another first port, or 0)`,
                )
              : error;
          }),
        );
        Object.assign(handle, {
          gatekeeper: gatekeeperProcess(url, supervised, databases),
          dataDir,
          rpcUrl: net.nodes[i]?.rpcUrl ?? rpcUrl,
          wsUrl: net.nodes[i]?.wsUrl ?? "",
          staffKey: keys.staffKey,
          operatorKey: keys.operatorKey,
          relayerKey: keys.relayerKey,
        });

        return handle as ProviderHandle;
      }),
    );
    // All settle before a failure is thrown, so that stop() sees every gatekeeper that started.
    const gatekeepers = settled.map((x) => {
      if (x.status === "rejected") throw x.reason;
      return x.value;
    });
    const randomRelay = () =>
      gatekeepers[Math.floor(Math.random() * gatekeepers.length)]?.gatekeeper.url ?? "";

    // The patient holds no ether: its agent is registered through a provider's relay.
    await step("demo patient's agent (relayed)", () =>
      relayAndWait({
        client,
        forwarder: contracts.Forwarder,
        account: patient,
        to: contracts.Agent,
        data: encodeFunctionData({
          abi: agentAbi,
          functionName: "register",
          args: [encryptionKeyPairFromMnemonic(patientMnemonic).publicKey, [], 0],
        }),
        gatekeeperUrl: randomRelay(),
      }),
    );

    // The demo goes through the staff API as a hospital's staff would: sign in, link, upload.
    const demoSettled = await Promise.allSettled(
      gatekeepers.map(async (handle, i) => {
        const demo = bundles[i];
        const keys = perProvider[i];
        const gatekeeper = handle.gatekeeper;
        if (!demo || !keys) throw new ComponentError(handle.name, "no demo records");
        return step(`demo data at ${handle.name}`, async () => {
          const staff = privateKeyToAccount(keys.staffKey);
          const { token } = await signIn({
            gatekeeperUrl: gatekeeper.url,
            account: staff,
            chainId: contracts.chainId,
          });
          // Each gatekeeper learns of the new agent from its own RPC node, a block or so later.
          const linked = await untilSeen(() =>
            gatekeeperJson<CreatePatientResponse>(gatekeeper.url, apiPaths.patients, {
              method: "POST",
              token,
              body: { mrn: demo.mrn, patientAddress: patient.address },
            }),
          );
          const uploaded = await gatekeeperJson<{ stored?: number; root?: Hex }>(
            gatekeeper.url,
            apiPaths.patientRecords(demo.mrn),
            { method: "POST", token, body: demo.bundle },
          );
          Object.assign(handle, {
            mrn: demo.mrn,
            relationship: linked.relationship,
            resources: uploaded.stored ?? demo.bundle.entry?.length ?? 0,
          });
          return handle;
        });
      }),
    );
    const started = demoSettled.map((x) => {
      if (x.status === "rejected") throw x.reason;
      return x.value;
    });

    // The family member: a grant for labs and medications at two providers, sealed details say who.
    await step("family member's grant", async () => {
      const viewerKey = encryptionKeyPairFromMnemonic(viewerMnemonic).publicKey;
      const expiresAt = BigInt(Math.floor(Date.now() / 1000) + FAMILY_GRANT_DAYS * 86_400);
      // One after the other: each relayed request takes the patient's next forwarder nonce.
      // relayAndWait names the block it built on: a relay whose node is behind waits for it
      // (it refused, RelationshipUnknown, on a loaded machine).
      for (const handle of started.filter((x) =>
        (DEMO_FAMILY_GRANT.providers as readonly string[]).includes(x.name),
      ))
        await relayAndWait({
          client,
          forwarder: contracts.Forwarder,
          account: patient,
          to: contracts.Relationship,
          data: encodeFunctionData({
            abi: relationshipAbi,
            functionName: "grant",
            args: [
              handle.relationship,
              viewer.address,
              scopesToMask(DEMO_FAMILY_GRANT.scopes),
              expiresAt,
              sealJson({ from: DEMO_PATIENT.given[0], label: "Family" }, viewerKey),
            ],
          }),
          gatekeeperUrl: randomRelay(),
        });
    });

    // The demo starts consistent: every provider's record root is on chain.
    await step("record roots on chain", () =>
      Promise.all(
        started.map((handle) =>
          waitForRoot(client, {
            relationshipContract: contracts.Relationship,
            relationship: handle.relationship,
            what: handle.name,
          }),
        ),
      ),
    );

    const manifest: NetworkManifestInput = {
      chainId: contracts.chainId,
      rpcUrl,
      contracts: {
        AgentRegistry: contracts.AgentRegistry,
        Agent: contracts.Agent,
        Relationship: contracts.Relationship,
        AuditAnchor: auditAnchor.address,
        Forwarder: contracts.Forwarder,
      },
      deployBlock: Number(contracts.registryBlock),
      providers: started.map((x) => ({
        name: x.name,
        account: x.account,
        relayer: privateKeyToAccount(x.relayerKey).address,
        gatekeeperUrl: x.gatekeeper.url,
        rpcUrl: x.rpcUrl,
        wsUrl: x.wsUrl,
      })),
      demo: {
        note: "Local demo secrets only: never use these mnemonics or keys for anything else.",
        ...(dappUrl ? { dappUrl } : {}),
        patientMnemonic,
        patientAddress: patient.address,
        viewerMnemonic,
        viewerAddress: viewer.address,
        viewerGrant: { ...DEMO_FAMILY_GRANT, days: FAMILY_GRANT_DAYS },
        patients: started.map((x) => ({ provider: x.name, mrn: x.mrn, relationship: x.relationship })),
        staff: started.map((x) => ({
          provider: x.name,
          privateKey: x.staffKey,
          address: privateKeyToAccount(x.staffKey).address,
          operatorKey: x.operatorKey,
        })),
      },
      chain: { engine: "geth v1.13.15 Clique", periodSeconds: p.periodSeconds, dataDir: net.dir },
      gatekeeperDataDirs: started.map((x) => x.dataDir),
    };
    // Only now does the dapp answer /config.json: public fields, by name (never `demo`).
    dapp?.send({
      type: "manifest",
      manifest: publicConfig({ ...manifest, contracts: { ...manifest.contracts } }),
    });
    return { network: net, providers: started, manifest, dappUrl, dapp, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Whether a child could not listen because its port is taken. */
function inUse(error: unknown): boolean {
  return (
    error instanceof ChildStartError &&
    (error.code === "EADDRINUSE" || error.metaMessages?.some((line) => line.includes("EADDRINUSE")) === true)
  );
}

/** The handle callers keep: the URL, a database connection from this process, stop for good. */
function gatekeeperProcess(
  url: string,
  supervised: Supervised,
  databases: ReturnType<typeof createDb>[],
): GatekeeperProcess {
  let db: { url: string; knex: ReturnType<typeof createDb> } | undefined;
  return {
    url,
    get db() {
      const databaseUrl = String(supervised.ready.databaseUrl ?? "");
      if (db?.url !== databaseUrl) {
        // A restarted gatekeeper's PostgreSQL may listen on another port.
        db = { url: databaseUrl, knex: createDb(databaseUrl, { poolMax: 2 }) };
        databases.push(db.knex);
      }
      return db.knex;
    },
    process: supervised,
    stop: () => supervised.stop(),
  };
}
