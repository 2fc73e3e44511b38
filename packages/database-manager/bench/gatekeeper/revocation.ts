/**
 * Revocation while the gatekeeper is under read load: the patient's own reads run from the load
 * worker the whole time (back-to-back windows), while ≥ 30 cycles of grant → the viewer reads (200)
 * → revoke are timed from the moment this client observes the revoke's receipt
 * (eth_getTransactionReceipt every 10 ms on the gatekeeper's own node) to the first 403 the
 * viewer sees, polling the records endpoint every ~10 ms.
 */
import { relationshipAbi, SCOPE_BITS, type ScopeCode } from "@medrec/protocol";
import { percentile, summarize } from "@medrec/testkit";
import type { Hex } from "viem";
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from "viem/accounts";
import type { LoadSummary } from "../load.ts";
import { type Lifecycle, log, sleep } from "./lifecycle.ts";
import { readWindow, statusesOf, type Target } from "./reads.ts";
import { get, type System } from "./setup.ts";
import { repeated, round } from "./stats.ts";

const POLL_MS = 10;
/** What the viewers are granted: part of the record, not the sensitive item. */
const VIEWER_SCOPES: ScopeCode[] = ["demographics", "conditions", "medications", "labs", "vitals"];

type Cycle = {
  enforcedMs: number;
  refusedBeforeReceipt: boolean;
  receiptAfterSendMs: number;
  flapped: number;
  unexpected: number;
};

export function grantVia(sys: System, patient: LocalAccount, relationship: Hex) {
  const send = (functionName: "grant" | "revoke", args: readonly unknown[]) =>
    sys.env.send(patient, {
      address: sys.env.contracts.Relationship,
      abi: relationshipAbi,
      functionName,
      args,
    });
  const scopes = VIEWER_SCOPES.reduce((m, c) => m | (1 << SCOPE_BITS[c]), 0);
  return {
    send,
    grant: async (viewer: LocalAccount) => {
      const expiresAt = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const r = await sys.env.receipt(
        await send("grant", [relationship, viewer.address, scopes, expiresAt, "0x"]),
      );
      if (r.status !== "success") throw new Error("grant reverted");
    },
  };
}

