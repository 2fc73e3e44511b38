/**
 * The audit log as a transparency log, on a REAL geth (Clique) with the AuditAnchor contract and a
 * REAL PostgreSQL server: the gatekeeper runs as a runtime role that cannot alter the audit
 * tables; it anchors its tree heads on chain; the patient-side verifier of @medrec/protocol,
 * reading the anchored heads from chain events, accepts the served entries and names the
 * tampering a database superuser does afterwards: the newest rows deleted, one row edited, two
 * rows reordered.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type AuditEntry,
  type AuditProblem,
  deployAuditAnchor,
  readAnchoredHeads,
  verifyAuditEntries,
  verifyAuditPage,
} from "@medrec/protocol";
import type { Knex } from "knex";
import { createWalletClient, type Hex, http, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createAccessService } from "../src/access/access.service.ts";
import type { AnchorSettings } from "../src/audit/audit.transparency.ts";
import {
  type CreateAuditLogParameters,
  createAuditLog,
  type GatekeeperAuditLog,
} from "../src/audit/index.ts";
import { createDb } from "../src/db/knex.ts";
import { ensureRuntimeRole } from "../src/db/roles.ts";
import { type GatekeeperDatabase, openGatekeeperDatabase } from "../src/db/setup.ts";
import type { ProblemError } from "../src/errors.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import type { AuditEvent, ChainView, RecordsService } from "../src/seams.ts";
import { type ChainEnv, silent, startChainEnv } from "./chain.support.ts";
import { createTestDatabase } from "./support/postgres.ts";

const RUNTIME_ROLE = "medrec_runtime";
const rel = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const PATIENT = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const VIEWER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const REL = rel(1);
const OTHER = rel(2);

let env: ChainEnv;
let ownerUrl: string;
let database: GatekeeperDatabase;
let owner: Knex;
let anchoring: AnchorSettings;
const logs: GatekeeperAuditLog[] = [];

const event = (relationship: Hex, n: number, overrides: Partial<AuditEvent> = {}): AuditEvent => ({
  relationship,
  actor: n % 3 === 0 ? VIEWER : PATIENT,
  action: "records.read",
  categories: n % 2 === 0 ? ["labs"] : [],
  decision: n % 3 === 0 ? "denied" : "allowed",
  ...(n % 3 === 0 ? { reason: "no-active-grant" } : {}),
  ...overrides,
});

/**
 * A gatekeeper's audit log on the runtime connection (a new one = a restarted gatekeeper: the
 * earlier ones stop first, so that two never anchor with the same key at once).
 */
async function auditLog(options: Partial<CreateAuditLogParameters> = {}): Promise<GatekeeperAuditLog> {
  for (const earlier of logs) await earlier.stop();
  // Anchored when a test says so (anchorNow), not on a timer: each test knows the heads on chain.
  const log = createAuditLog(database.db, {
    logger: silent,
    anchoring,
    anchorIntervalMs: 60_000,
    ...options,
  });
  logs.push(log);
  return log;
}

/** Every page of the relationship's entries, as a patient fetches them. */
async function served(log: GatekeeperAuditLog, relationship: Hex, limit = 4): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await log.page(relationship, { after, limit });
    assert.ok(page);
    entries.push(...page.entries);
    if (!page.next) return entries;
    after = page.next;
  }
}

/** The patient's check: heads from the chain's events, consistency proofs from the gatekeeper. */
async function verify(log: GatekeeperAuditLog, relationship: Hex) {
  const heads = await readAnchoredHeads({
    client: env.publicClient,
    anchor: anchoring.address,
    log: privateKeyToAccount(anchoring.privateKey).address,
  });
  return verifyAuditEntries({
    relationship,
    entries: await served(log, relationship),
    heads,
    consistencyProof: async (from, to) => (await log.consistency(from, to)) ?? [],
  });
}

/** The superuser tampering as an attacker would: triggers off, change, triggers on. */
async function tamper(sql: string, bindings: readonly Knex.RawBinding[] = []) {
  await owner.transaction(async (trx) => {
    await trx.raw("alter table audit_log disable trigger user");
    await trx.raw(sql, bindings);
    await trx.raw("alter table audit_log enable trigger user");
  });
}

