/**
 * Refusals name no provider's patients (issue 19, item 4; adr/0014): from outside, over HTTP, a
 * stranger's refused read of a relationship this gatekeeper holds and of one it does not hold take
 * the same time — a two-sample Kolmogorov–Smirnov test of 1,000 timings of each cannot tell them
 * apart at p = 0.01. A statistical property, not a timed assertion: nothing here says how fast.
 * The two kinds alternate, in a random order per pair, so that the machine's drift hits both alike.
 * The gatekeeper runs with a real PostgreSQL and audit log, and a chain view whose permission
 * reads are the live view's own (`permissionReads` over a state restored as from a snapshot).
 */
import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { after, before, test } from "node:test";
import { eventually, kolmogorovSmirnov, sessionToken } from "@medrec/testkit";
import { pino } from "pino";
import { type Hex, zeroHash } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { accessModule } from "../src/access/index.ts";
import { createAuditLog } from "../src/audit/index.ts";
import { createAuth } from "../src/auth/index.ts";
import { permissionReads, viewStateOf } from "../src/chain/view.ts";
import { loadConfig } from "../src/config.ts";
import { type Gatekeeper, startGatekeeper } from "../src/gatekeeper.ts";
import type { ChainView, RecordsService } from "../src/seams.ts";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "./support/postgres.ts";

const PUBLIC_URL = "http://gatekeeper.test:7102";
const CHAIN_ID = 633732;
const SAMPLES = 1_000;
const WARM_UP = 200;
const patient = privateKeyToAccount(generatePrivateKey());
const viewer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const HELD = `0x${"ab".repeat(32)}` as Hex;
const UNHELD = `0x${"cd".repeat(32)}` as Hex;

const state = viewStateOf({
  relationships: [
    [
      HELD,
      {
        patientAgent: patient.address,
        provider: patient.address,
        ended: false,
        recordRoot: zeroHash,
        sequence: "1",
        grants: [[viewer.address, 0xffff, String(2 ** 40)]],
      },
    ],
  ],
  agents: [[patient.address, { owner: patient.address, custodians: [], encryptionKey: zeroHash }]],
});
const view: ChainView & { everGranted(id: Hex, account: string): boolean } = {
  assertCurrent() {},
  health: () => ({ name: "chain", check: async () => undefined }),
  ...permissionReads(
    () => state,
    new Map([[HELD, 1]]),
    () => true,
  ),
} as never;

let server: TestPostgres;
let gk: Gatekeeper;
let token: string;

before(async () => {
  server = await startTestPostgres();
  const config = loadConfig({
    PORT: "0",
    DATABASE_URL: await createTestDatabase(server.url, "timing"),
    PUBLIC_URL,
    RATE_LIMIT_PER_MINUTE: "1000000",
  });
  gk = await startGatekeeper({
    chain: false,
    config,
    logger: pino({ level: "silent" }),
    modules: (db) => {
      const auth = createAuth({ config, db, chainId: CHAIN_ID });
      return [
        auth.module,
        accessModule({
          view,
          records: {} as RecordsService,
          audit: createAuditLog(db),
          guards: auth.guards,
          denialsPerMinute: 100_000,
        }),
      ];
    },
  });
  token = await sessionToken({ url: gk.url, publicUrl: PUBLIC_URL, account: stranger, chainId: CHAIN_ID });
});
after(async () => {
  await gk?.stop();
  await server?.stop();
});

/** One refused read by the stranger, timed from request to the end of the body (ms). */
async function timedRefusal(relationship: Hex): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${gk.url}/v1/relationships/${relationship}/records`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await response.text();
  const ms = performance.now() - started;
  assert.equal(response.status, 403, body);
  return ms;
}

test("behavior: a refusal takes the same time whether or not this provider holds the relationship (KS, p = 0.01, 1,000 each)", async (t) => {
  /** WARM_UP + SAMPLES pairs, each in a random order: neither kind always goes first. */
  const sample = async () => {
    const held: number[] = [];
    const unheld: number[] = [];
    for (let i = 0; i < WARM_UP + SAMPLES; i++) {
      const heldFirst = randomInt(2) === 0;
      const first = await timedRefusal(heldFirst ? HELD : UNHELD);
      const second = await timedRefusal(heldFirst ? UNHELD : HELD);
      if (i < WARM_UP) continue;
      held.push(heldFirst ? first : second);
      unheld.push(heldFirst ? second : first);
    }
    const ks = kolmogorovSmirnov(held, unheld, 0.01);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    t.diagnostic(
      `KS D = ${ks.d.toFixed(3)} (critical ${ks.critical.toFixed(3)} at p = 0.01); medians held ${median(held).toFixed(3)} ms, unheld ${median(unheld).toFixed(3)} ms`,
    );
    return ks;
  };
  // At p = 0.01 a sample of identical distributions is told apart once in 100 runs: only when a
  // second, independent sample is told apart too is the timing a channel (once in 10,000 by chance;
  // the leak this replaced, D = 0.70, fails both).
  let samples = 1;
  let ks = await sample();
  if (ks.differ) {
    samples = 2;
    ks = await sample();
  }
  assert.ok(
    !ks.differ,
    `KS D = ${ks.d.toFixed(3)} > ${ks.critical.toFixed(3)} in two samples: refusal timing names the relationship`,
  );
  // The refusals on the held relationship were recorded (counted towards the hour's aggregate:
  // the stranger never held a grant), off the response path; those on the other, not at all.
  const open = await eventually("the held relationship's refusals counted", async () => {
    const row = (await gk.db("audit_refusals_open").where({ relationship: HELD }).first()) as
      | { refusals: number }
      | undefined;
    return row && row.refusals >= samples * (WARM_UP + SAMPLES) ? row : undefined;
  });
  assert.equal(open.refusals, samples * (WARM_UP + SAMPLES));
  assert.equal((await gk.db("audit_refusals_open").where({ relationship: UNHELD })).length, 0);
  assert.equal((await gk.db("audit_log").count({ n: "*" }))[0]?.n, "0");
});
