/**
 * System-test harness: the WHOLE gatekeeper (`startGatekeeper`, chain on) on a REAL geth v1.13.15
 * Clique network with the MedRec contracts (`startChainEnv`), on either the real PostgreSQL
 * server (`DATABASE_URL`) or the embedded default (`DATA_DIR`), listening on its own PUBLIC_URL
 * with an OPERATOR_KEY. Plus an HTTP client that sends paths verbatim (no URL normalisation, so
 * `..` and `%2e%2e` reach the server as written), SIWE sign-in, the patient's on-chain
 * grant/revoke, audit tampering as the database superuser and the `audit verify` CLI.
 * Everything started here is stopped by `stop()`.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { type IncomingHttpHeaders, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CONFIDENTIALITY_SYSTEM,
  type FhirBundle,
  OBSERVATION_CATEGORY_SYSTEM,
  relationshipAbi,
  type ScopeCode,
  scopesToMask,
} from "@medrec/protocol";
import { freePort } from "@medrec/protocol/node";
import { eventually, type Reply as FetchedReply, type SignInOverrides, signInTo } from "@medrec/testkit";
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import type { LocalAccount } from "viem/accounts";
import { loadConfig } from "../src/config.ts";
import { createDb } from "../src/db/knex.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import type { FhirResource } from "../src/seams.ts";
import { generatePatientRecords } from "../src/seed/synthetic.ts";
import { type ChainEnv, type Patient, silent, startChainEnv } from "./chain.support.ts";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

export type Database = "server" | "embedded";

/** The embedded database's owner URL, from the runtime one and the owner's password file. */
async function embeddedOwnerUrl(runtimeUrl: string, dataDir: string): Promise<string> {
  const url = new URL(runtimeUrl);
  url.username = "medrec";
  url.password = encodeURIComponent((await readFile(join(dataDir, "postgres.password"), "utf8")).trim());
  return url.toString();
}

/** An HTTP answer, parsed. */
/** A reply read over node:http (raw bodies, exact headers): testkit's, with node's header record. */
export type Reply = Omit<FetchedReply, "headers"> & { headers: IncomingHttpHeaders };

export type CallInit = {
  method?: string;
  headers?: Record<string, string>;
  /** A bearer token (sets Authorization). */
  token?: string;
  /** Sends `X-Operator-Key` with the system's key. */
  operator?: boolean;
  /** JSON-encoded with `content-type: application/json` unless `contentType` says otherwise. */
  body?: unknown;
  /** Sent as is (overrides `body`). */
  rawBody?: string | Buffer;
  contentType?: string;
};

