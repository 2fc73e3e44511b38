/**
 * The freshness bound, from outside: a whole gatekeeper on a REAL geth v1.13.15 network, its RPC
 * node frozen (SIGSTOP of its geth process) while a patient keeps reading its records over HTTP.
 * Every answer is recorded with the time its request was sent: none is served (200) later than the
 * bound (CHAIN_MAX_STALENESS_MS) plus one poll interval after the freeze, the rest are refused
 * (503); after SIGCONT it serves again (adr/0011, docs/protocol.md "Freshness and revocation").
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventually } from "@medrec/testkit";
import type { Hex } from "viem";
import { type Reply, type System, startSystem } from "./system.support.ts";

let sys: System;
let frozen: number | undefined;

before(async () => {
  sys = await startSystem("freshness_int", { database: "server" });
});
after(async () => {
  if (frozen) process.kill(frozen, "SIGCONT");
  await sys?.stop();
});

test("behavior: reads stop being served within the freshness bound of the node freezing, and are served again once it answers", async () => {
  const patient = await sys.env.patient();
  const id: Hex = await sys.registerPatient("MRN-FRESH-1", patient);
  const token = await sys.signIn(patient.account);
  const answers: { sentAt: number; status: number }[] = [];
  const read = async () => {
    const sentAt = Date.now();
    const r: Reply = await sys.get(`/v1/relationships/${id}/records`, { token });
    answers.push({ sentAt, status: r.status });
    return r;
  };
  await eventually("a first read served", async () => (await read()).status === 200);
  const { maxStalenessMs, pollIntervalMs } = sys.env.settings().view;
  const rpc = sys.env.network.nodes[0]?.rpc;
  const pid = rpc?.pid;
  assert.ok(pid, "the gatekeeper's RPC node runs");

  // Readers that never stop between the freeze and the end of the window.
  answers.length = 0;
  let reading = true;
  const reader = (async () => {
    // One read every 50 ms (a patient's dapp polling hard), under the rate limit.
    while (reading) await Promise.all([read(), new Promise((r) => setTimeout(r, 50))]);
  })();
  await eventually("reads served before the freeze", () => answers.some((a) => a.status === 200));
  const freezeAt = Date.now();
  process.kill(pid, "SIGSTOP");
  frozen = pid;
  // Watched until well past the bound, and until the gatekeeper has refused for a while.
  await eventually(
    "the gatekeeper to refuse reads",
    () =>
      Date.now() > freezeAt + maxStalenessMs + 2 * pollIntervalMs &&
      answers.filter((a) => a.sentAt > freezeAt && a.status === 503).length >= 5,
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  const continuedAt = Date.now();
  process.kill(pid, "SIGCONT");
  frozen = undefined;
  await eventually(
    "reads served again after SIGCONT",
    () => answers.some((a) => a.sentAt > continuedAt && a.status === 200),
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  reading = false;
  await reader;

  const during = answers.filter((a) => a.sentAt >= freezeAt && a.sentAt < continuedAt);
  assert.deepEqual(
    [...new Set(during.map((a) => a.status))].filter((s) => s !== 200 && s !== 503),
    [],
    "only served or refused",
  );
  const served = during.filter((a) => a.status === 200).map((a) => a.sentAt - freezeAt);
  const lastServed = served.length ? Math.max(...served) : 0;
  const limit = maxStalenessMs + pollIntervalMs;
  assert.ok(
    lastServed <= limit,
    `a read sent ${lastServed} ms after the freeze was served (bound ${maxStalenessMs} ms + poll ${pollIntervalMs} ms)`,
  );
  console.log(
    `# freshness: node frozen ${continuedAt - freezeAt} ms; ${during.length} reads, ${served.length} served (last sent ${lastServed} ms after the freeze; bound ${maxStalenessMs} ms), ${during.length - served.length} refused; served again ${Math.min(...answers.filter((a) => a.sentAt > continuedAt && a.status === 200).map((a) => a.sentAt)) - continuedAt} ms after SIGCONT`,
  );
});
