/**
 * Where this provider's own forward requests go (relationship creation and root publication,
 * signed by the per-relationship delegates): another provider's relay, so that no relayer — and no
 * funder — groups one provider's relationships (adr/0006). Requests of one kind (target contract
 * and function) take the other relays in turn from a random start, so each relay sends an equal
 * share of this provider's creations and of its publications: clustering relationships by sender
 * then learns no more than "not this provider" (an independent random pick per request leaves
 * chance imbalances that a small sample shows; start.int.test asserts the adjusted Rand index).
 *
 * - The other providers' gatekeeper URLs come from AgentRegistry (`signers()`, `provider(a)`),
 *   cached for RELAY_PEERS_REFRESH_MS; this provider's own account and URL are left out.
 * - A request carries its dependency (`notBeforeBlock`: the block this gatekeeper's node built it
 *   on), so a relay whose node is behind waits for that block instead of refusing; the submission
 *   then may take RELAY_PEER_TIMEOUT_MS plus the relay's wait bound.
 * - A relay that does not answer (network, timeout, 429, 5xx, no such route) or whose node is too
 *   far behind (`dependency-too-far`) is skipped for a growing while (1 s, 2 s, … 15 s) and the
 *   next one in turn is tried. A refusal of the request itself (bad nonce, the call reverts, …) is
 *   the answer: another relay would refuse it too.
 * - With RELAY_MEMBER_KEY set, every request carries a member voucher (adr/0013 "Member
 *   vouchers"): the shared member key's signature of its digest. The peer serves it in its member
 *   lane, apart from the open lane that strangers can fill, and learns only "a member sent this".
 *   A peer that refuses the voucher (`bad-voucher`: it does not know this key, as during an
 *   unfinished rotation) gets the request again without it, in its open lane as before.
 * - When no other provider is registered, the request goes to this gatekeeper's own relay (nothing
 *   to hide among). When others are registered but none answers, the request fails (503) and is
 *   retried by its caller; only after RELAY_OWN_FALLBACK_AFTER_MS of this (unset: never) does it
 *   go to the own relay. /healthz reports `degraded` meanwhile.
 */
import { randomInt } from "node:crypto";
import {
  agentRegistryAbi,
  GatekeeperRequestError,
  type RelayRequest,
  serializeRelayRequest,
  signVoucher,
  submitRelayed,
} from "@medrec/protocol";
import type { Logger } from "pino";
import { type Address, type Hex, isAddressEqual } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { ChainClient } from "../chain/client.ts";
import type { ChainSettings } from "../chain/config.ts";
import { ProblemError } from "../errors.ts";
import { type HealthCheck, HealthCheckError } from "../ops/health.ts";
import type { Metrics } from "../ops/metrics.ts";
import { DEPENDENCY_MAX_WAIT_MS } from "./dependency.ts";
import { RELAY_CHECKS, type RelayCheck, RelayRefusal, type RelayService } from "./relay.service.ts";

const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 15_000;

export type RelaySubmitterParameters = {
  client: Pick<ChainClient, "publicClient">;
  settings: Pick<ChainSettings, "registry" | "provider" | "relay" | "chainId" | "forwarder">;
  /** This gatekeeper's own relay (in process). */
  own: Pick<RelayService, "relay">;
  logger: Logger;
  metrics?: Pick<Metrics, "relaySubmissions">;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
};

export type RelaySubmitter = {
  /** Relays a signed request through another provider's relay; the relayer's transaction hash. */
  submit(relay: RelayRequest): Promise<Hex>;
  /** The other providers' relay base URLs (cached). */
  peers(): Promise<string[]>;
  /** Degraded while no other provider's relay answers. */
  health: HealthCheck;
};

const normalize = (url: string) => url.replace(/\/+$/, "").toLowerCase();

