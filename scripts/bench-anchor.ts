/**
 * `./medrec run bench:anchor` — what anchoring the audit logs costs on chain. Starts the whole
 * local system (as `./medrec start` does), keeps every provider's audit log growing by running the
 * black-box check in a loop for a window (default 180 s; MEDREC_BENCH_WINDOW_SECONDS), then reads
 * every `TreeHeadAnchored` event of the window and its transaction's gas. Writes reports/anchor.json.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { auditAnchorAbi, parseManifest } from "@medrec/protocol";
import { startReport, summarize } from "@medrec/testkit";
import { pino } from "pino";
import { createPublicClient, type Hex, http } from "viem";
import { checkNetwork } from "./check.ts";
import { startSystem } from "./system.ts";

const windowSeconds = Number(process.env.MEDREC_BENCH_WINDOW_SECONDS ?? 180);
if (!Number.isInteger(windowSeconds) || windowSeconds < 30)
  throw new Error(`MEDREC_BENCH_WINDOW_SECONDS must be an integer ≥ 30, got ${windowSeconds}`);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const report = startReport("./medrec run bench:anchor", root);

const system = await startSystem({
  periodSeconds: 1,
  gatekeeperPort: 0,
  corsOrigins: [],
  log: () => undefined,
  logger: pino({ level: "error" }),
});
try {
  const manifest = parseManifest(system.manifest);
  const anchor = manifest.contracts.AuditAnchor as Hex;
  const client = createPublicClient({ transport: http(manifest.rpcUrl) });
  const fromBlock = (await client.getBlockNumber()) + 1n;
  const began = Date.now();
  let rounds = 0;
  const failures: string[] = [];
  while (Date.now() - began < windowSeconds * 1000) {
    const results = await checkNetwork(manifest);
    failures.push(...results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail ?? ""}`));
    rounds++;
    await new Promise((r) => setTimeout(r, 5_000));
  }
  const toBlock = await client.getBlockNumber();
  const minutes = (Date.now() - began) / 60_000;
  const events = await client.getContractEvents({
    address: anchor,
    abi: auditAnchorAbi,
    eventName: "TreeHeadAnchored",
    fromBlock,
    toBlock,
  });
  const gasOf = new Map<string, bigint>();
  for (const e of events)
    if (!gasOf.has(e.transactionHash))
      gasOf.set(e.transactionHash, (await client.getTransactionReceipt({ hash: e.transactionHash })).gasUsed);
  const logs = [...new Set(events.map((e) => e.args.log?.toLowerCase()))];
  const byLog = [];
  for (const log of logs) {
    const provider = await client.readContract({
      address: anchor,
      abi: auditAnchorAbi,
      functionName: "providerOf",
      args: [log as Hex],
    });
    const mine = events.filter((e) => e.args.log?.toLowerCase() === log);
    const gas = mine.reduce((sum, e) => sum + (gasOf.get(e.transactionHash) ?? 0n), 0n);
    byLog.push({
      provider:
        manifest.providers.find((x) => x.account.toLowerCase() === provider.toLowerCase())?.name ?? provider,
      log,
      anchors: mine.length,
      anchorsPerMinute: Number((mine.length / minutes).toFixed(2)),
      gasPerAnchor: mine.length ? Number(gas / BigInt(mine.length)) : 0,
      gasPerAnchorSummary: summarize(
        mine.map((e) => Number(gasOf.get(e.transactionHash) ?? 0n)),
        0,
      ),
      gasPerMinute: Math.round(Number(gas) / minutes),
      largestTree: Math.max(0, ...mine.map((e) => Number(e.args.size ?? 0))),
    });
  }
  const written = report.write(path.join(root, "reports", "anchor.json"), {
    /** One window; what was measured in it is per log below (gasPerAnchorSummary: n = anchors). */
    runs: 1,
    windowSeconds,
    blocks: Number(toBlock - fromBlock + 1n),
    checkRounds: rounds,
    checkFailures: failures,
    logs: byLog,
    totalGasPerMinute: byLog.reduce((sum, x) => sum + x.gasPerMinute, 0),
  });
  console.log(JSON.stringify(written, null, 2));
} finally {
  await system.stop();
}