export type System = {
  env: ChainEnv;
  gk: Gatekeeper;
  /** The gatekeeper's base URL (= PUBLIC_URL = the provider's gatekeeperUrl). */
  url: string;
  /** SIWE `domain`: the host[:port] of `url`. */
  domain: string;
  chainId: number;
  operatorKey: string;
  database: Database;
  /** The gatekeeper's database (a superuser connection string in both modes). */
  databaseUrl: string;
  /** One HTTP request; `path` is sent verbatim. */
  call(path: string, init?: CallInit): Promise<Reply>;
  get(path: string, init?: Omit<CallInit, "method" | "body" | "rawBody">): Promise<Reply>;
  post(path: string, body?: unknown, init?: Omit<CallInit, "method" | "body">): Promise<Reply>;
  nonce(): Promise<string>;
  /** A valid EIP-4361 message for this gatekeeper, with `options` overriding any field. */
  message(account: LocalAccount, options?: SignInOverrides): Promise<string>;
  /** `POST /v1/auth/session` with a message built from `options`, signed by `signer` (default `account`). */
  trySignIn(account: LocalAccount, options?: SignInOverrides, signer?: LocalAccount): Promise<Reply>;
  /** Nonce → SIWE message → signature → token (asserts 200). */
  signIn(account: LocalAccount, options?: SignInOverrides): Promise<string>;
  /** `POST /v1/patients` as the operator (asserts 201); the relationship id. */
  registerPatient(mrn: string, patient: Patient): Promise<Hex>;
  /** `POST /v1/patients/{mrn}/records` as the operator (asserts 200); the committed root. */
  ingest(mrn: string, bundle: unknown): Promise<Hex>;
  /** `Relationship.relationshipOf(id)` on chain. */
  relationshipOf(id: Hex): Promise<{
    patient: `0x${string}`;
    provider: `0x${string}`;
    recordRoot: Hex;
    sequence: bigint;
    ended: boolean;
  }>;
  /** Waits until the on-chain root of `id` equals `root` and the gatekeeper's view has seen it. */
  rootPublished(id: Hex, root: Hex, timeoutMs?: number): Promise<void>;
  /** The patient grants `viewer` scopes (codes or a bit set) until `expiresAt` (unix seconds); the block it landed in. */
  grant(
    patient: Patient,
    id: Hex,
    viewer: `0x${string}`,
    scopes: readonly ScopeCode[] | number,
    expiresAt: number,
  ): Promise<bigint>;
  revoke(patient: Patient, id: Hex, viewer: `0x${string}`): Promise<bigint>;
  /** Waits until the gatekeeper's chain view has applied `block`. */
  viewAt(block: bigint): Promise<void>;
  /** As the database superuser: disables the append-only trigger, runs `edit`, re-enables it (one transaction). */
  tamperAudit(edit: (trx: Knex.Transaction) => Promise<unknown>): Promise<void>;
  /** `node src/cli.ts audit verify [...args]` against this gatekeeper's database. */
  auditVerify(args?: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
};

/**
 * Starts a chain environment and a full gatekeeper on it. `name` names the test database (server
 * mode) and must be unique per file.
 */
export async function startSystem(
  name: string,
  {
    database,
    logger = silent,
    config: extra = {},
  }: {
    database: Database;
    logger?: Logger;
    /** More environment for loadConfig (e.g. STAFF_ACCOUNTS). */
    config?: Record<string, string>;
  },
): Promise<System> {
  const env = await startChainEnv(name);
  let dataDir: string | undefined;
  let gk: Gatekeeper | undefined;
  try {
    // PUBLIC_URL must name the real port (SIWE domain and uri are checked against it): pick it first.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const operatorKey = randomBytes(24).toString("hex");
    if (database === "embedded") dataDir = await mkdtemp(join(tmpdir(), `medrec-sys-${name}-`));
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: String(port),
      PUBLIC_URL: url,
      OPERATOR_KEY: operatorKey,
      LOG_LEVEL: "silent",
      ...(database === "server" ? { DATABASE_URL: env.dbUrl } : { DATA_DIR: dataDir }),
      ...extra,
    });
    const base = env.settings();
    gk = await startGatekeeper({
      config,
      logger,
      chainSettings: env.settings({ provider: { ...base.provider, gatekeeperUrl: url } }),
    });
    const started = gk;
    assert.equal(started.url, url);
    // The superuser: the server's, or the embedded database's owner (the gatekeeper itself runs
    // as a runtime role that cannot alter the audit tables, adr/0005).
    const databaseUrl =
      database === "server"
        ? env.dbUrl
        : await embeddedOwnerUrl(
            (started.db.client.config.connection as { connectionString: string }).connectionString,
            dataDir as string,
          );

    const call = (path: string, init: CallInit = {}): Promise<Reply> => {
      const headers: Record<string, string> = { ...init.headers };
      if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
      if (init.operator) headers["x-operator-key"] = operatorKey;
      let payload: string | Buffer | undefined;
      if (init.rawBody !== undefined) payload = init.rawBody;
      else if (init.body !== undefined) payload = JSON.stringify(init.body);
      if (payload !== undefined) {
        headers["content-type"] ??= init.contentType ?? "application/json";
        headers["content-length"] = String(Buffer.byteLength(payload));
      }
      return new Promise<Reply>((resolve, reject) => {
        const req = request(
          { host: "127.0.0.1", port, method: init.method ?? "GET", path, headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let json: unknown;
              try {
                json = text ? JSON.parse(text) : undefined;
              } catch {
                json = undefined;
              }
              resolve({
                status: res.statusCode ?? 0,
                type: String(res.headers["content-type"] ?? ""),
                headers: res.headers,
                text,
                json,
              });
            });
          },
        );
        req.on("error", reject);
        req.end(payload);
      });
    };
    const nonce = async () => {
      const r = await call("/v1/auth/nonce");
      assert.equal(r.status, 200, r.text);
      return r.json.nonce as string;
    };
    const domain = new URL(url).host;
    const chainId = base.chainId;
    const siwe = signInTo({ publicUrl: url, chainId, nonce });
    const trySignIn = async (account: LocalAccount, options: SignInOverrides = {}, signer = account) =>
      call("/v1/auth/session", { method: "POST", body: await siwe.body(account, options, signer) });
    const receiptBlock = async (hash: Hex) => {
      const r = await env.receipt(hash);
      assert.equal(r.status, "success");
      return r.blockNumber;
    };
    const relationshipOf: System["relationshipOf"] = (id) =>
      env.publicClient.readContract({
        address: env.contracts.Relationship,
        abi: relationshipAbi,
        functionName: "relationshipOf",
        args: [id],
      }) as ReturnType<System["relationshipOf"]>;

    const system: System = {
      env,
      gk: started,
      url,
      domain,
      chainId,
      operatorKey,
      database,
      databaseUrl,
      call,
      get: (path, init = {}) => call(path, { ...init, method: "GET" }),
      post: (path, body, init = {}) =>
        call(path, { ...init, method: "POST", ...(body === undefined ? {} : { body }) }),
      nonce,
      message: siwe.message,
      trySignIn,
      async signIn(account, options = {}) {
        const r = await trySignIn(account, options);
        assert.equal(r.status, 200, r.text);
        return r.json.token as string;
      },
      async registerPatient(mrn, patient) {
        const r = await call("/v1/patients", {
          method: "POST",
          operator: true,
          body: { mrn, patientAddress: patient.address },
        });
        assert.equal(r.status, 201, r.text);
        return r.json.relationship as Hex;
      },
      async ingest(mrn, bundle) {
        const r = await call(`/v1/patients/${encodeURIComponent(mrn)}/records`, {
          method: "POST",
          operator: true,
          body: bundle,
          contentType: "application/fhir+json",
        });
        assert.equal(r.status, 200, r.text);
        return r.json.recordRoot as Hex;
      },
      relationshipOf,
      async rootPublished(id, root, timeoutMs = 30_000) {
        await eventually(
          `the root ${root} of ${id} on chain`,
          async () => (await relationshipOf(id)).recordRoot.toLowerCase() === root.toLowerCase(),
          { timeoutMs, intervalMs: 100 },
        );
        // …and the gatekeeper's chain view has caught up with it (it polls the node).
        await system.viewAt(await env.publicClient.getBlockNumber());
      },
      async grant(patient, id, viewer, scopes, expiresAt) {
        const mask = typeof scopes === "number" ? scopes : scopesToMask(scopes);
        return receiptBlock(
          await env.send(patient.account, {
            address: env.contracts.Relationship,
            abi: relationshipAbi,
            functionName: "grant",
            args: [id, viewer, mask, BigInt(expiresAt), "0x"],
          }),
        );
      },
      async revoke(patient, id, viewer) {
        return receiptBlock(
          await env.send(patient.account, {
            address: env.contracts.Relationship,
            abi: relationshipAbi,
            functionName: "revoke",
            args: [id, viewer],
          }),
        );
      },
      viewAt: (block) => (started.chain as NonNullable<Gatekeeper["chain"]>).view.waitForBlock(block, 15_000),
      async tamperAudit(edit) {
        const su = createDb(databaseUrl, { poolMax: 1 });
        try {
          await su.transaction(async (trx) => {
            await trx.raw("alter table audit_log disable trigger audit_log_no_update_delete");
            await edit(trx);
            await trx.raw("alter table audit_log enable trigger audit_log_no_update_delete");
          });
        } finally {
          await su.destroy();
        }
      },
      auditVerify(args = []) {
        return new Promise((resolve, reject) => {
          const child = spawn(process.execPath, ["src/cli.ts", "audit", "verify", ...args], {
            cwd: PACKAGE_DIR,
            env: { PATH: process.env.PATH ?? "", DATABASE_URL: databaseUrl },
            stdio: ["ignore", "pipe", "pipe"],
          });
          let stdout = "";
          let stderr = "";
          child.stdout.on("data", (c: Buffer) => {
            stdout += c.toString();
          });
          child.stderr.on("data", (c: Buffer) => {
            stderr += c.toString();
          });
          child.on("error", reject);
          child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
      },
      async stop() {
        await started.stop();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
        await env.stop();
      },
    };
    return system;
  } catch (error) {
    await gk?.stop().catch(() => undefined);
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    await env.stop();
    throw error;
  }
}