/** A peer's refusal as the relay's own error (same `check`, `revert`, status). */
function refusalOf(error: GatekeeperRequestError): RelayRefusal | ProblemError {
  const p = (error.problem ?? {}) as { check?: unknown; revert?: unknown; detail?: unknown };
  const detail = typeof p.detail === "string" ? p.detail : error.message;
  if (typeof p.check === "string" && p.check in RELAY_CHECKS)
    return new RelayRefusal(p.check as RelayCheck, detail, {
      ...(typeof p.revert === "string" ? { revert: p.revert } : {}),
    });
  return new ProblemError("unprocessable", `Another provider's relay refused the request: ${detail}`);
}

/** The `check` of a peer's refusal, if it names one. */
const checkOf = (error: unknown): unknown =>
  error instanceof GatekeeperRequestError
    ? (error.problem as { check?: unknown } | undefined)?.check
    : undefined;

/** Whether a peer's answer says nothing about the request (try another relay): also a node too far behind. */
function peerUnavailable(error: unknown): boolean {
  if (!(error instanceof GatekeeperRequestError)) return true;
  if (checkOf(error) === "dependency-too-far") return true;
  return error.status === 404 || error.status === 405 || error.status === 429 || error.status >= 500;
}

export function createRelaySubmitter({
  client,
  settings,
  own,
  logger,
  metrics,
  fetch = globalThis.fetch,
  now = Date.now,
}: RelaySubmitterParameters): RelaySubmitter {
  const log = logger.child({ component: "relay-submitter" });
  const self = normalize(settings.provider.gatekeeperUrl);
  let cache: { at: number; urls: string[] } | undefined;
  const backoff = new Map<string, { failures: number; until: number }>();
  /** Per kind of request (target and selector): how many were sent, from a random start. */
  const turns = new Map<string, number>();
  /** Since when no other relay has answered (undefined: the last attempt reached one). */
  let failingSince: number | undefined;

  async function peers(): Promise<string[]> {
    if (cache && now() - cache.at < settings.relay.peersRefreshMs) return cache.urls;
    const registry = settings.registry;
    if (!registry) return [];
    const signers = (await client.publicClient.readContract({
      address: registry,
      abi: agentRegistryAbi,
      functionName: "signers",
    })) as readonly Address[];
    const others = signers.filter((a) => !isAddressEqual(a, settings.provider.account));
    const providers = await Promise.all(
      others.map(
        (account) =>
          client.publicClient.readContract({
            address: registry,
            abi: agentRegistryAbi,
            functionName: "provider",
            args: [account],
          }) as Promise<{ gatekeeperUrl: string }>,
      ),
    );
    const urls = [
      ...new Set(
        providers
          .map((p) => p.gatekeeperUrl.replace(/\/+$/, ""))
          .filter((u) => /^https?:\/\//.test(u) && normalize(u) !== self),
      ),
    ];
    cache = { at: now(), urls };
    return urls;
  }

  /** A peer may hold a request with a dependency for up to its wait bound before it answers. */
  const timedFetch =
    (waits: boolean): typeof globalThis.fetch =>
    (input, init) =>
      fetch(input, {
        ...init,
        signal: AbortSignal.timeout(settings.relay.peerTimeoutMs + (waits ? DEPENDENCY_MAX_WAIT_MS : 0)),
      });

  const member = settings.relay.memberKey ? privateKeyToAccount(settings.relay.memberKey) : undefined;
  /** `relay` with the member key's voucher, when this gatekeeper has the key. */
  const withVoucher = async (relay: RelayRequest): Promise<RelayRequest> =>
    member
      ? {
          ...relay,
          voucher: await signVoucher(member, relay.request, {
            chainId: settings.chainId,
            forwarder: settings.forwarder,
          }),
        }
      : relay;

  async function viaOwn(relay: RelayRequest, why: string): Promise<Hex> {
    const { txHash } = await own.relay(serializeRelayRequest(relay.request, relay.signature, relay));
    metrics?.relaySubmissions.inc({ via: "own" });
    log.info({ why }, "own request relayed by this gatekeeper's own relay");
    return txHash;
  }

  async function submit(unvouched: RelayRequest): Promise<Hex> {
    const relay = await withVoucher(unvouched);
    const urls = await peers().catch((cause: unknown) => {
      throw new ProblemError(
        "unavailable",
        "Reading the other providers' relays from AgentRegistry failed; try again.",
        {
          cause,
        },
      );
    });
    if (urls.length === 0)
      return viaOwn(
        relay,
        settings.registry ? "no other provider is registered" : "AGENT_REGISTRY_ADDRESS is unknown",
      );
    // The next relay in turn for this kind of request; relays in backoff are skipped.
    const kind = `${relay.request.to.toLowerCase()}:${relay.request.data.slice(0, 10)}`;
    const turn = turns.get(kind) ?? randomInt(2 ** 31);
    turns.set(kind, turn + 1);
    const sorted = [...urls].sort();
    const start = turn % sorted.length;
    const order = [...sorted.slice(start), ...sorted.slice(0, start)];
    let tried = 0;
    const dependency = { notBeforeBlock: relay.notBeforeBlock, after: relay.after };
    const fetchPeer = timedFetch(dependency.notBeforeBlock !== undefined || dependency.after !== undefined);
    for (const url of order) {
      const b = backoff.get(url);
      if (b && b.until > now()) continue;
      tried++;
      try {
        const send = (voucher: Hex | undefined) =>
          submitRelayed({
            gatekeeperUrl: url,
            request: relay.request,
            signature: relay.signature,
            voucher,
            ...dependency,
            fetch: fetchPeer,
          });
        const txHash = await send(relay.voucher).catch((error: unknown) => {
          // A peer that does not know this member key (a rotation not finished there): as before vouchers.
          if (relay.voucher === undefined || checkOf(error) !== "bad-voucher") throw error;
          log.warn("another provider's relay refused this gatekeeper's member voucher; sent without it");
          return send(undefined);
        });
        backoff.delete(url);
        failingSince = undefined;
        metrics?.relaySubmissions.inc({ via: "peer" });
        return txHash;
      } catch (error) {
        if (!peerUnavailable(error)) {
          // The peer answered: the relay path works, the request does not.
          failingSince = undefined;
          throw refusalOf(error as GatekeeperRequestError);
        }
        const failures = (b?.failures ?? 0) + 1;
        backoff.set(url, {
          failures,
          until: now() + Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** (failures - 1)),
        });
        log.warn(
          { status: error instanceof GatekeeperRequestError ? error.status : "no answer", failures },
          "another provider's relay did not take the request",
        );
      }
    }
    failingSince ??= now();
    const fallbackAfter = settings.relay.ownFallbackAfterMs;
    if (fallbackAfter !== undefined && now() - failingSince >= fallbackAfter)
      return viaOwn(relay, `no other relay answered for ${now() - failingSince} ms`);
    throw new ProblemError(
      "unavailable",
      `No other provider's relay answered (${tried} tried of ${urls.length}); the transaction was not sent and will be retried.`,
    );
  }

  return {
    submit,
    peers,
    health: {
      name: "relay-peers",
      degradesOnly: true,
      check: async () => {
        if (!settings.registry)
          throw new HealthCheckError(
            "AGENT_REGISTRY_ADDRESS is unset and no manifest names it: no other provider's relay is known, so this provider's transactions go through its own relay, linkable to it (adr/0006)",
          );
        const urls = await peers();
        if (urls.length === 0)
          return "no other provider is registered: this provider's transactions go through its own relay";
        if (failingSince !== undefined)
          throw new HealthCheckError(
            `no other provider's relay has answered since ${new Date(failingSince).toISOString()}: this provider's transactions ${
              settings.relay.ownFallbackAfterMs === undefined
                ? "wait and are retried (RELAY_OWN_FALLBACK_AFTER_MS is unset)"
                : `go through its own relay after ${settings.relay.ownFallbackAfterMs} ms`
            }`,
          );
        return `${urls.length} other providers' relays`;
      },
    },
  };
}
