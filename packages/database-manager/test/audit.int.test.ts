import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  AUDIT_GENESIS_HASH,
  auditEntryHash,
  auditResponseSchema,
  findAuditChainBreak,
} from "@medrec/protocol";
import { freePort } from "@medrec/protocol/node";
import type { Knex } from "knex";
import { type Hex, zeroAddress } from "viem";
import { toAuditEntry } from "../src/audit/audit.entry.ts";
import { createAuditLog, verifyAuditLog } from "../src/audit/index.ts";
import { createDb, migrateToLatest } from "../src/db/knex.ts";
import { ProblemError } from "../src/errors.ts";
import type { AuditEvent } from "../src/seams.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const rel = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const ALICE = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";
const BOB = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

const event = (relationship: Hex, overrides: Partial<AuditEvent> = {}): AuditEvent => ({
  relationship,
  actor: ALICE,
  action: "records.read",
  categories: ["labs"],
  decision: "allowed",
  ...overrides,
});

let server: TestPostgres;
const dbs: Knex[] = [];
let counter = 0;

/** A fresh, migrated database (its URL and a knex on it). */
async function freshDb(): Promise<{ url: string; db: Knex }> {
  const url = await createTestDatabase(server.url, `audit_${++counter}`);
  const db = createDb(url);
  dbs.push(db);
  await migrateToLatest(db);
  return { url, db };
}

/** The test server's superuser tampering as an attacker would: triggers off, edit, triggers on. */
async function tamper(db: Knex, sql: string, bindings: readonly Knex.RawBinding[]) {
  await db.transaction(async (trx) => {
    await trx.raw("alter table audit_log disable trigger user");
    await trx.raw(sql, bindings);
    await trx.raw("alter table audit_log enable trigger user");
  });
}

function cli(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  for (const db of dbs) await db.destroy();
  await server?.stop();
});

describe("audit log", () => {
  test("default: entries chain per relationship from the genesis hash, as the audit API serves them", async () => {
    const { db } = await freshDb();
    const audit = createAuditLog(db);
    await audit.append(event(rel(1)));
    await audit.append(
      event(rel(2), { actor: BOB, decision: "denied", categories: [], reason: "no-active-grant" }),
    );
    await audit.append(event(rel(1), { action: "audit.read", categories: [] }));
    const one = auditResponseSchema.parse(await audit.entries(rel(1)));
    assert.equal(one.length, 2);
    assert.equal(one[0]?.prevHash, AUDIT_GENESIS_HASH);
    assert.equal(one[1]?.prevHash, one[0]?.hash);
    assert.equal(findAuditChainBreak(one), -1);
    const two = await audit.entries(rel(2));
    assert.deepEqual(
      two.map(({ actor, decision, categories, prevHash }) => ({ actor, decision, categories, prevHash })),
      [{ actor: BOB, decision: "denied", categories: [], prevHash: AUDIT_GENESIS_HASH }],
    );
    assert.deepEqual(await verifyAuditLog(db), { ok: true, entries: 3, relationships: 2 });
  });

  test("behavior: the operator is recorded as the zero address; bad events are refused before any write", async () => {
    const { db } = await freshDb();
    const audit = createAuditLog(db);
    await audit.append(event(rel(3), { actor: "operator", action: "patients.create", categories: [] }));
    assert.equal((await audit.entries(rel(3)))[0]?.actor, zeroAddress);
    await assert.rejects(audit.append(event("0x1234" as Hex)), /invalid relationship/);
    await assert.rejects(audit.append(event(rel(3), { categories: ["genome"] })), /unknown category/);
    await assert.rejects(audit.append(event(rel(3), { action: "DROP TABLE x;" })), /invalid action/);
    await assert.rejects(audit.append(event(rel(3), { actor: "nobody" as Hex })), /address/i);
    assert.equal((await audit.entries(rel(3))).length, 1);
  });

  test("behavior: 600 concurrent appends from two writers (two pools, as two processes) never fork a chain", async () => {
    const { url, db } = await freshDb();
    const other = createDb(url);
    dbs.push(other);
    const writers = [createAuditLog(db), createAuditLog(other, { maxBatch: 7 })];
    await Promise.all(
      Array.from({ length: 600 }, (_, i) =>
        (writers[i % 2] as (typeof writers)[number]).append(
          event(rel(i % 3), { decision: i % 5 === 0 ? "denied" : "allowed" }),
        ),
      ),
    );
    assert.deepEqual(await verifyAuditLog(db), { ok: true, entries: 600, relationships: 3 });
    for (const n of [0, 1, 2]) {
      const entries = await writers[0]?.entries(rel(n));
      assert.equal(entries?.length, 200);
      assert.equal(findAuditChainBreak(entries ?? []), -1);
      assert.equal(new Set(entries?.map((e) => e.prevHash)).size, 200, "no two entries share a parent");
    }
    const ids = (await db("audit_log").select("id").orderBy("id")).map((r) => Number(r.id));
    assert.deepEqual(
      ids,
      Array.from({ length: 600 }, (_, i) => i + 1),
    );
  });

  test("error: the database refuses UPDATE, DELETE and TRUNCATE, even for a superuser", async () => {
    const { db } = await freshDb();
    await createAuditLog(db).append(event(rel(1)));
    await assert.rejects(db("audit_log").update({ decision: "denied" }), /append-only: UPDATE refused/);
    await assert.rejects(db("audit_log").delete(), /append-only: DELETE refused/);
    await assert.rejects(db.raw("truncate audit_log"), /append-only: TRUNCATE refused/);
    assert.equal((await db("audit_log").count({ n: "*" }))[0]?.n, "1");
  });

  test("error: when the database is unreachable, append rejects with a 503 problem (fail closed)", async () => {
    const port = await freePort();
    const down = createDb(`postgresql://postgres@127.0.0.1:${port}/none`);
    dbs.push(down);
    const audit = createAuditLog(down);
    const error = await audit.append(event(rel(1))).catch((e: unknown) => e);
    assert.ok(error instanceof ProblemError);
    assert.equal(error.kind, "unavailable");
  });
});

