/**
 * The chain part, wired: `createChain(...)` → view (permissions), relay (POST /v1/relay, paid by
 * the relayer), writer (relationships, roots: signed by delegates, relayed by other providers),
 * HTTP modules, health, start/stop. The integrator calls it from gatekeeper.ts.
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import { type Address, type Hex, isAddressEqual, parseAbi } from "viem";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";
import type { AppModule } from "../app.ts";
import { ProblemError } from "../errors.ts";
import type { HealthCheck } from "../ops/health.ts";
import { createMetrics, type Metrics, registerRelayerBalance } from "../ops/metrics.ts";
import { createRelaySubmitter, type RelaySubmitter } from "../relay/peers.ts";
import { relayModule } from "../relay/relay.routes.ts";
import { createRelayService, type RelayService } from "../relay/relay.service.ts";
import type { Guards, RecordsService } from "../seams.ts";
import { retiredSponsorModule } from "../sponsorship/sponsorship.routes.ts";
import { type ChainClient, connectChain, DelegateKeys } from "./client.ts";
import { type ChainConfig, ChainConfigError, type ChainSettings, resolveChainSettings } from "./config.ts";
import { createChainView, type LiveChainView } from "./view.ts";
import { createChainWriter, type LiveChainWriter } from "./writer.ts";

export { type ChainConfig, ChainConfigError, chainConfigSchema, resolveChainSettings } from "./config.ts";
export { relationshipIdOf } from "./writer.ts";

/** How often a root publication that failed for want of the node (or of a relay) is tried again. */
const PUBLISH_RETRY_MS = 2_000;
/** Delegate indexes checked at start against the relayer's and the log's accounts (later ones when derived). */
const DELEGATES_CHECKED_AT_START = 64;
const trustAbi = parseAbi(["function isTrustedForwarder(address forwarder) view returns (bool)"]);

export type CreateChainParameters = {
  /** The validated configuration (config.ts merged with `chainConfigSchema`); unused when `settings` is given. */
  config?: ChainConfig & { PUBLIC_URL: string };
  db: Knex;
  logger: Logger;
  /** Records part: roots to publish, and change notifications to publish on. */
  records: Pick<RecordsService, "recordSet" | "onChange">;
  /** Explicit settings (tests); default: resolved from `config` and the manifest. */
  settings?: ChainSettings;
  /** The gatekeeper's metrics (relay counters, the relayer's balance gauge). Default: a private registry. */
  metrics?: Metrics;
  /** The audit log account (AUDIT_ANCHOR_PRIVATE_KEY's), which no delegate and not the relayer may be. */
  auditLogAccount?: Address | undefined;
  /**
   * Signs the provider details sealed to each patient it links (adr/0015): the audit log account,
   * which `AuditAnchor.logOf` binds to this provider. Without it the details are unsigned and the
   * patient's dapp sets the relationship apart as not from a registered provider.
   */
  detailsSigner?: LocalAccount | undefined;
  /** Calls to other providers' relays (tests). */
  fetch?: typeof globalThis.fetch;
};

export type Chain = {
  client: ChainClient;
  settings: ChainSettings;
  view: LiveChainView;
  writer: LiveChainWriter;
  /** This gatekeeper's relay (POST /v1/relay). */
  relay: RelayService;
  /** Where this provider's own (delegates') requests go: other providers' relays. */
  submitter: RelaySubmitter;
  health: HealthCheck;
  /** `degraded`-only checks: the relayer's balance, other providers' relays. */
  relayHealth: HealthCheck[];
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
  metrics = createMetrics(),
  auditLogAccount,
  detailsSigner,
  fetch,
}: CreateChainParameters): Promise<Chain> {
  if (!given && !config) throw new ChainConfigError("createChain needs `config` or `settings`.");
  const resolved = given ?? (await resolveChainSettings(config as ChainConfig & { PUBLIC_URL: string }));
  const relayer = privateKeyToAccount(resolved.relayerPrivateKey).address;
  if (isAddressEqual(relayer, resolved.provider.account))
    throw new ChainConfigError("RELAYER_PRIVATE_KEY must not be the provider's (sealer's) key.");
  if (auditLogAccount && isAddressEqual(relayer, auditLogAccount))
    throw new ChainConfigError(
      "RELAYER_PRIVATE_KEY must not be the audit log's key (AUDIT_ANCHOR_PRIVATE_KEY).",
    );
  const delegates = new DelegateKeys(resolved.delegateMnemonic, {
    forbidden: [relayer, ...(auditLogAccount ? [auditLogAccount] : [])],
  });
  for (let i = 0; i < DELEGATES_CHECKED_AT_START; i++) delegates.account(i);
  const client = await connectChain(resolved);
  const settings: ChainSettings = { ...resolved, forwarder: client.forwarder };
  for (const [name, address] of [
    ["Agent", client.agent],
    ["Relationship", client.relationship],
  ] as const) {
    const trusted = await client.publicClient
      .readContract({
        address,
        abi: trustAbi,
        functionName: "isTrustedForwarder",
        args: [settings.forwarder],
      })
      .catch(() => false);
    if (!trusted)
      throw new ChainConfigError(
        `FORWARDER_ADDRESS is not the forwarder ${name} trusts: relayed requests would execute as the forwarder.`,
      );
  }
  const view = createChainView({ client, settings, db, logger });
  const relay = createRelayService({ client, settings, db, logger });
  registerRelayerBalance(metrics, relay.balance);
  const submitter = createRelaySubmitter({
    client,
    settings,
    own: relay,
    logger,
    metrics,
    ...(fetch ? { fetch } : {}),
  });
  const writer = createChainWriter({
    client,
    settings,
    db,
    logger,
    delegates,
    relay: submitter,
    view,
    rootOf: async (patientId: number): Promise<Hex> => (await records.recordSet(patientId)).root,
    ...(detailsSigner ? { detailsSigner } : {}),
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
    relay,
    submitter,
    health: view.health(),
    relayHealth: [relay.health, submitter.health],
    modules: (_guards: Guards) => [
      relayModule({ relay, ratePerMinute: settings.relay.ratePerMinute, metrics }),
      retiredSponsorModule(),
    ],
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