/** A ~22-resource synthetic record set: the seed's patient (one sensitive Condition) plus a sensitive lab. */
export function seededRecords(seed: number, index: number, mrn: string) {
  const { resources } = generatePatientRecords({ seed, index });
  const patient = resources[0] as FhirResource;
  const sensitiveLab: FhirResource = {
    resourceType: "Observation",
    id: `${patient.id}-lab-drug-screen`,
    meta: { security: [{ system: CONFIDENTIALITY_SYSTEM, code: "R", display: "restricted" }] },
    status: "final",
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: "laboratory" }] }],
    code: { text: "Substance use screening panel" },
    subject: { reference: `Patient/${patient.id}` },
    valueString: "Positive for opioids",
  };
  // The synthetic MRN identifier is replaced by this system's MRN.
  const withMrn = resources.map((r) =>
    r.resourceType === "Patient" ? { ...r, identifier: [{ system: "urn:medrec:test:mrn", value: mrn }] } : r,
  );
  const all = [...withMrn, sensitiveLab];
  const bundle: FhirBundle = {
    resourceType: "Bundle",
    type: "collection",
    entry: all.map((resource) => ({ resource })),
  };
  const name = (patient.name as { family: string; given: string[] }[])[0];
  /** Values that identify this record set: none may appear in an error. */
  const distinctive = [
    ...all.map((r) => r.id as string),
    name?.family as string,
    ...(name?.given ?? []),
    patient.birthDate as string,
    "Synthetic Way",
    "Major depressive disorder",
    "Substance use screening panel",
    "Positive for opioids",
    mrn,
  ];
  return { resources: all, bundle, sensitiveLab, distinctive };
}

/** Asserts an RFC 9457 problem: exact status, problem+json, the four members, and no listed value. */
export function assertProblem(r: Reply, status: number, forbidden: readonly string[] = [], what = ""): void {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  assert.match(r.type, /^application\/problem\+json/, `${what}: content-type ${r.type}`);
  assert.ok(r.json && typeof r.json === "object", `${what}: body is JSON`);
  for (const key of ["type", "title", "detail"])
    assert.equal(typeof r.json[key], "string", `${what}: problem.${key}`);
  assert.equal(r.json.status, status, `${what}: problem.status`);
  for (const value of forbidden) assert.ok(!r.text.includes(value), `${what}: the body echoes ${value}`);
}