/** Swaps every column but the id of two rows: the two entries trade places in the log. */
const swap = (a: string, b: string) =>
  tamper(
    `update audit_log x set relationship = y.relationship, at = y.at, actor = y.actor, action = y.action,
              categories = y.categories, decision = y.decision, reason = y.reason, count = y.count,
              mrn_hash = y.mrn_hash, prev_hash = y.prev_hash, hash = y.hash, chain_hash = y.chain_hash
         from (select * from audit_log where id in (?, ?)) y
        where x.id in (?, ?) and x.id <> y.id`,
    [a, b, a, b],
  );

const kinds = (problems: readonly AuditProblem[]) => [...new Set(problems.map((p) => p.kind))].sort();

before(async () => {
  env = await startChainEnv("audit_transparency");
  ownerUrl = await createTestDatabase(env.pg.url, "audit_tlog");
  owner = createDb(ownerUrl, { poolMax: 2 });
  await ensureRuntimeRole(owner, RUNTIME_ROLE, "ab".repeat(16));
  database = await openGatekeeperDatabase({
    databaseUrl: ownerUrl.replace("//postgres@", `//${RUNTIME_ROLE}@`),
    migrationDatabaseUrl: ownerUrl,
    dataDir: "/nonexistent",
    logger: silent,
  });
  const logKey = generatePrivateKey();
  const logAccount = privateKeyToAccount(logKey);
  // The log account is funded by the deployer here; in production by the provider, never the sponsor.
  const wallet = createWalletClient({ account: env.deployer, chain: env.chain, transport: http(env.rpcUrl) });
  await env.receipt(await wallet.sendTransaction({ to: logAccount.address, value: parseEther("1") }));
  const { address } = await deployAuditAnchor({
    rpcUrl: env.rpcUrl,
    deployer: env.deployer,
    registry: env.contracts.AgentRegistry,
  });
  anchoring = {
    rpcUrl: env.rpcUrl,
    chainId: env.chain.id,
    address,
    privateKey: logKey,
    receiptTimeoutMs: 30_000,
  };
});

after(async () => {
  for (const log of logs) await log.stop();
  await database?.close();
  await owner?.destroy();
  await env?.stop();
});

describe("runtime role ≠ owner", () => {
  test("error: the runtime role cannot UPDATE, DELETE, TRUNCATE or disable the triggers of the audit tables", async () => {
    const log = await auditLog();
    await log.append(event(REL, 1));
    for (const [table, column] of [
      ["audit_log", "actor"],
      ["audit_anchors", "root"],
    ]) {
      for (const sql of [
        `update ${table} set ${column} = ${column} where false`,
        `delete from ${table}`,
        `truncate ${table}`,
        `alter table ${table} disable trigger user`,
        `alter table ${table} disable trigger all`,
        `drop table ${table}`,
      ])
        await assert.rejects(database.db.raw(sql), /permission denied|must be owner/, `${sql} must fail`);
    }
    // …while it reads and appends (the entry appended above is there to read).
    const entries = Number((await database.db("audit_log").count({ n: "*" }))[0]?.n);
    assert.ok(entries >= 1, `the runtime role reads ${entries} entries`);
  });
});

