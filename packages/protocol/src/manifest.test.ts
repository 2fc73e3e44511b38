import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { InvalidManifestError, type NetworkManifestInput, parseManifest } from "./manifest.ts";
import {
  findRepositoryRoot,
  ManifestNotFoundError,
  manifestPath,
  RepositoryRootNotFoundError,
  readManifest,
  writeManifest,
} from "./manifest-file.ts";

const MNEMONIC =
  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

const manifest = (): NetworkManifestInput => ({
  chainId: 633732,
  rpcUrl: "http://127.0.0.1:8545",
  contracts: { AgentRegistry: "0x5fbdb2315678afecb367f032d93f642f64180aa3" },
  providers: [
    {
      name: "Riverside General",
      account: "0x9858effd232b4033e47d90003d41ec34ecaeda94",
      gatekeeperUrl: "http://127.0.0.1:7101",
      rpcUrl: "http://127.0.0.1:8545",
      enode: "enode://…", // extra field
    },
  ],
  demo: {
    patientMnemonic: MNEMONIC,
    patientAddress: "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
    dappUrl: "http://127.0.0.1:5173",
    note: "Local demo secrets only.",
  },
  startedAt: "2025-06-01T12:00:00Z",
});

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "medrec-manifest-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("parseManifest", () => {
  test("default: normalises addresses, keeps extra fields", () => {
    const parsed = parseManifest(manifest());
    assert.equal(parsed.contracts.AgentRegistry, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    assert.equal(parsed.providers[0]?.account, "0x9858EfFD232B4033E47d90003D41EC34EcaEda94");
    assert.equal(parsed.providers[0]?.enode, "enode://…");
    assert.equal(parsed.startedAt, "2025-06-01T12:00:00Z");
    assert.equal(parsed.demo?.note, "Local demo secrets only.");
  });

  test("behavior: demo and extra contracts optional", () => {
    const { demo: _, ...rest } = manifest();
    const parsed = parseManifest({
      ...rest,
      contracts: { AgentRegistry: rest.contracts.AgentRegistry, Relationship: `0x${"ab".repeat(20)}` },
    });
    assert.equal(parsed.demo, undefined);
    assert.equal(parsed.contracts.Relationship, "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB");
  });

  test("error: schema errors name the field", () => {
    // biome-ignore lint/suspicious/noExplicitAny: the cases poke arbitrary JSON paths
    type Json = any;
    const cases: [(m: Json) => void, RegExp][] = [
      [(m) => delete m.chainId, /chainId/],
      [(m) => (m.chainId = "633732"), /chainId/],
      [(m) => (m.chainId = -1), /chainId/],
      [(m) => (m.rpcUrl = "127.0.0.1:8545"), /rpcUrl/],
      [(m) => delete m.contracts.AgentRegistry, /contracts\.AgentRegistry/],
      [(m) => (m.contracts.Agent = "0x12"), /contracts\.Agent/],
      [(m) => (m.providers[0].account = "0xnot"), /providers\.0\.account/],
      [(m) => (m.providers[0].gatekeeperUrl = "ftp://x"), /providers\.0\.gatekeeperUrl/],
      [(m) => delete m.providers[0].name, /providers\.0\.name/],
      [(m) => (m.providers = {}), /providers/],
      [(m) => (m.demo.patientMnemonic = "one two three"), /demo\.patientMnemonic/],
    ];
    for (const [mutate, pattern] of cases) {
      const m: Json = manifest();
      mutate(m);
      assert.throws(
        () => parseManifest(m),
        (error: unknown) => {
          assert.ok(error instanceof InvalidManifestError);
          assert.match(error.message, pattern);
          return true;
        },
      );
    }
    assert.throws(() => parseManifest(null), InvalidManifestError);
  });
});

describe("readManifest / writeManifest", () => {
  test("default: round-trip", async () => {
    const path = join(dir, "round", ".medrec", "network.json");
    const written = await writeManifest(path, manifest());
    const read = await readManifest(path);
    assert.deepEqual(read, written);
    assert.deepEqual(read, parseManifest(manifest()));
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, "round", ".medrec")), ["network.json"]);
    assert.ok((await readFile(path, "utf8")).endsWith("}\n"));
  });

  test("behavior: overwrites atomically and keeps 0600", async () => {
    const path = join(dir, "over", "network.json");
    await mkdir(join(dir, "over"));
    await writeFile(path, "{}", { mode: 0o644 });
    await writeManifest(path, { ...manifest(), chainId: 5 });
    assert.equal((await readManifest(path)).chainId, 5);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(join(dir, "over")), ["network.json"]);
  });

  test("error: missing file", async () => {
    await assert.rejects(readManifest(join(dir, "nope.json")), ManifestNotFoundError);
  });

  test("error: not JSON or wrong schema", async () => {
    const path = join(dir, "bad.json");
    await writeFile(path, "{ not json");
    await assert.rejects(readManifest(path), /Invalid network manifest at .*bad\.json[\s\S]*not valid JSON/);
    await writeFile(path, JSON.stringify({ ...manifest(), chainId: 0 }));
    await assert.rejects(readManifest(path), /chainId/);
  });

  test("error: invalid manifest is not written", async () => {
    const path = join(dir, "never", "network.json");
    await assert.rejects(writeManifest(path, { ...manifest(), rpcUrl: "nope" }), InvalidManifestError);
    await assert.rejects(stat(path));
  });
});

describe("manifestPath", () => {
  test("default: .medrec/network.json at the repository root", async () => {
    const root = join(dir, "repo");
    await mkdir(join(root, "packages", "x"), { recursive: true });
    await writeFile(join(root, "pnpm-workspace.yaml"), "packages: []\n");
    assert.equal(
      manifestPath({ cwd: join(root, "packages", "x"), env: {} }),
      join(root, ".medrec", "network.json"),
    );
    assert.equal(findRepositoryRoot(join(root, "packages")), root);
    assert.equal(manifestPath({ root: "/srv/medrec", env: {} }), "/srv/medrec/.medrec/network.json");
  });

  test("behavior: MEDREC_MANIFEST wins, relative to cwd", () => {
    assert.equal(manifestPath({ cwd: "/a/b", env: { MEDREC_MANIFEST: "n.json" } }), "/a/b/n.json");
    assert.equal(manifestPath({ root: "/r", env: { MEDREC_MANIFEST: "/abs/n.json" } }), "/abs/n.json");
  });

  test("error: no repository root", () => {
    assert.throws(() => manifestPath({ cwd: "/", env: {} }), RepositoryRootNotFoundError);
  });
});
