/**
 * The chain part, wired: `createChain(...)` → view (permissions), writer (relationships, roots),
 * sponsor (gas), HTTP modules, health, start/stop. The integrator calls it from gatekeeper.ts.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import type { AppModule } from "../app.ts";
import type { HealthCheck } from "../ops/health.ts";
import { patientsModule } from "../patients/patients.routes.ts";
import type { Guards, RecordsService } from "../seams.ts";
import { sponsorshipModule } from "../sponsorship/sponsorship.routes.ts";
import { createSponsor, type Sponsor } from "../sponsorship/sponsorship.service.ts";
import { type ChainClient, connectChain, DelegateKeys } from "./client.ts";
import { type ChainConfig, ChainConfigError, type ChainSettings, resolveChainSettings } from "./config.ts";
import { createChainView, type LiveChainView } from "./view.ts";
import { createChainWriter, type LiveChainWriter } from "./writer.ts";

export { type ChainConfig, ChainConfigError, chainConfigSchema, resolveChainSettings } from "./config.ts";
export { relationshipIdOf } from "./writer.ts";

export type CreateChainParameters = {
  /** The validated configuration (config.ts merged with `chainConfigSchema`); unused when `settings` is given. */
  config?: ChainConfig & { PUBLIC_URL: string };
  db: Knex;
  logger: Logger;
  /** Records part: roots to publish, and change notifications to publish on. */
  records: Pick<RecordsService, "recordSet" | "onChange">;
  /** Explicit settings (tests); default: resolved from `config` and the manifest. */
  settings?: ChainSettings;
};

export type Chain = {
  client: ChainClient;
  settings: ChainSettings;
  view: LiveChainView;
  writer: LiveChainWriter;
  sponsor: Sponsor;
  health: HealthCheck;
  /** The HTTP modules, once the auth part's guards exist. */
  modules(guards: Guards): AppModule[];
  /** Stops polling and the records subscription; waits for publications in flight. */
  stop(): Promise<void>;
};

/**
 * Connects to the node, bootstraps the permission view from the deployment block, subscribes to
 * record changes (each publishes the new root) and, in the background, finishes registrations and
 * publications a crash interrupted. The view refuses reads (503) until it is current.
 *
 * @throws {ChainConfigError} incomplete settings, wrong chain id or contract addresses.
 */
export async function createChain({
  config,
  db,
  logger,
  records,
  settings: given,
}: CreateChainParameters): Promise<Chain> {
  if (!given && !config) throw new ChainConfigError("createChain needs `config` or `settings`.");
  const settings = given ?? (await resolveChainSettings(config as ChainConfig & { PUBLIC_URL: string }));
  const client = await connectChain(settings);
  const view = createChainView({ client, settings, db, logger });
  const sponsor = createSponsor({ client, settings, db, logger });
  const writer = createChainWriter({
    client,
    settings,
    db,
    logger,
    delegates: new DelegateKeys(settings.delegateMnemonic),
    sponsor,
    view,
    rootOf: async (patientId: number): Promise<Hex> => (await records.recordSet(patientId)).root,
  });
  await view.start();
  const log = logger.child({ component: "chain" });
  const unsubscribe = records.onChange((patientId) => {
    writer
      .publishRoot(patientId)
      .catch((error: unknown) =>
        log.warn({ err: (error as Error).name, patientId }, "root publication failed; will retry on restart"),
      );
  });
  const reconciling = writer
    .reconcile()
    .catch((error: unknown) => log.warn({ err: (error as Error).name }, "reconcile failed"));
  return {
    client,
    settings,
    view,
    writer,
    sponsor,
    health: view.health(),
    modules: (guards) => [
      patientsModule({ chainWriter: writer, guards }),
      sponsorshipModule({ sponsor, guards }),
    ],
    async stop() {
      unsubscribe();
      await reconciling;
      await writer.idle();
      await view.stop();
    },
  };
}