export async function revocationUnderLoad(
  sys: System,
  life: Lifecycle,
  {
    patient,
    relationship,
    load,
  }: { patient: LocalAccount; relationship: Hex; load: Target & { concurrency: number } },
  cycles: number,
) {
  const recordsUrl = sys.recordsUrl(relationship);
  const { send, grant } = grantVia(sys, patient, relationship);
  // The load: back-to-back 5 s windows of the patient's reads until the cycles are done.
  let loading = true;
  const windows: LoadSummary[] = [];
  const background = (async () => {
    while (loading && !life.interrupted()) windows.push(await readWindow(load, load.concurrency, 5, 0));
  })();

  const done: Cycle[] = [];
  const failures: string[] = [];
  /** The viewer's polls answered neither 200 nor 403, by status (0: no answer). */
  const unexpectedStatuses: Record<string, number> = {};
  /** Their problem+json details (no record content: e.g. why permissions could not be checked). */
  const unexpectedDetails = new Set<string>();
  try {
    for (let i = 0; i < cycles && !life.interrupted(); i++) {
      const viewer = privateKeyToAccount(generatePrivateKey());
      const token = await sys.signIn(viewer);
      await grant(viewer);
      await life.eventually(
        "the viewer's grant",
        async () => (await get(recordsUrl, token)).status === 200,
        15_000,
      );
      let firstRefusal: number | undefined;
      let flapped = 0;
      let unexpected = 0;
      let stop = false;
      const poller = (async () => {
        let after = 0;
        while (!stop && after < 5) {
          const t = performance.now();
          const r = await get(recordsUrl, token).catch(() => ({
            status: 0,
            body: "",
            at: performance.now(),
          }));
          if (r.status === 403) {
            firstRefusal ??= r.at;
            after += 1;
          } else if (r.status === 200) {
            if (firstRefusal !== undefined) flapped += 1;
          } else {
            // 503: permissions could not be checked (the chain view fell behind) — refused, fail-closed.
            if (r.status !== 503) unexpected += 1;
            unexpectedStatuses[r.status] = (unexpectedStatuses[r.status] ?? 0) + 1;
            const detail = /"detail":"([^"]*)"/.exec(r.body)?.[1];
            if (detail) unexpectedDetails.add(`${r.status}: ${detail.replace(/\d+/g, "N")}`);
          }
          await sleep(Math.max(0, POLL_MS - (performance.now() - t)));
        }
      })();
      const sentAt = performance.now();
      const hash = await send("revoke", [relationship, viewer.address]);
      let receipt: Awaited<ReturnType<typeof sys.env.publicClient.getTransactionReceipt>> | undefined;
      const receiptDeadline = performance.now() + 30_000;
      while (receipt === undefined && performance.now() < receiptDeadline && !life.interrupted()) {
        const t = performance.now();
        receipt = await sys.env.publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
        if (receipt === undefined) await sleep(Math.max(0, POLL_MS - (performance.now() - t)));
      }
      const receiptAt = performance.now();
      if (receipt?.status !== "success") {
        stop = true;
        await poller;
        failures.push(`cycle ${i + 1}: revoke not included (${receipt ? "reverted" : "no receipt in 30 s"})`);
        continue;
      }
      const deadline = receiptAt + 10_000;
      while (firstRefusal === undefined && performance.now() < deadline && !life.interrupted())
        await sleep(2);
      if (firstRefusal === undefined) {
        stop = true;
        await poller;
        failures.push(`cycle ${i + 1}: still served 10 s after the revoke's receipt`);
        continue;
      }
      await poller;
      const refusedAt: number = firstRefusal;
      done.push({
        enforcedMs: Math.max(0, refusedAt - receiptAt),
        refusedBeforeReceipt: refusedAt < receiptAt,
        receiptAfterSendMs: round(receiptAt - sentAt, 0),
        flapped,
        unexpected,
      });
      if (flapped > 0) failures.push(`cycle ${i + 1}: served again after a refusal (${flapped}×)`);
      if (unexpected > 0)
        failures.push(`cycle ${i + 1}: ${unexpected} polls answered neither 200, 403 nor 503`);
      if ((i + 1) % 10 === 0) log(`revocation under load: ${i + 1}/${cycles} cycles`);
    }
  } finally {
    loading = false;
    await background;
  }
  const enforced = done.map((c) => c.enforcedMs);
  const background_ = repeated(windows);
  return {
    measuredFrom:
      "this client observing the revoke's receipt (eth_getTransactionReceipt every 10 ms on the sealer, the gatekeeper's own node)",
    measuredTo: `the first 403 completed for the viewer polling GET /records every ~${POLL_MS} ms`,
    load: `the patient's full-bundle reads at concurrency ${load.concurrency} throughout (back-to-back 5 s windows)`,
    loadDuring: {
      windows: windows.length,
      readsPerSec: background_.readsPerSec,
      p99Ms: background_.latencyMs.p99,
      errors: background_.errors,
      statuses: statusesOf(windows),
    },
    unexpectedStatuses,
    unexpectedDetails: [...unexpectedDetails],
    viewPollIntervalMs: sys.settings.view.pollIntervalMs,
    blockPeriodS: 1,
    cycles: done.length,
    failed: failures.length,
    failures,
    /** testkit's summary of receipt seen → first 403 over the cycles (n = cycles measured). */
    ...summarize(enforced, 0),
    refusedBeforeReceiptObserved: done.filter((c) => c.refusedBeforeReceipt).length,
    receiptAfterSendMsP50: round(
      percentile(
        done.map((c) => c.receiptAfterSendMs),
        50,
      ),
      0,
    ),
    samplesMs: done.map((c) => round(c.enforcedMs, 1)),
  };
}