describe("medrec-gatekeeper audit verify", () => {
  /** A database with 9 entries over 3 relationships: ids 1…9, relationship of id n = rel(n % 3). */
  async function populated() {
    const fresh = await freshDb();
    const audit = createAuditLog(fresh.db);
    for (let i = 1; i <= 9; i++) await audit.append(event(rel(i % 3), i % 2 ? { reason: "x" } : {}));
    return fresh;
  }
  const atOf = async (db: Knex, id: number) =>
    ((await db("audit_log").where({ id }).first()) as { at: Date }).at.toISOString();

  test("default: an intact log → exit 0", async () => {
    const { url } = await populated();
    const r = cli(["audit", "verify"], { DATABASE_URL: url });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /audit log intact: 9 entries, 3 relationship\(s\)/);
    const one = cli(["audit", "verify", "--relationship", rel(1)], { DATABASE_URL: url });
    assert.equal(one.status, 0, one.stderr);
    assert.match(one.stdout, /intact: 3 entries/);
  });

  test("error: an edited row → exit 1 naming it (id, at)", async () => {
    const { url, db } = await populated();
    await tamper(db, "update audit_log set decision = 'denied' where id = ?", [4]);
    const r = cli(["audit", "verify"], { DATABASE_URL: url });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`first bad entry id=4 at=${await atOf(db, 4)} .*edited`));
    const one = cli(["audit", "verify", `--relationship=${rel(1)}`], { DATABASE_URL: url });
    assert.equal(one.status, 1);
    assert.match(one.stdout, /first bad entry id=4 /);
  });

  test("error: an edit outside the served chain (reason) is caught by the table chain", async () => {
    const { url, db } = await populated();
    await tamper(db, "update audit_log set reason = 'edited' where id = ?", [2]);
    const r = cli(["audit", "verify"], { DATABASE_URL: url });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /first bad entry id=2 .*chain_hash/);
  });

  test("error: an edit whose entry hash is recomputed is still caught", async () => {
    const { url, db } = await populated();
    const row = await db("audit_log").where({ id: 3 }).first();
    const hash = auditEntryHash({ ...toAuditEntry(row), decision: "denied" });
    await tamper(db, "update audit_log set decision = 'denied', hash = ? where id = ?", [hash, 3]);
    const r = cli(["audit", "verify"], { DATABASE_URL: url });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /first bad entry id=3 .*chain_hash/);
    // The served relationship chain breaks at the relationship's next entry (id 6).
    const one = cli(["audit", "verify", "--relationship", rel(0)], { DATABASE_URL: url });
    assert.match(one.stdout, /first bad entry id=6 .*prev_hash/);
  });

  test("error: a deleted row → exit 1 naming the first entry after the gap", async () => {
    const { url, db } = await populated();
    await tamper(db, "delete from audit_log where id = ?", [5]);
    const r = cli(["audit", "verify"], { DATABASE_URL: url });
    assert.equal(r.status, 1);
    assert.match(r.stdout, new RegExp(`first bad entry id=6 at=${await atOf(db, 6)} .*missing`));
    // id 5 belonged to rel(2); its relationship chain breaks at its next entry, id 8.
    const one = cli(["audit", "verify", "--relationship", rel(2)], { DATABASE_URL: url });
    assert.equal(one.status, 1);
    assert.match(one.stdout, /first bad entry id=8 .*prev_hash/);
  });

  test("error: usage → exit 2", () => {
    for (const args of [
      [],
      ["audit"],
      ["audit", "check"],
      ["audit", "verify", "--relationship", "0x12"],
      ["audit", "verify", "--x"],
    ]) {
      const r = cli(args, { DATABASE_URL: "postgresql://127.0.0.1:1/none" });
      assert.equal(r.status, 2, args.join(" "));
      assert.match(r.stderr, /usage: medrec-gatekeeper audit verify/);
    }
    assert.equal(cli(["audit", "verify"], { DATABASE_URL: "mysql://x" }).status, 2);
    assert.equal(cli(["--help"], {}).status, 0);
  });

  test("error: an unreachable database → exit 2, not 'intact'", async () => {
    const r = cli(["audit", "verify"], {
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/none`,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /could not be checked/);
  });
});