describe("anchored audit log", () => {
  test("default: entries are served in pages with inclusion proofs to the anchored head, and verify against the chain", async () => {
    const log = await auditLog();
    for (let n = 2; n <= 12; n++) await log.append(event(n % 2 === 0 ? REL : OTHER, n));
    await log.append(
      event(REL, 13, {
        actor: "operator",
        action: "staff.records.upload",
        count: 3,
        mrnHash: "ab".repeat(32),
      }),
    );
    const first = await log.anchorer.anchorNow();
    assert.ok(first && first.size === 13, "the head of 13 entries was anchored");
    for (let n = 14; n <= 18; n++) await log.append(event(REL, n));
    const second = await log.anchorer.anchorNow();
    assert.equal(second?.size, 18);
    assert.equal(await log.anchorer.anchorNow(), undefined, "nothing new: nothing anchored");
    await log.append(event(REL, 19)); // newer than the latest anchor: pending

    const page = await log.page(REL, { limit: 4 });
    assert.equal(page?.entries.length, 4);
    assert.ok(page?.next);
    const entries = await served(log, REL);
    const staff = entries.find((e) => e.action === "staff.records.upload");
    assert.equal(staff?.count, 3);
    assert.equal(staff?.mrnHash, "ab".repeat(32));
    assert.ok(entries.slice(0, -1).every((e) => e.inclusion?.treeSize === 18));
    assert.equal(entries.at(-1)?.inclusion, undefined);

    const result = await verify(log, REL);
    assert.deepEqual(result.problems, []);
    assert.ok(result.ok);
    assert.equal(result.pending, 1);
    assert.equal(result.latest.size, 18);
    assert.equal(result.anchored, entries.length - 1);
    const head = await log.head();
    assert.equal(head.anchored.size, 18);
    assert.equal(head.anchor, anchoring.address);
  });

  test("error: a changed count or mrnHash breaks the entry's hash", async () => {
    const log = await auditLog();
    const entries = await served(log, REL);
    const staff = entries.findIndex((e) => e.action === "staff.records.upload");
    const edited = entries.map((e, i) => (i === staff ? { ...e, count: 4 } : e));
    const result = await verifyAuditEntries({ relationship: REL, entries: edited, heads: [] });
    assert.ok(result.problems.some((p) => p.kind === "edited" && p.index === staff));
  });

  test("error: reordering two entries is detected and named", async () => {
    const rows = await owner("audit_log").where({ relationship: REL }).orderBy("id").select("id");
    const [a, b] = [rows[2]?.id, rows[3]?.id];
    // Swap every column but the id: the two entries trade places in the log.
    await swap(a, b);
    const result = await verify(await auditLog(), REL);
    assert.equal(result.ok, false);
    assert.ok(kinds(result.problems).includes("reordered"), JSON.stringify(result.problems));
    const named = result.problems.find((p) => p.kind === "reordered");
    assert.match(named?.message ?? "", /reordered/);
    // Put them back.
    await swap(a, b);
    assert.ok((await verify(await auditLog(), REL)).ok);
  });

  test("error: editing one entry is detected and named — even if its hash is recomputed", async () => {
    const denied = await owner("audit_log")
      .where({ relationship: REL, decision: "denied" })
      .orderBy("id")
      .first();
    await tamper("update audit_log set decision = 'allowed' where id = ?", [denied.id]);
    let result = await verify(await auditLog(), REL);
    assert.equal(result.ok, false);
    const edited = result.problems.find((p) => p.kind === "edited");
    assert.ok(edited, JSON.stringify(result.problems));
    assert.match(edited.message, /was edited/);
    assert.match(edited.message, /records\.read by 0x70997970C51812dc3A010C7d01b50e0d17dc79C8/);

    // A careful attacker recomputes that entry's hash and the next entry's prevHash: the chain
    // holds, but the leaf is no longer the one anchored.
    const { auditEntryHash } = await import("@medrec/protocol");
    const row = await owner("audit_log").where({ id: denied.id }).first();
    const hash = auditEntryHash({
      at: row.at.toISOString(),
      actor: row.actor,
      action: row.action,
      categories: row.categories,
      decision: row.decision,
      prevHash: row.prev_hash,
    });
    const next = await owner("audit_log")
      .where({ relationship: REL })
      .andWhere("id", ">", denied.id)
      .orderBy("id")
      .first();
    await tamper("update audit_log set hash = ? where id = ?", [hash, denied.id]);
    // The next entry would need a new hash too, and so on: rewrite them all.
    let prev = hash;
    for (const r of await owner("audit_log")
      .where({ relationship: REL })
      .andWhere("id", ">=", next.id)
      .orderBy("id")) {
      const h = auditEntryHash({
        at: r.at.toISOString(),
        actor: r.actor,
        action: r.action,
        categories: r.categories,
        decision: r.decision,
        prevHash: prev,
        ...(r.count === null ? {} : { count: r.count }),
        ...(r.mrn_hash === null ? {} : { mrnHash: r.mrn_hash }),
      });
      await tamper("update audit_log set prev_hash = ?, hash = ? where id = ?", [prev, h, r.id]);
      prev = h;
    }
    result = await verify(await auditLog(), REL);
    assert.equal(result.ok, false);
    assert.ok(
      result.problems.some(
        (p) => p.kind === "not-in-anchored-tree" && /not in the anchored tree/.test(p.message),
      ),
      JSON.stringify(result.problems),
    );
    assert.ok(!result.problems.some((p) => p.kind === "edited"), "the chain itself holds");
  });

  test("error: deleting the newest rows is detected and named (the log is shorter than anchored)", async () => {
    const [{ n }] = (await owner("audit_log").count({ n: "*" })) as [{ n: string }];
    await tamper("delete from audit_log where id > ?", [Number(n) - 3]);
    const result = await verify(await auditLog(), REL);
    assert.equal(result.ok, false);
    const shortened = result.problems.find((p) => p.kind === "shortened");
    assert.ok(shortened, JSON.stringify(result.problems));
    assert.match(shortened.message, /the log was shortened: .* anchored 18/);
  });

  test("error: a head anchored after the log was cut and regrown is not consistent with the earlier head", async () => {
    const log = await auditLog();
    for (let n = 30; n < 36; n++) await log.append(event(OTHER, n));
    const head = await log.anchorer.anchorNow();
    assert.ok(head && head.size > 18);
    const result = await verify(log, OTHER);
    assert.ok(
      result.problems.some((p) => p.kind === "rewritten"),
      JSON.stringify(result.problems),
    );
  });
});

