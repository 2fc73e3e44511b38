/**
 * The dapp's container entry point (packages/user-client/Dockerfile, docker-compose.yml service
 * `dapp`): serves the built `dist/` with `startDappServer`, and `/config.json` made by
 * `publicConfig` from the manifest mounted at `MEDREC_MANIFEST` — only its public fields leave,
 * whatever else the file holds. A manifest that cannot be read or lacks the fields stops the start.
 * Environment: MEDREC_MANIFEST (default /config/network.json), HOST (0.0.0.0), PORT (7100).
 */
import { readFileSync } from "node:fs";
import { DIST_DIR, publicConfig, startDappServer } from "./server.ts";

const manifestPath = process.env.MEDREC_MANIFEST ?? "/config/network.json";
const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as Parameters<typeof publicConfig>[0];
if (typeof manifest.chainId !== "number" || !manifest.contracts || !Array.isArray(manifest.providers))
  throw new Error(`${manifestPath}: not a MedRec network manifest (chainId, contracts, providers)`);
const config = publicConfig(manifest);

const server = await startDappServer({
  host: process.env.HOST ?? "0.0.0.0",
  port: Number(process.env.PORT ?? 7100),
  dist: process.env.MEDREC_DAPP_DIST ?? DIST_DIR,
  getConfig: () => config,
});
console.log(`MedRec dapp on ${server.url} (${config.providers.length} providers, chain ${config.chainId})`);
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => {
    void server.close().then(() => process.exit(0));
  });
