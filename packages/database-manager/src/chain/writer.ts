/**
 * The ChainWriter: links MRN ↔ patient and creates the Relationship from a fresh delegate key, and
 * publishes record roots. Both are idempotent and crash-safe:
 *
 * - registerPatient stores the link (with its delegate index, from a sequence) *before* anything is
 *   sent. A relationship's id is `keccak256(abi.encode(agent, delegate))`, fixed by that row, so a
 *   retry after a crash finds the relationship on chain, or waits for the delegate's in-flight
 *   transaction, or sends `create` again — it can never create a second relationship.
 * - publishRoot runs one publication per patient at a time (in process: a queue that coalesces
 *   callers; across processes: a PostgreSQL advisory lock), reads the root *after* taking the lock,
 *   and publishes with `sequence = on-chain + 1`. A publication that raced (another process, or a
 *   transaction sent before a crash) reverts with `RelationshipStaleSequence` and is retried from a
 *   fresh read, so an older root never overwrites a newer one.
 *
 * Delegates hold no ether and send no transaction: each write is an ERC-2771 forward request
 * signed by the relationship's delegate and relayed through another provider's relay, chosen at
 * random per request (relay/peers.ts, adr/0006). The forwarder's per-delegate nonce means at most
 * one of two requests signed for the same step executes; the other reverts and is re-read.
 */

import {
  mrnSchema,
  type ProviderDetails,
  RelayedCallRevertedError,
  relationshipAbi,
  relayAndWait,
  sealJson,
  signProviderDetails,
  toChecksumAddress,
} from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import {
  type Address,
  encodeAbiParameters,
  encodeFunctionData,
  type Hex,
  keccak256,
  parseEventLogs,
  zeroAddress,
} from "viem";
import type { LocalAccount, PrivateKeyAccount } from "viem/accounts";
import { ProblemError } from "../errors.ts";
import { patientsRepository } from "../patients/patients.repository.knex.ts";
import type { RelaySubmitter } from "../relay/peers.ts";
import { RelayRefusal, revertNameOf } from "../relay/relay.service.ts";
import type { ChainWriter } from "../seams.ts";
import { type ChainClient, chainAbi, type DelegateKeys, unavailable } from "./client.ts";
import type { ChainSettings } from "./config.ts";
import type { LiveChainView } from "./view.ts";

/** Advisory-lock namespace of per-patient chain writes (pg_advisory_xact_lock(ns, patientId)). */
const LOCK_NAMESPACE = 0x4d52; // "MR"
const MAX_PUBLISH_ATTEMPTS = 6;
const MAX_CREATE_ATTEMPTS = 6;

export type RegisterPatientResult = { patientId: number; relationship: Hex; created: boolean };

export type ChainWriterParameters = {
  client: ChainClient;
  settings: Pick<ChainSettings, "provider" | "receiptTimeoutMs" | "forwarder">;
  db: Knex;
  logger: Logger;
  delegates: DelegateKeys;
  /** Where the delegates' signed requests go: another provider's relay (relay/peers.ts). */
  relay: Pick<RelaySubmitter, "submit">;
  view?: Pick<LiveChainView, "link">;
  /** The patient's current record root (records part: `recordSet(patientId).root`). */
  rootOf: (patientId: number) => Promise<Hex>;
  /** Signs the details sealed to each patient (adr/0015); without it they go unsigned. */
  detailsSigner?: Pick<LocalAccount, "signTypedData">;
};

export type LiveChainWriter = ChainWriter & {
  registerPatient(mrn: string, patientAddress: Address): Promise<RegisterPatientResult>;
  /** After a restart: finishes interrupted registrations and publishes roots that changed while down. */
  reconcile(): Promise<void>;
  /** Resolves when no publication is queued or running. */
  idle(): Promise<void>;
};

/** The relationship id the contract will assign (`Relationship.relationshipId`). */
export function relationshipIdOf(agent: Address, delegate: Address): Hex {
  return keccak256(encodeAbiParameters([{ type: "address" }, { type: "address" }], [agent, delegate]));
}

