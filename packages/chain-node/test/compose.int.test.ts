/**
 * docker-compose.yml, checked without a container engine: `docker-compose config` validates it,
 * its geth flags are the native launcher's (`toArgs()` of `providerParameters()`), and no geth
 * service both serves HTTP/WS and holds a key. scripts/test.ts installs docker-compose when missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import {
  initNetwork,
  type NetworkState,
  providerParameters,
  type ResolvedGethNodeParameters,
  toArgs,
} from "../src/index.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const COMPOSE = join(ROOT, "docker-compose.yml");

type Service = {
  image?: string;
  command?: string[];
  ports?: string[];
  volumes?: string[];
  secrets?: string[];
  environment?: Record<string, string>;
  networks?: Record<string, { ipv4_address?: string }> | string[];
  build?: { context: string; dockerfile: string };
};
type Compose = {
  services: Record<string, Service>;
  networks: Record<string, { ipam?: { config?: { subnet: string }[] } }>;
};

// `merge`: the file uses YAML merge keys (`<<: *geth`), as docker-compose does.
const compose = parse(await readFile(COMPOSE, "utf8"), { merge: true }) as Compose;
const isGeth = (s: Service) => s.image?.startsWith("ethereum/client-go:") && s.command?.[0] !== "init";
const gethServices = Object.entries(compose.services).filter(([, s]) => isGeth(s));
const byFlag = (name: string) => gethServices.filter(([, s]) => s.command?.includes(name));

/**
 * A geth command line as flag → value (null for a bare flag). Accepts both `--flag value` (the
 * launcher's) and `--flag=value` (the compose file's). A repeated flag is an error.
 */
function flagMap(args: readonly string[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    assert.ok(arg.startsWith("--"), `not a flag: ${arg}`);
    const eq = arg.indexOf("=");
    let name = arg;
    let value: string | null = null;
    if (eq > 0) {
      name = arg.slice(0, eq);
      value = arg.slice(eq + 1);
    } else if (i + 1 < args.length && !(args[i + 1] as string).startsWith("--")) {
      value = args[++i] as string;
    }
    assert.ok(!out.has(name), `${name} given twice`);
    out.set(name, value);
  }
  return out;
}

/**
 * Flags whose VALUE is the deployment's own (paths in the container, ports, the chain id and
 * sealer address from the environment, interfaces). Every flag must still be present on both sides,
 * and every other value must be identical.
 */
const DEPLOYMENT_VALUES = new Set([
  "--datadir",
  "--config",
  "--nodekey",
  "--ipcpath",
  "--keystore",
  "--password",
  "--networkid",
  "--miner.etherbase",
  "--unlock",
  "--miner.gaslimit",
  "--authrpc.port",
  "--http.port",
  "--ws.port",
  // Inside its container the RPC node listens on the container's interface so the gatekeeper and
  // daemon can reach it; the host publishes it on 127.0.0.1 only (checked below).
  "--http.addr",
  "--ws.addr",
  // The launcher's list plus the service name the other containers use (checked below).
  "--http.vhosts",
]);

