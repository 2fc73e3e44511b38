/**
 * The system under test: a real geth v1.13.15 Clique network (1 sealer, 1 s blocks), PostgreSQL
 * with production durability (fsync, synchronous_commit, full_page_writes on) and the whole
 * gatekeeper (startGatekeeper), all on 127.0.0.1 — plus patients registered through the staff API,
 * SIWE sign-in and verified reads.
 */
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { relationshipAbi, verifyBundle } from "@medrec/protocol";
import { freePort } from "@medrec/protocol/node";
import { sessionToken } from "@medrec/testkit";
import { pino } from "pino";
import type { Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { viewSettingsOf } from "../../src/chain/config.ts";
import { loadConfig } from "../../src/config.ts";
import { startGatekeeper } from "../../src/gatekeeper.ts";
import type { FhirResource } from "../../src/seams.ts";
import { startChainEnv } from "../../test/chain.support.ts";
import type { Lifecycle } from "./lifecycle.ts";

/** Far above the load, so the limiter (which is still in the path) never refuses a read. */
export const RATE_LIMIT_PER_MINUTE = 100_000_000;

/** The settings that make a commit durable, as the server reports them. */
export type Durability = {
  fsync: string;
  synchronous_commit: string;
  full_page_writes: string;
  wal_sync_method: string;
  /** Per-role or per-database overrides (ALTER ROLE/DATABASE … SET); none expected. */
  overrides: number;
};

export async function startSystem(life: Lifecycle) {
  const env = await startChainEnv("gatekeeper_bench", { durablePostgres: true });
  life.onCleanup(() => env.stop());
  for (const u of [env.rpcUrl, env.dbUrl])
    if (new URL(u).hostname !== "127.0.0.1") throw new Error(`not on 127.0.0.1: ${u}`);
  const postgres = (await env.db.raw("show server_version")).rows[0]?.server_version as string;
  const setting = async (name: string) =>
    (await env.db.raw("select current_setting(?) as v", [name])).rows[0]?.v as string;
  const durability: Durability = {
    fsync: await setting("fsync"),
    synchronous_commit: await setting("synchronous_commit"),
    full_page_writes: await setting("full_page_writes"),
    wal_sync_method: await setting("wal_sync_method"),
    overrides: Number((await env.db.raw("select count(*) as n from pg_db_role_setting")).rows[0]?.n),
  };
  if (
    durability.fsync !== "on" ||
    durability.synchronous_commit !== "on" ||
    durability.full_page_writes !== "on"
  )
    throw new Error(`PostgreSQL is not durable: ${JSON.stringify(durability)}`);

  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const operatorKey = randomBytes(24).toString("hex");
  const config = loadConfig({
    HOST: "127.0.0.1",
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    DATABASE_URL: env.dbUrl,
    LOG_LEVEL: "silent",
    RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    OPERATOR_KEY: operatorKey,
  });
  // The chain view as in production (the config's defaults), not the tests' tighter staleness limits.
  const settings = env.settings({
    provider: { ...env.settings().provider, gatekeeperUrl: publicUrl },
    ...viewSettingsOf(config),
  });
  const gk = await startGatekeeper({ config, chainSettings: settings, logger: pino({ level: "silent" }) });
  life.onCleanup(() => gk.stop());
  if (!gk.chain) throw new Error("the gatekeeper started without its chain part");
  const view = gk.chain.view;

  const onChainRoot = async (relationship: Hex) =>
    (
      await env.publicClient.readContract({
        address: env.contracts.Relationship,
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [relationship],
      })
    ).recordRoot as Hex;

  /** Links `mrn` to a new patient through the staff API and stores `resources`; waits for the root on chain. */
  const registerPatient = async (mrn: string, resources: readonly FhirResource[]) => {
    const patient = await env.patient();
    const res = await fetch(`${gk.url}/v1/patients`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-operator-key": operatorKey },
      body: JSON.stringify({ mrn, patientAddress: patient.address }),
    });
    if (res.status !== 201) throw new Error(`POST /v1/patients answered ${res.status}: ${await res.text()}`);
    const { relationship } = (await res.json()) as { relationship: Hex };
    await life.eventually(
      "the view to hold the relationship",
      () => view.patientIdOf(relationship) !== undefined,
    );
    const stored = await gk.records.ingestResources(await gk.records.patientIdOf(mrn), resources, {
      source: "seed",
      prune: true,
      keepLastUpdated: true,
    });
    await life.eventually(
      "the record root on chain",
      async () => (await onChainRoot(relationship)).toLowerCase() === stored.root.toLowerCase(),
      60_000,
    );
    return { patient, relationship, root: stored.root, stored: stored.stored };
  };

  /** A session token for `account`, valid for 50 minutes (the longest bench run). */
  const signIn = (account: LocalAccount): Promise<string> =>
    sessionToken({
      url: gk.url,
      publicUrl,
      account,
      chainId: settings.chainId,
      expirationTime: new Date(Date.now() + 50 * 60_000),
    });

  /** Reads once and verifies the bundle against the on-chain root: the bytes every read must have. */
  const verifiedSample = async (url: string, token: string, relationship: Hex) => {
    const sample = await get(url, token);
    if (sample.status !== 200) throw new Error(`a read answered ${sample.status}`);
    const verification = verifyBundle(JSON.parse(sample.body), await onChainRoot(relationship));
    if (!verification.valid) throw new Error("the bundle does not verify against the on-chain root");
    return { body: sample.body, bytes: Buffer.byteLength(sample.body), entries: verification.entries.length };
  };

  return {
    env,
    gk,
    view,
    settings,
    operatorKey,
    postgres,
    durability,
    onChainRoot,
    registerPatient,
    signIn,
    verifiedSample,
    recordsUrl: (relationship: Hex, query = "") =>
      `${gk.url}/v1/relationships/${relationship}/records${query}`,
  };
}

export type System = Awaited<ReturnType<typeof startSystem>>;

const pollAgent = new Agent({ keepAlive: true, maxSockets: 4 });
export const closeGetAgent = () => pollAgent.destroy();

/** One GET on a keep-alive connection: status, body, and when the response was complete. */
export function get(url: string, token?: string): Promise<{ status: number; body: string; at: number }> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = request(url, { agent: pollAgent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          at: performance.now(),
        }),
      );
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}