export function createChainWriter(p: ChainWriterParameters): LiveChainWriter {
  const { client, db, delegates } = p;
  const patients = patientsRepository(db);
  const log = p.logger.child({ component: "chain-writer" });
  const pc = client.publicClient;
  const running = new Map<number, Promise<unknown>>();
  const queued = new Map<number, Promise<{ root: Hex; sequence: bigint } | undefined>>();

  /**
   * Signs `functionName(args)` on Relationship as `delegate`, has it relayed, and waits until the
   * forwarder executed it.
   *
   * @throws {RelayedCallRevertedError} the call reverts (from the estimate, or on chain: `txHash`).
   * @throws {RelayRefusal} the relay refused the request (e.g. `wrong-nonce`, `simulation-reverted`).
   * @throws {ProblemError} 503 when no relay or node answers.
   */
  async function sendAs(
    delegate: PrivateKeyAccount,
    call:
      | { functionName: "create"; args: readonly [Address, Hex] }
      | { functionName: "publishRoot"; args: readonly [Hex, Hex, bigint] },
  ): Promise<void> {
    try {
      await relayAndWait({
        client: pc,
        forwarder: p.settings.forwarder,
        account: delegate,
        to: client.relationship,
        data: encodeFunctionData({ abi: relationshipAbi, ...call } as never),
        chainId: client.chain.id,
        receiptTimeoutMs: p.settings.receiptTimeoutMs,
        submit: (relay) => p.relay.submit(relay),
      });
    } catch (error) {
      if (error instanceof RelayedCallRevertedError || error instanceof ProblemError) throw error;
      throw unavailable(`Relaying ${call.functionName}`, error);
    }
  }

  async function relationshipOnChain(id: Hex) {
    return pc.readContract({
      address: client.relationship,
      abi: relationshipAbi,
      functionName: "relationshipOf",
      args: [id],
    });
  }

  /** The agent's current X25519 key: the last AgentRegistered / EncryptionKeyChanged log. */
  async function encryptionKeyOf(agent: Address): Promise<Hex> {
    const logs = await pc.getLogs({
      address: client.agent,
      events: chainAbi.filter(
        (x) => x.type === "event" && (x.name === "AgentRegistered" || x.name === "EncryptionKeyChanged"),
      ),
      args: { agent },
      fromBlock: 0n,
      toBlock: "latest",
    } as never);
    const parsed = parseEventLogs({ abi: chainAbi, logs: logs as never });
    const last = parsed.at(-1) as { args: { encryptionKey?: Hex } } | undefined;
    if (!last?.args.encryptionKey)
      throw new ProblemError("unprocessable", "The patient's agent has published no encryption key.");
    return last.args.encryptionKey;
  }

  /**
   * Makes the relationship of `row` exist on chain; returns its id. Safe to call again at any point.
   * The view follows the id before anything is sent, so it misses none of its events.
   */
  async function ensureRelationship(row: {
    id: number;
    delegateIndex: number;
    patientAddress: Address;
  }): Promise<Hex> {
    const delegate = delegates.account(row.delegateIndex);
    const id = relationshipIdOf(row.patientAddress, delegate.address);
    p.view?.link(id, row.id);
    const existing = await relationshipOnChain(id);
    if (existing.patient !== zeroAddress) return id;

    const key = await encryptionKeyOf(row.patientAddress);
    const details: ProviderDetails = p.detailsSigner
      ? await signProviderDetails({
          signer: p.detailsSigner,
          provider: p.settings.provider,
          chainId: client.chain.id,
          relationshipContract: client.relationship,
          relationship: id,
          patient: row.patientAddress,
          delegate: delegate.address,
        })
      : { v: 1, ...p.settings.provider };
    const sealed = sealJson(details, key);
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt++) {
      try {
        await sendAs(delegate, { functionName: "create", args: [row.patientAddress, sealed] });
        return id;
      } catch (cause) {
        // A request signed before a crash (same delegate, same forwarder nonce) may have won.
        if ((await relationshipOnChain(id)).patient !== zeroAddress) return id;
        const failure = failureOf(cause);
        if (failure.revert === "RelationshipExists") return id;
        if (failure.race) {
          log.info({ attempt }, "relationship creation raced; re-reading");
          await new Promise((r) => setTimeout(r, 250 * attempt));
          continue;
        }
        if (failure.revert === "AgentUnknown")
          throw new ProblemError("unprocessable", "patientAddress is not a registered MedRec agent.");
        if (failure.revert)
          throw new ProblemError("unprocessable", `The chain refused the relationship (${failure.revert}).`);
        throw cause instanceof ProblemError ? cause : unavailable("Creating the relationship failed", cause);
      }
    }
    throw new ProblemError(
      "unavailable",
      "A previous attempt to create the relationship is still pending; try again.",
    );
  }

  /** Runs `task` holding the per-patient advisory lock (shared by every gatekeeper process). */
  function withPatientLock<T>(patientId: number, task: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    return db.transaction(async (trx) => {
      await trx.raw("select pg_advisory_xact_lock(?, ?)", [LOCK_NAMESPACE, patientId]);
      return task(trx);
    });
  }

  async function publishOnce(patientId: number): Promise<{ root: Hex; sequence: bigint } | undefined> {
    return withPatientLock(patientId, async (trx) => {
      const row = await patients.byId(patientId, trx);
      if (!row?.relationshipId) return undefined;
      const id = row.relationshipId;
      const delegate = delegates.account(row.delegateIndex);
      // Read under the lock: any publication that starts later sees this root or a newer one.
      const root = (await p.rootOf(patientId)).toLowerCase() as Hex;
      for (let attempt = 1; attempt <= MAX_PUBLISH_ATTEMPTS; attempt++) {
        const info = await relationshipOnChain(id);
        if (info.ended) return undefined;
        if (info.recordRoot.toLowerCase() === root) return undefined;
        const sequence = info.sequence + 1n;
        try {
          await sendAs(delegate, { functionName: "publishRoot", args: [id, root, sequence] });
        } catch (cause) {
          const failure = failureOf(cause);
          if (failure.revert === "RelationshipStaleSequence" || failure.race) {
            // Another publication took this sequence first (or this delegate's nonce): re-read.
            log.info({ patientId, attempt }, "root publication raced; re-reading");
            await new Promise((r) => setTimeout(r, 250 * attempt));
            continue;
          }
          if (failure.revert === "RelationshipAlreadyEnded") return undefined;
          throw failure.revert
            ? new ProblemError("internal", `Publishing the root reverted (${failure.revert}).`)
            : cause instanceof ProblemError
              ? cause
              : unavailable("Publishing the root failed", cause);
        }
        log.info({ patientId, sequence: String(sequence) }, "record root published");
        return { root, sequence };
      }
      throw new ProblemError(
        "unavailable",
        "The record root could not be published (too many races); it will be retried.",
      );
    });
  }

  const writer: LiveChainWriter = {
    async registerPatient(mrnInput, addressInput) {
      const mrnParsed = mrnSchema.safeParse(mrnInput);
      if (!mrnParsed.success)
        throw new ProblemError("bad-request", "mrn: Invalid MRN: 1-64 letters, digits, '.', '_' or '-'");
      const mrn = mrnParsed.data;
      let address: Address;
      try {
        address = toChecksumAddress(addressInput);
      } catch {
        throw new ProblemError("bad-request", "patientAddress: expected 0x followed by 40 hex digits.");
      }
      const exists = await pc
        .readContract({ address: client.agent, abi: chainAbi, functionName: "exists", args: [address] })
        .catch((cause: unknown) => {
          throw unavailable("Checking the patient's agent failed", cause);
        });
      if (!exists)
        throw new ProblemError(
          "unprocessable",
          "patientAddress is not a registered MedRec agent (the patient registers first, in the app).",
        );

      // Find or create the link; conflicts on MRN or address are the caller's to resolve.
      let row = (await patients.byMrnOrAddress(mrn, address)).find(
        (r) => r.mrn === mrn && r.patientAddress === address,
      );
      if (!row) {
        const inserted = await patients.insert(mrn, address);
        const rows = inserted ? [inserted] : await patients.byMrnOrAddress(mrn, address);
        row = rows.find((r) => r.mrn === mrn && r.patientAddress === address);
        if (!row) {
          const byMrn = rows.find((r) => r.mrn === mrn);
          throw new ProblemError(
            "conflict",
            byMrn
              ? "This MRN is already linked to another patient address."
              : "This patient address is already linked to another MRN.",
          );
        }
      }
      if (row.relationshipId) {
        if (!(await relationshipOnChain(row.relationshipId)).ended)
          return { patientId: row.id, relationship: row.relationshipId, created: false };
        // Ended (by the patient or by this provider): linked again as a new relationship, from a
        // new delegate — the ended one stays ended, its records closed to everyone.
        row = (await patients.renew(row.id, row.relationshipId)) ?? (await patients.byId(row.id)) ?? row;
        if (row.relationshipId)
          return { patientId: row.id, relationship: row.relationshipId, created: false };
      }

      const current = row;
      const relationship = await withPatientLock(current.id, async (trx) => {
        const again = await patients.byId(current.id, trx);
        if (again?.relationshipId) return again.relationshipId;
        const id = await ensureRelationship(current);
        await patients.setRelationship(current.id, id, trx);
        return id;
      });
      p.view?.link(relationship, current.id);
      log.info({ patientId: current.id }, "relationship created");
      // Records may have arrived while the relationship was being created.
      writer
        .publishRoot(current.id)
        .catch((e: unknown) =>
          log.warn({ err: (e as Error).name, patientId: current.id }, "initial root publication failed"),
        );
      return { patientId: current.id, relationship, created: true };
    },

    publishRoot(patientId) {
      // A queued run reads the newest root when it starts: later callers can share it.
      const waiting = queued.get(patientId);
      if (waiting) return waiting;
      const previous = running.get(patientId) ?? Promise.resolve();
      const run: Promise<{ root: Hex; sequence: bigint } | undefined> = previous
        .catch(() => undefined)
        .then(() => {
          queued.delete(patientId);
          running.set(patientId, run);
          return publishOnce(patientId);
        })
        .finally(() => {
          if (running.get(patientId) === run) running.delete(patientId);
        });
      queued.set(patientId, run);
      return run;
    },

    async reconcile() {
      for (const row of await patients.unconfirmed()) {
        try {
          const exists = await pc.readContract({
            address: client.agent,
            abi: chainAbi,
            functionName: "exists",
            args: [row.patientAddress],
          });
          if (!exists) continue;
          await writer.registerPatient(row.mrn, row.patientAddress);
        } catch (error) {
          log.warn({ err: (error as Error).name, patientId: row.id }, "could not finish a registration");
        }
      }
      for (const id of await patients.linkedIds()) {
        await writer
          .publishRoot(id)
          .catch((error: unknown) =>
            log.warn({ err: (error as Error).name, patientId: id }, "could not publish a root"),
          );
      }
    },

    async idle() {
      for (;;) {
        const all = [...running.values(), ...queued.values()];
        if (all.length === 0) return;
        await Promise.allSettled(all);
      }
    },
  };
  return writer;
}

/**
 * What a failed relayed write says: the contract error it reverts with (before sending, or mined),
 * and whether it lost a race — mined but not executed, or refused for the delegate's nonce (two
 * requests signed for the same forwarder nonce: one executes).
 */
function failureOf(error: unknown): { revert?: string; race: boolean } {
  if (error instanceof RelayedCallRevertedError) {
    const revert = revertNameOf(error.reason);
    const known = /^[A-Za-z_][A-Za-z0-9_]*$/.test(revert) && !revert.startsWith("ERC2771");
    return { ...(known ? { revert } : {}), race: error.txHash !== undefined && !known };
  }
  if (error instanceof RelayRefusal) {
    if (error.check === "wrong-nonce" || error.check === "nonce-in-flight") return { race: true };
    if (error.check === "simulation-reverted" && error.revert) {
      const forwarder = error.revert.startsWith("ERC2771");
      return forwarder ? { race: true } : { revert: error.revert, race: false };
    }
  }
  return { race: false };
}
