/**
 * The chain part, wired: `createChain(...)` → view (permissions), writer (relationships, roots),
 * sponsor (gas), HTTP modules, health, start/stop. The integrator calls it from gatekeeper.ts.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import type { AppModule } from "../app.ts";
import { ProblemError } from "../errors.ts";
import type { HealthCheck } from "../ops/health.ts";
import type { Guards, RecordsService } from "../seams.ts";
import { sponsorshipModule } from "../sponsorship/sponsorship.routes.ts";
import { createSponsor, type Sponsor } from "../sponsorship/sponsorship.service.ts";
import { type ChainClient, connectChain, DelegateKeys } from "./client.ts";
import { type ChainConfig, ChainConfigError, type ChainSettings, resolveChainSettings } from "./config.ts";
import { createChainView, type LiveChainView } from "./view.ts";
import { createChainWriter, type LiveChainWriter } from "./writer.ts";

export { type ChainConfig, ChainConfigError, chainConfigSchema, resolveChainSettings } from "./config.ts";
export { relationshipIdOf } from "./writer.ts";

/** How often a root publication that failed for want of the node is tried again. */
const PUBLISH_RETRY_MS = 2_000;

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
  /** The HTTP modules, once the auth part's guards exist (`POST /v1/patients` is the patients part's). */
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
  // A publication the node could not take (down, behind, too many races) is retried every
  // PUBLISH_RETRY_MS until it lands: the on-chain root must not stay behind the served one once
  // the node is back (a restart's reconcile is the last resort, not the only one).
  const retrying = new Set<number>();
  let retryTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const publish = (patientId: number) => {
    writer.publishRoot(patientId).then(
      () => retrying.delete(patientId),
      (error: unknown) => {
        const transient = !(error instanceof ProblemError) || error.kind === "unavailable";
        log.warn(
          { err: (error as Error).name, patientId },
          transient ? "root publication failed; retrying" : "root publication failed; will retry on restart",
        );
        if (!transient || stopping) return;
        retrying.add(patientId);
        retryTimer ??= setTimeout(() => {
          retryTimer = undefined;
          const due = [...retrying];
          retrying.clear();
          for (const id of due) publish(id);
        }, PUBLISH_RETRY_MS);
      },
    );
  };
  const unsubscribe = records.onChange(publish);
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
    modules: (guards) => [sponsorshipModule({ sponsor, guards })],
    async stop() {
      unsubscribe();
      stopping = true;
      clearTimeout(retryTimer);
      await reconciling;
      await writer.idle();
      await view.stop();
    },
  };
}