/** A view holding relationship `held` only, where no one reads; `everGranted`: its grant history. */
const heldOnly = (held: Hex, everGranted: (account: string) => boolean) =>
  ({
    assertCurrent() {},
    relationship: (id: Hex) => (id.toLowerCase() === held ? ({ id } as never) : undefined),
    isPatientController: () => false,
    viewerScopes: () => 0,
    relationshipsOf: () => [],
    patientIdOf: () => 1,
    everGranted: (_id: Hex, account: string) => everGranted(account),
    health: () => ({ name: "chain", check: async () => undefined }),
  }) as unknown as ChainView;

describe("flooding", () => {
  test("behavior: denials on a relationship this provider does not hold are counted, not appended; a caller's denials beyond the limit get 429", async () => {
    const log = await auditLog();
    const metrics = createMetrics();
    const service = createAccessService({
      view: heldOnly(REL, () => false),
      records: {} as RecordsService,
      audit: log,
      metrics,
      denialsPerMinute: 5,
    });
    const count = async () => Number((await owner("audit_log").count({ n: "*" }))[0]?.n);
    const before = await count();
    const stranger = "0x000000000000000000000000000000000000dEaD";
    const statuses: string[] = [];
    for (let i = 0; i < 8; i++) {
      const target = i % 2 === 0 ? rel(999) : REL;
      await service.auditOf(target, stranger, { limit: 10 }).catch((error: ProblemError) => {
        statuses.push(error.kind);
      });
    }
    assert.deepEqual(statuses, [...Array(5).fill("forbidden"), ...Array(3).fill("too-many-requests")]);
    await service.flushRefusals();
    // Of the five refusals, two were on the held relationship (a stranger's: counted into the
    // hour's aggregate, not yet an entry), three on an unknown one (metrics only).
    assert.equal(await count(), before);
    assert.equal((await log.refusals.open(REL))?.count, 2);
    const text = await metrics.registry.metrics();
    assert.match(text, /medrec_access_unheld_denials_total\{action="audit.read"\} 3/);
    assert.match(text, /medrec_access_denials_rate_limited_total\{action="audit.read"\} 3/);
  });
});

