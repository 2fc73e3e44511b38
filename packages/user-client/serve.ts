/**
 * The dapp's container entry point (packages/user-client/Dockerfile, docker-compose.yml service
 * `dapp`): serves the built `dist/` with `startDappServer`, and `/config.json` made by
 * `publicConfig` from the manifest mounted at `MEDREC_MANIFEST` — only its public fields leave,
 * whatever else the file holds. A manifest that cannot be read or lacks the fields stops the start.
 * Environment: MEDREC_MANIFEST (default /config/network.json), HOST (0.0.0.0), PORT (7100).
 *
 * Under a supervisor (`./medrec start`, scripts/supervisor.ts: started with an IPC channel) the
 * manifest comes as a `{ type: "manifest", manifest }` message instead — the server starts before
 * the network it describes, and `/config.json` answers 503 until then — it says `{ type: "ready",
 * url }` once it listens, and it stops when the channel closes, however its supervisor ended.
 */
import { readFileSync } from "node:fs";
import { DIST_DIR, type PublicConfig, publicConfig, startDappServer } from "./server.ts";

type Manifest = Parameters<typeof publicConfig>[0];

function checked(manifest: Manifest, from: string): PublicConfig {
  if (typeof manifest.chainId !== "number" || !manifest.contracts || !Array.isArray(manifest.providers))
    throw new Error(`${from}: not a MedRec network manifest (chainId, contracts, providers)`);
  return publicConfig(manifest);
}

const supervised = typeof process.send === "function";
let config: PublicConfig | undefined;
if (supervised) {
  process.on("message", (message: { type?: string; manifest?: Manifest }) => {
    if (message?.type === "manifest" && message.manifest)
      config = checked(message.manifest, "the supervisor");
  });
} else {
  const manifestPath = process.env.MEDREC_MANIFEST ?? "/config/network.json";
  config = checked(JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest, manifestPath);
}

const server = await startDappServer({
  host: process.env.HOST ?? "0.0.0.0",
  port: Number(process.env.PORT ?? 7100),
  dist: process.env.MEDREC_DAPP_DIST ?? DIST_DIR,
  getConfig: () => config,
}).catch((error: Error & { code?: string }) => {
  process.send?.({ type: "failed", message: error.message, ...(error.code ? { code: error.code } : {}) });
  throw error;
});
const stop = () => void server.close().then(() => process.exit(0));
if (supervised) {
  process.send?.({ type: "ready", url: server.url });
  process.once("disconnect", stop);
} else
  console.log(
    `MedRec dapp on ${server.url} (${config?.providers.length} providers, chain ${config?.chainId})`,
  );
for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, stop);