let dir: string;
let state: NetworkState;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "medrec-compose-"));
  ({ state } = await initNetwork({ dataDir: join(dir, "net"), sealers: 2, scrypt: "light" }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The launcher's geth command lines for one provider of a real (initialised, not started) network. */
function launcherArgs(): { sealer: string[]; rpc: string[] } {
  const node = state.nodes[0];
  assert.ok(node);
  const p = providerParameters(state, node);
  const resolve = (q: typeof p.sealer, ports: ResolvedGethNodeParameters["ports"]) =>
    toArgs({ ...q, ports, ipcPath: q.ipcPath as string });
  return { sealer: resolve(p.sealer, node.ports), rpc: resolve(p.rpc, node.rpc.ports) };
}

describe("docker-compose.yml", () => {
  test("default: `docker-compose config` accepts it with its inputs present", async () => {
    const version = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
    assert.equal(
      version.error,
      undefined,
      "docker-compose is not installed (`./medrec test` installs the Debian package; or apt-get install -y docker-compose)",
    );
    const inputs = join(dir, "compose");
    await mkdir(join(inputs, "keystore"), { recursive: true });
    await mkdir(join(inputs, "tls"), { recursive: true });
    for (const f of [
      "genesis.json",
      "sealer-password",
      "sealer.nodekey",
      "sealer.toml",
      "rpc.nodekey",
      "rpc.toml",
      "postgres-password",
      "gatekeeper.env",
      "network.json",
    ])
      await writeFile(join(inputs, f), "");
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      MEDREC_COMPOSE_DIR: inputs,
      SEALER_ADDRESS: "0x1111111111111111111111111111111111111111",
      AGENT_REGISTRY: "0x2222222222222222222222222222222222222222",
      MEDREC_PUBLIC_HOST: "records.example.org",
      MEDREC_DAPP_HOST: "app.records.example.org",
    };
    const ok = spawnSync("docker-compose", ["-f", COMPOSE, "config"], { encoding: "utf8", env });
    assert.equal(ok.status, 0, ok.stderr);
    const resolved = parse(ok.stdout) as Compose;
    assert.deepEqual(Object.keys(resolved.services).sort(), [
      "dapp",
      "gatekeeper",
      "governance",
      "postgres",
      "proxy",
      "rpc",
      "rpc-init",
      "sealer",
      "sealer-init",
    ]);
    assert.ok(
      resolved.services.sealer?.command?.includes("--unlock=0x1111111111111111111111111111111111111111"),
    );

    // Required inputs are enforced: without SEALER_ADDRESS (or the dapp's host) the file does not resolve.
    for (const name of ["SEALER_ADDRESS", "MEDREC_DAPP_HOST"] as const) {
      const missing: Record<string, string> = { ...env };
      delete missing[name];
      const bad = spawnSync("docker-compose", ["-f", COMPOSE, "config", "-q"], {
        encoding: "utf8",
        env: missing,
      });
      assert.notEqual(bad.status, 0, name);
      assert.match(bad.stderr, new RegExp(`set ${name}`));
    }
  });

  test("default: the sealer's and the RPC node's geth flags are the native launcher's", () => {
    const ours = launcherArgs();
    const [sealer] = byFlag("--mine");
    const [rpc] = byFlag("--http");
    assert.ok(sealer && rpc, "one sealer (--mine) and one RPC node (--http) service");
    for (const [what, composed, launched] of [
      ["sealer", sealer[1].command ?? [], ours.sealer],
      ["rpc", rpc[1].command ?? [], ours.rpc],
    ] as const) {
      const c = flagMap(composed);
      const l = flagMap(launched);
      assert.deepEqual([...c.keys()].sort(), [...l.keys()].sort(), `${what}: the same flags`);
      for (const [flag, value] of l)
        if (!DEPLOYMENT_VALUES.has(flag)) assert.equal(c.get(flag), value, `${what} ${flag}`);
    }
    const c = flagMap(rpc[1].command ?? []);
    const l = flagMap(ours.rpc);
    assert.equal(l.get("--http.addr"), "127.0.0.1");
    assert.equal(c.get("--http.addr"), "0.0.0.0");
    assert.equal(c.get("--ws.addr"), "0.0.0.0");
    for (const host of (l.get("--http.vhosts") ?? "").split(","))
      assert.ok(c.get("--http.vhosts")?.split(",").includes(host), host);
    // The authrpc (engine API) stays on the container's loopback, as natively.
    for (const [, s] of gethServices)
      assert.equal(flagMap(s.command ?? []).get("--authrpc.addr"), "127.0.0.1");
  });

  test("security: no geth service both serves HTTP/WS and holds a key; the sealer publishes no RPC port", () => {
    assert.equal(gethServices.length, 2);
    for (const [name, s] of gethServices) {
      const flags = flagMap(s.command ?? []);
      const serves = [...flags.keys()].some((f) => /^--(http|ws|graphql)(\.|$)/.test(f));
      const key =
        ["--unlock", "--keystore", "--password", "--mine", "--allow-insecure-unlock"].some((f) =>
          flags.has(f),
        ) ||
        (s.secrets ?? []).length > 0 ||
        (s.volumes ?? []).some((v) => /keystore/i.test(v));
      assert.ok(!(serves && key), `${name} serves RPC and holds a key`);
      assert.ok(!flags.has("--allow-insecure-unlock"), `${name}: --allow-insecure-unlock`);
      if (flags.has("--unlock")) {
        // The sealer: p2p is its only published port.
        assert.deepEqual(s.ports, ["30303:30303"], `${name} ports`);
        assert.equal(flags.get("--authrpc.addr"), "127.0.0.1");
      }
      if (serves) {
        for (const p of s.ports ?? [])
          assert.match(p, /^127\.0\.0\.1:/, `${name} publishes ${p} beyond loopback`);
        assert.equal(flags.get("--http.api"), "eth,net,web3");
        assert.equal(flags.get("--ws.api"), "eth,net,web3");
        assert.ok(!flags.has("--http.corsdomain") && !flags.has("--ws.origins"));
      }
    }
    assert.ok(!JSON.stringify(compose).includes("allow-insecure-unlock"));
  });

  test("behavior: the daemon votes over the sealer's IPC and reads over the RPC node", () => {
    const sealer = compose.services.sealer as Service;
    const daemon = compose.services.governance as Service;
    const ipcPath = flagMap(sealer.command ?? []).get("--ipcpath") as string;
    const ipcDir = ipcPath.slice(0, ipcPath.lastIndexOf("/"));
    const sealerVolume = (sealer.volumes ?? []).find((v) => v.split(":")[1] === ipcDir)?.split(":")[0];
    assert.ok(sealerVolume, "the sealer's IPC directory is a volume");
    const daemonMount = (daemon.volumes ?? []).find((v) => v.startsWith(`${sealerVolume}:`))?.split(":")[1];
    assert.ok(daemon.command?.includes(`--ipc=${daemonMount}/geth.ipc`), "--ipc is the sealer's socket");
    assert.ok(daemon.command?.includes("--rpc=http://rpc:8545"));
    assert.equal(compose.services.gatekeeper?.environment?.CHAIN_RPC_URL, "http://rpc:8545");
  });

  test("security: the dapp is served behind the proxy from its own image, with only the mounted manifest's public fields", async () => {
    const dapp = compose.services.dapp as Service;
    assert.equal(dapp.ports, undefined, "the dapp is not published: only the proxy reaches it");
    assert.equal(dapp.build?.dockerfile, "packages/user-client/Dockerfile");
    assert.deepEqual(dapp.secrets ?? [], [], "the dapp holds no secret");
    assert.equal(dapp.environment?.PORT, "7100");
    // Its configuration is the manifest from the input directory, read-only, where serve.ts reads it.
    const manifest = dapp.volumes?.find((v) => v.endsWith(`:${dapp.environment?.MEDREC_MANIFEST}:ro`));
    assert.match(manifest ?? "", /\/network\.json:/);
    assert.equal(dapp.volumes?.length, 1);
    const ip = (dapp.networks as Record<string, { ipv4_address?: string }>).provider?.ipv4_address ?? "";
    const caddyfile = await readFile(join(ROOT, "deploy/Caddyfile"), "utf8");
    assert.match(
      caddyfile,
      new RegExp(`\\{\\$MEDREC_DAPP_HOST\\} \\{[^}]*reverse_proxy ${ip.replaceAll(".", "\\.")}:7100`),
    );
    // The image: Vite builds the dapp; the entry point serves it and exists; no manifest is baked in.
    const dockerfile = await readFile(join(ROOT, "packages/user-client/Dockerfile"), "utf8");
    assert.match(dockerfile, /^FROM node:24-bookworm-slim AS build$/m);
    assert.match(dockerfile, /pnpm install --frozen-lockfile/);
    assert.match(dockerfile, /pnpm --filter @medrec\/user-client run build/);
    assert.match(dockerfile, /^CMD \["node", "serve\.ts"\]$/m);
    assert.ok(existsSync(join(ROOT, "packages/user-client/serve.ts")));
    assert.doesNotMatch(dockerfile, /^COPY .*(network\.json|\.medrec)/m);
  });

  test("security: only the proxy is published (443), and the gatekeeper trusts exactly the proxy's fixed address", async () => {
    const gatekeeper = compose.services.gatekeeper as Service;
    const proxy = compose.services.proxy as Service;
    assert.equal(gatekeeper.ports, undefined);
    assert.equal(compose.services.postgres?.ports, undefined);
    assert.deepEqual(proxy.ports, ["443:443"]);
    const ip = (s: Service) =>
      (s.networks as Record<string, { ipv4_address?: string }>).provider?.ipv4_address;
    const proxyIp = ip(proxy) as string;
    assert.equal(gatekeeper.environment?.TRUST_PROXY, proxyIp);
    const subnet = compose.networks.provider?.ipam?.config?.[0]?.subnet as string;
    assert.equal(subnet, "172.28.0.0/24");
    assert.ok(proxyIp.startsWith("172.28.0."));
    // The proxy forwards to the gatekeeper's fixed address and port; the image is built here.
    const caddyfile = await readFile(join(ROOT, "deploy/Caddyfile"), "utf8");
    assert.match(caddyfile, new RegExp(`reverse_proxy ${ip(gatekeeper)?.replaceAll(".", "\\.")}:7101`));
    assert.equal(gatekeeper.environment?.PORT, "7101");
    assert.equal(gatekeeper.build?.dockerfile, "packages/database-manager/Dockerfile");
    const dockerfile = await readFile(join(ROOT, "packages/database-manager/Dockerfile"), "utf8");
    assert.match(dockerfile, /^FROM node:24-bookworm-slim$/m);
    assert.match(dockerfile, /pnpm install --frozen-lockfile/);
    const cmd = /^CMD \["node", "([^"]+)"\]$/m.exec(dockerfile)?.[1] as string;
    assert.ok(existsSync(join(ROOT, cmd)), cmd);
    // The PostgreSQL password comes from a secret file, not from the repository.
    assert.equal(compose.services.postgres?.image, "postgres:18");
    assert.equal(
      compose.services.postgres?.environment?.POSTGRES_PASSWORD_FILE,
      "/run/secrets/postgres-password",
    );
  });
});
