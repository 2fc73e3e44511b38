/**
 * A network leaves nothing behind — no geth process, no directory under the temp dir — when it is
 * stopped, when its start fails part-way, and when the process that started it ends without
 * stopping it (process.exit, SIGTERM, SIGINT). Each case has its own TMPDIR, which must be empty
 * afterwards. Real geth v1.13.15, one sealer + its RPC node.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { eventually } from "@medrec/testkit";
import { NetworkError, startNetwork, stopNetwork } from "../src/index.ts";
import { tracked } from "../src/reaper.ts";

const CHILD = fileURLToPath(new URL("./support/network-child.ts", import.meta.url));
let root: string;
const originalTmp = process.env.TMPDIR;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "medrec-leftovers-"));
});
after(async () => {
  if (originalTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = originalTmp;
  await rm(root, { recursive: true, force: true });
});

/** A fresh, empty temp dir for one case. */
async function freshTmp(name: string): Promise<string> {
  return mkdtemp(join(root, `${name}-`));
}

/** Pids of the processes whose command line mentions `path` (every geth of a network names its dir). */
async function processesUsing(path: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.includes(path)) out.push(Number(name));
  }
  return out;
}

/** Nothing of a network remains under `tmp`: no file, no process. */
async function assertNothingLeft(tmp: string): Promise<void> {
  await eventually(
    `no geth using ${tmp}`,
    async () => ((await processesUsing(tmp)).length === 0 ? true : undefined),
    { timeoutMs: 20_000 },
  );
  assert.deepEqual(await readdir(tmp), [], `${tmp} is empty`);
}

describe("a network in its own temp directory leaves nothing behind", () => {
  test("default: started and stopped (stopNetwork's default removes the directory it made)", async () => {
    const tmp = await freshTmp("stopped");
    process.env.TMPDIR = tmp;
    const network = await startNetwork({ sealers: 1, periodSeconds: 1, scrypt: "light" });
    assert.ok(network.dir.startsWith(tmp));
    assert.equal(network.temporary, true);
    assert.ok((await processesUsing(network.dir)).length >= 2, "a sealer and an RPC node run");
    assert.ok(tracked().directories.includes(network.dir));
    await stopNetwork(network);
    assert.ok(!tracked().directories.includes(network.dir));
    await assertNothingLeft(tmp);
  });

  test("error: a start that fails after geth started (not ready in time) stops geth and removes the directory", async () => {
    const tmp = await freshTmp("not-ready");
    process.env.TMPDIR = tmp;
    await assert.rejects(
      startNetwork({ sealers: 1, periodSeconds: 1, scrypt: "light", readyTimeoutMs: 1 }),
      NetworkError,
    );
    await assertNothingLeft(tmp);
    assert.deepEqual(tracked(), { processes: [], directories: [] });
  });

  test("error: a start whose geth cannot run (missing binary) removes the directory", async () => {
    const tmp = await freshTmp("no-binary");
    process.env.TMPDIR = tmp;
    await assert.rejects(startNetwork({ sealers: 1, scrypt: "light", binary: join(root, "no-such-geth") }));
    await assertNothingLeft(tmp);
  });
});

describe("the process that started a network ends without stopping it", () => {
  /** Runs the child with its own TMPDIR; resolves with what it printed once its network is up. */
  function child(mode: "exit" | "wait", tmp: string) {
    const proc = spawn(process.execPath, [CHILD, mode], {
      env: { ...process.env, TMPDIR: tmp },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const started = new Promise<{ dir: string; pids: number[] }>((resolve, reject) => {
      let out = "";
      proc.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8");
        const line = out.split("\n")[0];
        if (out.includes("\n") && line) resolve(JSON.parse(line));
      });
      proc.once("exit", () => reject(new Error(`the child ended before its network was up: ${out}`)));
    });
    return { proc, exited, started };
  }

  test("error: process.exit() — geth is stopped and the directory removed", async () => {
    const tmp = await freshTmp("exit");
    const c = child("exit", tmp);
    const { dir, pids } = await c.started;
    assert.ok(dir.startsWith(tmp));
    assert.equal(pids.length, 2);
    assert.deepEqual(await c.exited, { code: 3, signal: null });
    await assertNothingLeft(tmp);
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`error: ${signal} — geth is stopped, the directory removed, and the process still ends by ${signal}`, async () => {
      const tmp = await freshTmp(signal.toLowerCase());
      const c = child("wait", tmp);
      const { dir } = await c.started;
      assert.ok((await processesUsing(dir)).length >= 2);
      c.proc.kill(signal);
      assert.deepEqual(await c.exited, { code: null, signal });
      await assertNothingLeft(tmp);
    });
  }
});
