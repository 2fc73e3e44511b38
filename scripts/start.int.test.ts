import assert from "node:assert/strict";
import { once } from "node:events";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { generatePatientBundle } from "@medrec/database-manager";
import { freePorts, readManifest } from "@medrec/protocol/node";
import { eventually } from "@medrec/testkit";
import { checkNetwork } from "./check.ts";
import { linkageReport, onboardPatients } from "./linkage.ts";
import { healthy, msUntil, msUntilNothingLeft, pidWithEnv, runDir, start } from "./supervisor.support.ts";

/** Nothing of a run is left: no file under its temp dir, no process of it (supervisor.support.ts). */
async function assertNothingLeft(tmp: string) {
  await msUntilNothingLeft(tmp);
  assert.deepEqual(await readdir(tmp), [], "the run's data directories are removed");
}

/**
 * Kills one supervised child with SIGKILL and measures how long until it serves again, while
 * `others` are polled throughout: every one of their answers must be 200.
 */
async function killAndRecover(
  t: { diagnostic(message: string): void },
  what: string,
  pid: number,
  back: () => Promise<boolean>,
  others: string[],
): Promise<number> {
  let watching = true;
  const misses: string[] = [];
  const watched = (async () => {
    let rounds = 0;
    while (watching || rounds === 0) {
      rounds++;
      for (const url of others) if (!(await healthy(url))) misses.push(url);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return rounds;
  })();
  process.kill(pid, "SIGKILL");
  const ms = await msUntil(`${what} serves again`, back, 10_000).finally(() => {
    watching = false;
  });
  const rounds = await watched;
  t.diagnostic(
    `kill -9 of the ${what}: serving again after ${(ms / 1000).toFixed(2)} s; the others answered /healthz ${rounds} times meanwhile`,
  );
  assert.deepEqual(misses, [], "the other components kept answering throughout");
  return ms;
}

describe("./medrec start", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "medrec-start-test-"));
  await chmod(dir, 0o755);
  after(() => rm(dir, { recursive: true, force: true }));

  it("behavior: three providers' whole stacks pass the black-box check, relaying leaves no funding graph, and Ctrl-C leaves nothing", async (t) => {
    const tmp = await runDir(dir, "run");
    const manifestFile = path.join(dir, "network.json");
    const { child, output } = start(
      { MEDREC_MANIFEST: manifestFile, MEDREC_GATEKEEPER_PORT: "0", MEDREC_DAPP_PORT: "0" },
      tmp,
    );
    try {
      await eventually("the ready line", () => /Press Ctrl-C to stop\.|start failed/.test(output()), {
        timeoutMs: 300_000,
        intervalMs: 250,
      });
      assert.match(output(), /Press Ctrl-C to stop\./, output());
      assert.match(output(), /Ready in \d+\.\d s; \d+ processes use \d+ MiB resident memory\./);
      const manifest = await readManifest(manifestFile);
      assert.equal(manifest.providers.length, 3);
      assert.deepEqual(
        manifest.providers.map((x) => x.name),
        ["Riverside General", "Lakeside Clinic", "Hilltop Medical"],
      );
      const demo = manifest.demo as Record<string, unknown> | undefined;
      assert.ok(demo);
      assert.match(String(demo.note), /demo/i, "demo secrets say they are demo-only");
      assert.equal((demo.staff as unknown[]).length, 3, "one demo staff key per provider");
      for (const secret of [manifest.demo?.patientMnemonic, demo.viewerMnemonic])
        assert.ok(!output().includes(String(secret)), "no mnemonic is printed");
      // The patient dapp: in the manifest, printed, and its configuration holds no demo secret.
      const dappUrl = String(manifest.demo?.dappUrl);
      assert.match(dappUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(output().includes(`patient dapp   ${dappUrl}`), "start prints the dapp's URL");
      assert.match(await (await fetch(dappUrl)).text(), /<div id="root">/);
      const served = await (await fetch(`${dappUrl}/config.json`)).text();
      assert.equal(JSON.parse(served).providers.length, 3);
      for (const secret of [manifest.demo?.patientMnemonic, demo.viewerMnemonic])
        assert.ok(!served.includes(String(secret)), "the dapp's configuration holds no mnemonic");
      for (const provider of manifest.providers) {
        assert.match(provider.gatekeeperUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.match(provider.rpcUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
      }

      const results = await checkNetwork(manifest);
      const failures = results.filter((r) => !r.ok);
      assert.deepEqual(
        failures,
        [],
        results.map((r) => `${r.ok ? "ok" : "FAIL"} ${r.name} ${r.detail ?? ""}`).join("\n"),
      );
      // Every provider got every check (6 each, 7 with a family grant), plus the RPC probes.
      assert.ok(results.length >= 3 * 6 + 3, `${results.length} checks ran`);

      // Linkage: 12 more patients over the three providers, all through relays, then what the chain shows.
      const patients = await onboardPatients(manifest, {
        count: 12,
        records: (i) => generatePatientBundle({ seed: 11, index: i }),
      });
      const report = await linkageReport(manifest, patients);
      t.diagnostic(`linkage: ${JSON.stringify(report)}`);
      assert.deepEqual(report.selfSenders, [], "no patient or delegate ever sent a transaction itself");
      assert.deepEqual(report.funded, [], "no patient or delegate ever received value");
      // Clustering relationships by the relayer that created them must not recover their provider
      // (1 = exactly; an even split over the other two relays ≈ 0.08).
      assert.ok(
        report.ariByCreationSender <= 0.35,
        `clustering by creation sender recovers the providers: adjusted Rand index ${report.ariByCreationSender.toFixed(3)}`,
      );
      for (const provider of manifest.providers) {
        const relayer = String((provider as { relayer?: unknown }).relayer).toLowerCase();
        const senders = report.sendersByProvider[provider.name] ?? [];
        assert.ok(senders.length > 0, `${provider.name} has relationships`);
        assert.ok(
          senders.some((s) => s !== relayer),
          `${provider.name}'s relationships are not sent by its own relayer alone`,
        );
      }

      // Supervision: kill -9 of one gatekeeper — the other two answer throughout, it is back within
      // 10 s and serves the demo patient's records verified against the chain; then the dapp.
      const [riverside, lakeside, hilltop] = manifest.providers;
      assert.ok(riverside && lakeside && hilltop);
      const gatekeeperPid = await pidWithEnv(tmp, `PROVIDER_NAME=${lakeside.name}`, "cli.ts");
      const others = [riverside.gatekeeperUrl, hilltop.gatekeeperUrl];
      await killAndRecover(
        t,
        `gatekeeper of ${lakeside.name}`,
        gatekeeperPid,
        () => healthy(lakeside.gatekeeperUrl),
        others,
      );
      assert.match(
        output(),
        new RegExp(
          `\\[supervisor\\] gatekeeper of ${lakeside.name} exited \\(signal SIGKILL\\); restarting in 0\\.5 s`,
        ),
      );
      const again = await checkNetwork({ ...manifest, providers: [lakeside] });
      const mine = again.filter((r) => r.name.startsWith(`${lakeside.name}:`));
      assert.ok(mine.length >= 5, `${mine.length} checks of ${lakeside.name}`);
      assert.deepEqual(
        mine.filter((r) => !r.ok),
        [],
        mine.map((r) => `${r.ok ? "ok" : "FAIL"} ${r.name} ${r.detail ?? ""}`).join("\n"),
      );
      const dappPid = await pidWithEnv(tmp, `TMPDIR=${tmp}`, "serve.ts");
      await killAndRecover(
        t,
        "patient dapp",
        dappPid,
        async () => (await fetch(`${dappUrl}/config.json`)).status === 200,
        [riverside.gatekeeperUrl, lakeside.gatekeeperUrl, hilltop.gatekeeperUrl],
      );
      assert.match(output(), /\[supervisor\] patient dapp exited \(signal SIGKILL\); restarting in 0\.5 s/);
    } finally {
      child.kill("SIGINT");
    }
    const [code] = await once(child, "exit");
    assert.equal(code, 0, output());
    await assertNothingLeft(tmp);
  });

  it("error: when one gatekeeper cannot start, start fails as a whole, names it, and leaves nothing", async () => {
    const tmp = await runDir(dir, "busy");
    // The second provider's port is taken.
    const [first] = await freePorts(1);
    assert.ok(first !== undefined);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(first + 1, "127.0.0.1", resolve));
    try {
      const { child, output } = start(
        {
          MEDREC_MANIFEST: path.join(dir, "busy.json"),
          MEDREC_GATEKEEPER_PORT: String(first),
          MEDREC_DAPP_PORT: "0",
        },
        tmp,
      );
      const [code] = await once(child, "exit");
      assert.equal(code, 1, output());
      assert.match(
        output(),
        /medrec start failed: gatekeeper of Lakeside Clinic on http:\/\/127\.0\.0\.1:\d+: port \d+ is in use/,
      );
      await assertNothingLeft(tmp);
    } finally {
      blocker.close();
    }
  });

  it("error: a bad MEDREC_PERIOD_SECONDS is refused with a clear message", async () => {
    const tmp = await runDir(dir, "bad");
    const { child, output } = start(
      { MEDREC_PERIOD_SECONDS: "0.5", MEDREC_MANIFEST: path.join(dir, "bad.json"), MEDREC_DAPP_PORT: "0" },
      tmp,
    );
    const [code] = await once(child, "exit");
    assert.equal(code, 1);
    assert.match(output(), /MEDREC_PERIOD_SECONDS must be an integer from 1 to 60, got "0\.5"/);
    await assertNothingLeft(tmp);
  });
});