describe("refusals by strangers (adr/0014)", () => {
  test("behavior: 40 fresh keys × 5 refused reads add one aggregate entry per hour; a former viewer's refusals and staff actions stay individual; all anchored and verifiable, newest first", async () => {
    const R = rel(77);
    const former = privateKeyToAccount(generatePrivateKey()).address;
    let now = new Date("2031-03-01T10:05:00Z");
    const clock = () => now;
    const log = await auditLog({ clock });
    const service = createAccessService({
      view: heldOnly(R, (account) => account.toLowerCase() === former.toLowerCase()),
      records: {} as RecordsService,
      audit: log,
      clock,
      denialsPerMinute: 1_000,
    });
    const refused = async (caller: string) =>
      assert.rejects(
        service.records({ relationship: R, caller: caller as Hex }),
        (e: ProblemError) => e.kind === "forbidden",
      );
    const entriesOf = async () =>
      (await owner("audit_log").where({ relationship: R }).orderBy("id")) as {
        action: string;
        actor: string;
        count: number | null;
        actors: number | null;
      }[];

    const strangers = Array.from({ length: 40 }, () => privateKeyToAccount(generatePrivateKey()).address);
    for (const stranger of strangers) for (let i = 0; i < 5; i++) await refused(stranger);
    for (let i = 0; i < 3; i++) await refused(former);
    // Refusals are recorded after their answer: wait for them before the staff action.
    await service.flushRefusals();
    await log.append({
      relationship: R,
      actor: "operator",
      action: "staff.records.upload",
      categories: [],
      decision: "allowed",
      count: 2,
      mrnHash: "cd".repeat(32),
    });
    await service.flushRefusals();
    // Within the hour: the former viewer's 3 refusals and the staff action only; 200 counted.
    assert.deepEqual(
      (await entriesOf()).map((e) => e.action),
      ["records.read", "records.read", "records.read", "staff.records.upload"],
    );
    assert.ok((await entriesOf()).slice(0, 3).every((e) => e.actor === former));
    assert.deepEqual(await log.refusals.open(R), {
      since: "2031-03-01T10:00:00.000Z",
      count: 200,
      actors: 40,
    });

    // The hour closes (the clock moves on; a refusal in the next hour, or the sweep, closes it).
    now = new Date("2031-03-01T11:00:01Z");
    await refused(strangers[0] as string);
    await service.flushRefusals();
    let entries = await entriesOf();
    assert.equal(entries.length, 5);
    const aggregate = entries[4];
    assert.equal(aggregate?.action, "refusals.aggregate");
    assert.equal(aggregate?.count, 200);
    assert.equal(aggregate?.actors, 40);
    assert.deepEqual(await log.refusals.open(R), { since: "2031-03-01T11:00:00.000Z", count: 1, actors: 1 });
    // Flushing again in the same hour appends nothing; the next hour appends the one refusal.
    await service.flushRefusals();
    assert.equal((await entriesOf()).length, 5);
    now = new Date("2031-03-01T12:30:00Z");
    await service.flushRefusals();
    entries = await entriesOf();
    assert.equal(entries.length, 6);
    assert.deepEqual([entries[5]?.count, entries[5]?.actors], [1, 1]);
    assert.equal(await log.refusals.open(R), undefined);

    // Anchored, and the patient's checks pass: the whole chain, and newest-first pages on their own.
    const size = Number((await owner("audit_log").max({ id: "id" }).first())?.id);
    assert.equal((await log.anchorer.anchorNow())?.size, size);
    const result = await verify(log, R);
    // (The tests above cut and regrew the log: its earlier heads are rightly inconsistent.)
    assert.deepEqual(
      result.problems.filter((p) => p.kind !== "rewritten"),
      [],
    );
    assert.equal(result.anchored, 6);
    const heads = await readAnchoredHeads({
      client: env.publicClient,
      anchor: anchoring.address,
      log: privateKeyToAccount(anchoring.privateKey).address,
    });
    const first = await log.page(R, { order: "desc", limit: 4 });
    assert.ok(first?.next);
    assert.deepEqual(
      first.entries.map((e) => e.action),
      ["refusals.aggregate", "refusals.aggregate", "staff.records.upload", "records.read"],
    );
    const firstCheck = verifyAuditPage({ relationship: R, entries: first.entries, heads, last: false });
    assert.deepEqual(firstCheck.problems, []);
    assert.deepEqual(firstCheck.proofs, ["verified", "verified", "verified", "verified"]);
    const second = await log.page(R, { order: "desc", before: first.next, limit: 4 });
    assert.equal(second?.entries.length, 2);
    assert.equal(second?.next, undefined);
    const olderThan = first.entries.at(-1)?.prevHash;
    const secondCheck = verifyAuditPage({
      relationship: R,
      entries: second?.entries ?? [],
      heads,
      olderThan,
      last: true,
    });
    assert.deepEqual(secondCheck.problems, []);
    // A page that skips an entry, or an aggregate with a changed count, is named.
    const skipped = verifyAuditPage({
      relationship: R,
      entries: (second?.entries ?? []).slice(1),
      heads,
      olderThan,
      last: true,
    });
    assert.deepEqual([...new Set(skipped.problems.map((p) => p.kind))], ["removed"]);
    const edited = verifyAuditPage({
      relationship: R,
      entries: first.entries.map((e, i) => (i === 0 ? { ...e, count: 2 } : e)),
      heads,
      last: false,
    });
    assert.equal(edited.proofs[0], "failed");
    assert.ok(edited.problems.some((p) => p.kind === "edited" && p.index === 0));
  });
});
