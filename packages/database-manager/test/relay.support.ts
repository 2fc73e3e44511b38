/**
 * The relay tests' network: a REAL geth v1.13.15 Clique network with one sealer per provider
 * (three by default), the MedRec contracts and the MedRecForwarder, a real PostgreSQL server, and a
 * full gatekeeper per provider (its own database, its own relayer funded at genesis) listening on
 * the URL AgentRegistry lists for it. Patients and delegates hold no ether here.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import {
  accountFromMnemonic,
  agentAbi,
  encryptionKeyPairFromMnemonic,
  generatePatientMnemonic,
  relayAndWait,
} from "@medrec/protocol";
import { freePort } from "@medrec/protocol/node";
import { fetchReply, type Reply } from "@medrec/testkit";
import { type Address, encodeFunctionData, type Hex } from "viem";
import { createApp } from "../src/app.ts";
import { connectChain } from "../src/chain/client.ts";
import type { ChainSettings } from "../src/chain/config.ts";
import { loadConfig } from "../src/config.ts";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import type { DependencyBounds } from "../src/relay/dependency.ts";
import { relayModule } from "../src/relay/relay.routes.ts";
import { createRelayService, type RelayService } from "../src/relay/relay.service.ts";
import { type ChainEnv, type Patient, silent, startChainEnv } from "./chain.support.ts";
import { createTestDatabase } from "./support/postgres.ts";

export const PROVIDER_NAMES = ["Riverside General", "Lakeside Clinic", "Hilltop Medical"];

export type RelayNetwork = {
  env: ChainEnv;
  urls: string[];
  operatorKey: string;
  gatekeepers: (Gatekeeper | undefined)[];
  /** Starts (or restarts, on the same port and database) provider `i`'s gatekeeper. */
  start(i: number): Promise<Gatekeeper>;
  gk(i: number): Gatekeeper;
  /** A patient with a seed and NO ether, its agent registered through `relayUrl`'s relay. */
  patient(relayUrl: string): Promise<Patient>;
  /** `POST path` with the operator key at provider `i`. */
  staff(i: number, path: string, body: unknown, contentType?: string): Promise<Reply>;
  stop(): Promise<void>;
};

export async function startRelayNetwork(
  name: string,
  { settings = () => ({}) }: { settings?: (i: number) => Partial<ChainSettings> } = {},
): Promise<RelayNetwork> {
  const ports = await Promise.all(PROVIDER_NAMES.map(() => freePort()));
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const env = await startChainEnv(name, {
    providers: PROVIDER_NAMES.map((n, i) => ({ name: n, gatekeeperUrl: urls[i] as string })),
  });
  const operatorKey = randomBytes(24).toString("hex");
  const gatekeepers: (Gatekeeper | undefined)[] = PROVIDER_NAMES.map(() => undefined);
  const dbUrls: string[] = [];
  for (let i = 0; i < PROVIDER_NAMES.length; i++)
    dbUrls.push(await createTestDatabase(env.pg.url, `${name}_${i}`));

  const start = async (i: number) => {
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: String(ports[i]),
      PUBLIC_URL: urls[i],
      OPERATOR_KEY: operatorKey,
      LOG_LEVEL: "silent",
      DATABASE_URL: dbUrls[i],
    });
    const gk = await startGatekeeper({
      config,
      logger: silent,
      chainSettings: env.settings(settings(i), i),
    });
    gatekeepers[i] = gk;
    return gk;
  };
  try {
    for (let i = 0; i < PROVIDER_NAMES.length; i++) await start(i);
  } catch (error) {
    await Promise.all(gatekeepers.map((g) => g?.stop()));
    await env.stop();
    throw error;
  }
  const gk = (i: number) => {
    const g = gatekeepers[i];
    if (!g) throw new Error(`gatekeeper ${i} is not running`);
    return g;
  };
  return {
    env,
    urls,
    operatorKey,
    gatekeepers,
    start,
    gk,
    async patient(relayUrl) {
      const mnemonic = generatePatientMnemonic();
      const account = accountFromMnemonic(mnemonic);
      const encryption = encryptionKeyPairFromMnemonic(mnemonic);
      await relayAndWait({
        client: env.publicClient,
        forwarder: env.contracts.Forwarder,
        account,
        to: env.contracts.Agent,
        data: encodeFunctionData({
          abi: agentAbi,
          functionName: "register",
          args: [encryption.publicKey, [], 0],
        }),
        gatekeeperUrl: relayUrl,
      });
      return { mnemonic, account, address: account.address as Address, encryption };
    },
    staff: (i, path, body, contentType = "application/json") =>
      fetchReply(`${urls[i]}${path}`, {
        body,
        headers: { "content-type": contentType, "x-operator-key": operatorKey },
      }),
    async stop() {
      await Promise.all(gatekeepers.map((g) => g?.stop()));
      await env.stop();
    },
  };
}

/**
 * A bare relay — `POST /v1/relay` alone, as a gatekeeper mounts it — on `settings`' node and its own
 * database (a restart: the same database again), with `dependencyBounds` if given.
 */
export async function startBareRelay(
  settings: ChainSettings,
  dbUrl: string,
  { dependencyBounds }: { dependencyBounds?: DependencyBounds } = {},
): Promise<{ url: string; relay: RelayService; close(): Promise<void> }> {
  const db = createDb(dbUrl);
  await migrateToLatest(db);
  const client = await connectChain(settings);
  const relay = createRelayService({
    client,
    settings,
    db,
    logger: silent,
    ...(dependencyBounds ? { dependencyBounds } : {}),
  });
  const app = createApp({
    config: loadConfig({}),
    logger: silent,
    metrics: createMetrics(),
    health: [],
    modules: [relayModule({ relay, ratePerMinute: 1000 })],
  });
  const server: Server = await new Promise((resolve) => {
    const l = app.listen(0, "127.0.0.1", () => resolve(l));
  });
  const address = server.address();
  return {
    url: `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`,
    relay,
    async close() {
      await new Promise((r) => server.close(r));
      await db.destroy();
    },
  };
}

export type { Hex };
