/**
 * The relay: pays the gas of a forward request signed by a patient, a custodian or a provider's
 * relationship delegate, so that none of them holds ether (issue 8, adr/0006). A request is sent
 * only when every check holds, in this order — the first that fails is the answer, by name:
 *
 *  1. `malformed`             the body is not a relay request (PROTOCOL relayRequestSchema)      400
 *  2. `bad-signature`         the EIP-712 signature does not recover `from` (this chain, this forwarder) 401
 *     `bad-voucher`           a `voucher` is given, this relay knows member addresses, and the
 *                             voucher does not recover one of them (adr/0013 "Member vouchers") 401
 *     (a request already relayed answers its transaction here: idempotent by EIP-712 digest)
 *  3. `value-not-zero`        MedRec's contracts take no ether                                    422
 *  4. `foreign-target`        `to` is not this network's Agent or Relationship                    403
 *  5. `function-not-allowed`  the selector is not on the allowlist (allowlist.ts)                 403
 *  6. `deadline-expired` / `deadline-too-far`  deadline in the past / more than 10 min ahead      422
 *  7. `gas-over-cap`          `gas` above RELAY_GAS_CAP                                            422
 *     then, when the request names a dependency (`notBeforeBlock`, `after`) the node has not seen,
 *     it WAITS for it (dependency.ts), bounded:
 *     `dependency-too-far`    `notBeforeBlock` more than 16 blocks ahead of the node's head       422
 *     `too-many-waiting`      64 requests are already waiting (Retry-After)                       503
 *     `dependency-timeout`    not seen within 10 s: this relay's node is behind (Retry-After)     503
 *  8. `wrong-nonce`           `nonce` is not the forwarder's `nonces(from)`                        409
 *     `nonce-in-flight`       another request with this nonce was relayed and is not mined yet    409
 *  9. `bad-signature`         the forwarder's own `verify` refuses it                              401
 *     (before 8, and again at 10: the request's lane and budget key, admission.ts / adr/0013 — a
 *     registration or a creation is in the open lane without reading the chain; its limits are
 *     checked before anything is asked of the node)
 * 10. `signer-limit`          the request's budget key (linked agent, relationship, or open-lane
 *                             signer) has had RELAY_SIGNER_DAILY_REQUESTS (protective lane:
 *                             RELAY_PROTECTIVE_DAILY_REQUESTS) in 24 h                             429
 *     `protective-in-flight`  a protective request of this key is not mined yet (Retry-After 1)    429
 *     `open-lane-limit`       the open lane's RELAY_OPEN_DAILY_REQUESTS / RELAY_OPEN_DAILY_GAS     429
 *     `member-lane-limit`     the member lane's (vouched open-lane work) RELAY_MEMBER_DAILY_*      429
 *     `daily-limit` / `gas-budget`  linked and open work together, in 24 h (gas: receipts'
 *                             gasUsed, the gas limit while in flight)                              429
 *     `relayer-busy`          RELAY_MAX_IN_FLIGHT linked/open transactions unmined, or (before 1,
 *                             for any call not to a protective function) 16 others being checked
 *                             at once (Retry-After 1)                                              503
 * 11. `simulation-reverted`   `eth_call` of the forwarder's `execute` from the relayer reverts
 *                             (`revert` names the contract error)                                  422
 * 12. `relayer-unfunded`      the relayer cannot pay for the transaction                           503
 *
 * Then, one at a time (in process — protective requests first — and across processes by an advisory
 * lock): the digest is looked up again, the limits counted again, the transaction signed locally (its hash is known before it
 * is sent), stored, and broadcast; the row commits only if the node took it. Its receipt, once
 * mined, sets the gas its lane and key are charged (`gasUsed`, reverted or not).
 */
import {
  decodeRevertReason,
  forwardedCalldata,
  forwardRequestOutcome,
  hashForwardRequest,
  medRecForwarderAbi,
  type RelayRequest,
  recoverForwardRequestSigner,
  recoverVoucherSigner,
  relayRequestSchema,
  toForwardRequestData,
} from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import {
  type Address,
  createWalletClient,
  ExecutionRevertedError,
  encodeFunctionData,
  formatEther,
  type Hex,
  keccak256,
  RawContractError,
  BaseError as ViemBaseError,
} from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { type ChainClient, unavailable } from "../chain/client.ts";
import type { ChainSettings } from "../chain/config.ts";
import { describeZodError, ProblemError, type ProblemKind } from "../errors.ts";
import { type HealthCheck, HealthCheckError } from "../ops/health.ts";
import {
  type Admission,
  classify,
  looksProtective,
  prioritySerial,
  staticLane,
  vouched,
} from "./admission.ts";
import { type Allowlist, createAllowlist, describeAllowlist } from "./allowlist.ts";
import { createDependencyGate, DEFAULT_DEPENDENCY_BOUNDS, type DependencyBounds } from "./dependency.ts";
import { relayRepository } from "./relay.repository.knex.ts";

/** The furthest ahead a deadline may be. */
export const MAX_DEADLINE_AHEAD_SECONDS = 600;
/** Non-protective requests checked at once (node and database work); more are refused `relayer-busy`. */
export const MAX_CONCURRENT_CHECKS = 16;
/** Margin over the estimated gas of the relayer's transaction, in percent. */
const GAS_LIMIT_MARGIN_PERCENT = 20n;

/** Every check of the relay, its HTTP status (by problem kind) — the `check` member of a refusal. */
export const RELAY_CHECKS = {
  malformed: "bad-request",
  "bad-signature": "unauthorized",
  "bad-voucher": "unauthorized",
  "value-not-zero": "unprocessable",
  "foreign-target": "forbidden",
  "function-not-allowed": "forbidden",
  "deadline-expired": "unprocessable",
  "deadline-too-far": "unprocessable",
  "gas-over-cap": "unprocessable",
  "dependency-too-far": "unprocessable",
  "too-many-waiting": "unavailable",
  "dependency-timeout": "unavailable",
  "wrong-nonce": "conflict",
  "nonce-in-flight": "conflict",
  "signer-limit": "too-many-requests",
  "daily-limit": "too-many-requests",
  "gas-budget": "too-many-requests",
  "protective-in-flight": "too-many-requests",
  "open-lane-limit": "too-many-requests",
  "member-lane-limit": "too-many-requests",
  "relayer-busy": "unavailable",
  "simulation-reverted": "unprocessable",
  "relayer-unfunded": "unavailable",
} as const satisfies Record<string, ProblemKind>;

export type RelayCheck = keyof typeof RELAY_CHECKS;

/** A refused relay request: which check failed (`check`) and, for a simulated revert, the contract error. */
export class RelayRefusal extends ProblemError {
  override name = "RelayRefusal";
  readonly check: RelayCheck;
  readonly revert: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    check: RelayCheck,
    detail: string,
    extra: { revert?: string | undefined; retryAfterSeconds?: number } = {},
  ) {
    super(RELAY_CHECKS[check], detail);
    this.check = check;
    this.revert = extra.revert;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

/** Whether a failed call reverted (as opposed to the node not answering). */
function isRevert(error: unknown): boolean {
  if (!(error instanceof ViemBaseError)) return false;
  if (error.walk((e) => e instanceof ExecutionRevertedError || e instanceof RawContractError)) return true;
  const withData = error.walk((e) => {
    const data = (e as { data?: unknown }).data;
    return typeof data === "string" && /^0x[0-9a-fA-F]{8,}$/.test(data);
  });
  return Boolean(withData) || /execution reverted|out of gas|invalid opcode/i.test(error.message);
}

/** The contract error's name in a decoded reason (`RelationshipStaleSequence(…)` → `RelationshipStaleSequence`). */
export const revertNameOf = (reason: string): string =>
  /^([A-Za-z_][A-Za-z0-9_]*)\(/.exec(reason)?.[1] ?? reason;

export type RelayServiceParameters = {
  client: ChainClient;
  settings: Pick<ChainSettings, "chainId" | "forwarder" | "relayerPrivateKey" | "relay">;
  db: Knex;
  logger: Logger;
  /** Clock (ms), for tests. */
  now?: () => number;
  /** How long and how many requests may wait for their dependencies (tests; default dependency.ts's). */
  dependencyBounds?: DependencyBounds;
};

export type RelayResult = { txHash: Hex; repeated: boolean };

export type RelayService = {
  /** The relayer's address (public: it pays, it is funded at genesis). */
  relayer: Address;
  allowlist: Allowlist;
  /** Checks and relays one request (the JSON body of POST /v1/relay). @throws {RelayRefusal} */
  relay(body: unknown): Promise<RelayResult>;
  /** The relayer's balance in wei. */
  balance(): Promise<bigint>;
  /** Resolves once every transaction sent so far has its receipt recorded (tests, benchmarks). */
  settled(): Promise<void>;
  /** How many requests are waiting for their dependency now. */
  waiting(): number;
  /** Degraded (not down) while the relayer holds less than RELAYER_MIN_BALANCE_ETH. */
  health: HealthCheck;
};

export function createRelayService({
  client,
  settings,
  db,
  logger,
  now = Date.now,
  dependencyBounds = DEFAULT_DEPENDENCY_BOUNDS,
}: RelayServiceParameters): RelayService {
  const relayer: PrivateKeyAccount = privateKeyToAccount(settings.relayerPrivateKey);
  const pc = client.publicClient;
  const repo = relayRepository(db);
  const allowlist = createAllowlist({ Agent: client.agent, Relationship: client.relationship });
  const domain = { chainId: settings.chainId, forwarder: settings.forwarder };
  const limits = settings.relay;
  const log = logger.child({ component: "relay" });
  const oneAtATime = prioritySerial();
  const receipts = receiptRecorder();
  const dependencies = createDependencyGate({ client, bounds: dependencyBounds });
  const wallet = createWalletClient({ account: relayer, chain: client.chain, transport: client.transport });

  const node = <T>(what: string, promise: Promise<T>): Promise<T> =>
    promise.catch((cause: unknown) => {
      throw unavailable(what, cause);
    });

  /** The admission limits of `lane` and `key` over the last 24 h; throws the first that `extraGas` more would break. */
  async function checkLimits({ lane, key }: Admission, extraGas: bigint, trx: Knex = db): Promise<void> {
    const usage = await repo.usage(lane, key, trx);
    const retryAfter = (oldest: Date | undefined) =>
      oldest ? Math.max(1, Math.ceil((oldest.getTime() + 86_400_000 - now()) / 1000)) : 3600;
    const elsewhere = "try again later or use another provider's relay.";
    if (lane === "protective") {
      if (usage.keyRequests + 1 > limits.protectiveDailyRequests)
        throw new RelayRefusal(
          "signer-limit",
          `This agent or relationship has had ${usage.keyRequests} protective requests relayed here in the last 24 hours (RELAY_PROTECTIVE_DAILY_REQUESTS = ${limits.protectiveDailyRequests}); ${elsewhere}`,
          { retryAfterSeconds: retryAfter(usage.keyOldest) },
        );
      if (usage.keyProtectiveInFlight > 0)
        throw new RelayRefusal(
          "protective-in-flight",
          "A protective request of this agent or relationship was relayed here and is not mined yet; send this one when it is (about a block).",
          { retryAfterSeconds: 1 },
        );
      return;
    }
    if (lane === "member") {
      const used =
        usage.memberRequests + 1 > limits.memberDailyRequests
          ? `its ${limits.memberDailyRequests} requests (RELAY_MEMBER_DAILY_REQUESTS)`
          : usage.memberGas + extraGas > limits.memberDailyGas
            ? `${usage.memberGas} gas of its ${limits.memberDailyGas} (RELAY_MEMBER_DAILY_GAS), this request needs up to ${extraGas}`
            : undefined;
      if (used)
        throw new RelayRefusal(
          "member-lane-limit",
          `This relay's member lane (vouched requests of the consortium's gatekeepers) has relayed ${used} in the last 24 hours; ${elsewhere}`,
          { retryAfterSeconds: retryAfter(usage.memberOldest) },
        );
    } else if (usage.keyRequests + 1 > limits.signerDailyRequests)
      throw new RelayRefusal(
        "signer-limit",
        `This ${lane === "open" ? "signer" : "agent or relationship"} has had ${usage.keyRequests} requests relayed here in the last 24 hours (RELAY_SIGNER_DAILY_REQUESTS = ${limits.signerDailyRequests}); ${elsewhere}`,
        { retryAfterSeconds: retryAfter(usage.keyOldest) },
      );
    if (lane === "open" && usage.openRequests + 1 > limits.openDailyRequests)
      throw new RelayRefusal(
        "open-lane-limit",
        `This relay's open lane (work for keys no relationship links yet: registrations, creations) has relayed its ${limits.openDailyRequests} requests of the last 24 hours (RELAY_OPEN_DAILY_REQUESTS); ${elsewhere}`,
        { retryAfterSeconds: retryAfter(usage.openOldest) },
      );
    if (lane === "open" && usage.openGas + extraGas > limits.openDailyGas)
      throw new RelayRefusal(
        "open-lane-limit",
        `This relay's open lane daily gas (RELAY_OPEN_DAILY_GAS = ${limits.openDailyGas}) would be exceeded: ${usage.openGas} used in the last 24 hours, this request needs up to ${extraGas}; ${elsewhere}`,
        { retryAfterSeconds: retryAfter(usage.openOldest) },
      );
    if (lane !== "member" && usage.requests + 1 > limits.dailyRequests)
      throw new RelayRefusal(
        "daily-limit",
        `This relay has relayed its ${limits.dailyRequests} requests of the last 24 hours (RELAY_DAILY_REQUESTS); ${elsewhere}`,
        { retryAfterSeconds: retryAfter(usage.oldest) },
      );
    if (lane !== "member" && usage.gas + extraGas > limits.dailyGas)
      throw new RelayRefusal(
        "gas-budget",
        `This relay's daily gas budget (RELAY_DAILY_GAS = ${limits.dailyGas}) would be exceeded: ${usage.gas} used in the last 24 hours, this request needs up to ${extraGas}; ${elsewhere}`,
        { retryAfterSeconds: retryAfter(usage.oldest) },
      );
    if (usage.inFlight + 1 > limits.maxInFlight)
      throw new RelayRefusal(
        "relayer-busy",
        `This relayer has ${usage.inFlight} transactions not yet mined (RELAY_MAX_IN_FLIGHT = ${limits.maxInFlight}); send the same request again in a block, or to another provider's relay.`,
        { retryAfterSeconds: 1 },
      );
  }

  /**
   * Records each sent transaction's receipt (gasUsed, block, whether the forwarder executed the
   * call) once mined: what its lane and key are charged. Polls the node's head only while
   * transactions are unmined (checking them once per new block); picks up, on its first start,
   * those a previous process left.
   */
  function receiptRecorder() {
    const pending = new Map<Hex, { signer: Address; nonce: bigint }>();
    /** The poll of the node's head (unref'd: it never keeps a process alive) while transactions are unmined. */
    let timer: ReturnType<typeof setInterval> | undefined;
    let lastHead = -1n;
    let loaded = false;
    let checking: Promise<void> | undefined;
    let idle: { promise: Promise<void>; resolve: () => void } | undefined;
    const check = async () => {
      for (const [hash, request] of [...pending]) {
        const receipt = await pc.getTransactionReceipt({ hash }).catch(() => undefined);
        if (!receipt) continue;
        await repo.mined(hash, {
          gasUsed: receipt.gasUsed,
          blockNumber: receipt.blockNumber,
          succeeded:
            forwardRequestOutcome(receipt, {
              forwarder: settings.forwarder,
              request: { from: request.signer, nonce: request.nonce },
            }) === "success",
        });
        pending.delete(hash);
      }
      if (pending.size === 0) {
        clearInterval(timer);
        timer = undefined;
        idle?.resolve();
        idle = undefined;
      }
    };
    const onHead = () => {
      if (checking) return;
      checking = (async () => {
        const head = await pc.getBlockNumber({ cacheTime: 0 });
        if (head === lastHead) return;
        await check();
        lastHead = head;
      })()
        .catch((error: unknown) =>
          log.warn({ err: error }, "recording a relayed transaction's receipt failed"),
        )
        .finally(() => {
          checking = undefined;
        });
    };
    return {
      async add(hash: Hex, request: { signer: Address; nonce: bigint }) {
        pending.set(hash, request);
        if (!loaded) {
          loaded = true;
          for (const row of await repo.pending().catch(() => [])) pending.set(row.txHash, row);
        }
        if (!timer) {
          timer = setInterval(onHead, 250);
          timer.unref?.();
        }
      },
      settled(): Promise<void> {
        if (pending.size === 0) return Promise.resolve();
        lastHead = -1n;
        if (!idle) {
          let resolve = () => {};
          const promise = new Promise<void>((r) => {
            resolve = r;
          });
          idle = { promise, resolve };
        }
        onHead();
        return idle.promise;
      },
    };
  }

  /**
   * `eth_call` of the forwarder's `execute` from the relayer; when it reverts, why: the
   * forwarder's own error, or (for `FailedCall`, which hides it) the target's, replayed as the
   * forwarder calls it.
   */
  async function simulate(request: RelayRequest["request"], calldata: Hex): Promise<void> {
    try {
      await pc.call({ account: relayer.address, to: settings.forwarder, data: calldata, value: 0n });
      return;
    } catch (error) {
      if (!isRevert(error)) throw unavailable("Simulating the request failed", error);
      let reason = decodeRevertReason(error);
      if (revertNameOf(reason) === "FailedCall") {
        try {
          await pc.call({
            account: settings.forwarder,
            to: request.to,
            data: forwardedCalldata(request),
            gas: request.gas,
          });
          reason = "the call runs out of its gas (raise `gas`)";
        } catch (inner) {
          reason = isRevert(inner) ? decodeRevertReason(inner) : "the call fails";
        }
      }
      throw new RelayRefusal(
        "simulation-reverted",
        `The call would revert: ${reason}. Nothing was sent; fix the call (or the chain state it needs) and sign a new request.`,
        { revert: revertNameOf(reason) },
      );
    }
  }

  /**
   * The member address that signed `voucher` for `request`; undefined when this relay knows no
   * member (the voucher is ignored, as before vouchers). @throws {RelayRefusal} `bad-voucher`
   */
  async function memberOf(request: RelayRequest["request"], voucher: Hex): Promise<Address | undefined> {
    if (limits.members.length === 0) return undefined;
    const by = await recoverVoucherSigner(request, voucher, domain).catch(() => undefined);
    const member = limits.members.find((m) => m === by);
    if (!member)
      throw new RelayRefusal(
        "bad-voucher",
        `\`voucher\` is not a member key's voucher for this request on this relay: sign the request's EIP-712 digest with the consortium's member key (RELAY_MEMBER_KEY) in the domain "medrec relay voucher", chain id ${settings.chainId}, verifying contract ${settings.forwarder}; or send the request without a voucher.`,
      );
    return member;
  }

  /** Non-protective requests being checked now (each holds a slot until it is sent or refused). */
  let beingChecked = 0;
  type Slot = { held: boolean; take(): void; release(): void };
  function slot(): Slot {
    const s: Slot = {
      held: false,
      take() {
        if (s.held) return;
        if (beingChecked >= MAX_CONCURRENT_CHECKS)
          throw new RelayRefusal(
            "relayer-busy",
            `This relay is checking ${beingChecked} other requests (at most ${MAX_CONCURRENT_CHECKS} at once besides protective ones); send the same request again in a second, or to another provider's relay.`,
            { retryAfterSeconds: 1 },
          );
        beingChecked++;
        s.held = true;
      },
      release() {
        if (s.held) beingChecked--;
        s.held = false;
      },
    };
    return s;
  }

  /**
   * A request that does not call a protective function takes a checking slot before anything is
   * verified, so a flood costs this relay at most MAX_CONCURRENT_CHECKS requests' worth of node and
   * database work at once; one that does takes a slot only if it turns out not to be protective.
   */
  async function relay(body: unknown): Promise<RelayResult> {
    const held = slot();
    if (!looksProtective(body)) held.take();
    try {
      return await check(body, held);
    } finally {
      held.release();
    }
  }

  async function check(body: unknown, held: Slot): Promise<RelayResult> {
    const parsed = relayRequestSchema.safeParse(body);
    if (!parsed.success) throw new RelayRefusal("malformed", describeZodError(parsed.error));
    const { request, signature, notBeforeBlock, after, voucher } = parsed.data;
    const digest = hashForwardRequest(request, domain);
    const signer = await recoverForwardRequestSigner(request, signature, domain).catch(() => undefined);
    if (signer !== request.from)
      throw new RelayRefusal(
        "bad-signature",
        `The signature does not recover \`from\` for this request: sign the EIP-712 ForwardRequest with from's key, in the domain MedRecForwarder version 1, chain id ${settings.chainId}, verifying contract ${settings.forwarder}.`,
      );
    const member = voucher === undefined ? undefined : await memberOf(request, voucher);
    const known = await repo.byDigest(digest);
    if (known) return { txHash: known.txHash, repeated: true };

    if (request.value !== 0n)
      throw new RelayRefusal("value-not-zero", "`value` must be 0: MedRec's contracts take no ether.");
    const contract = allowlist.contractAt(request.to);
    if (!contract)
      throw new RelayRefusal(
        "foreign-target",
        `\`to\` is not one of this network's MedRec contracts (Agent ${client.agent}, Relationship ${client.relationship}); this relay pays for nothing else.`,
      );
    const fn = allowlist.functionOf(contract, request.data);
    if (!fn)
      throw new RelayRefusal(
        "function-not-allowed",
        `\`data\` does not call a function this relay pays for on ${contract}; relayed functions: ${describeAllowlist()}.`,
      );
    const nowSeconds = Math.floor(now() / 1000);
    if (request.deadline <= nowSeconds)
      throw new RelayRefusal(
        "deadline-expired",
        `\`deadline\` (${request.deadline}) has passed (now ${nowSeconds}); sign a new request.`,
      );
    if (request.deadline > nowSeconds + MAX_DEADLINE_AHEAD_SECONDS)
      throw new RelayRefusal(
        "deadline-too-far",
        `\`deadline\` is more than ${MAX_DEADLINE_AHEAD_SECONDS} s ahead (at most ${nowSeconds + MAX_DEADLINE_AHEAD_SECONDS}); sign a request that expires sooner.`,
      );
    if (request.gas > limits.gasCap)
      throw new RelayRefusal(
        "gas-over-cap",
        `\`gas\` (${request.gas}) is above this relay's cap of ${limits.gasCap} (RELAY_GAS_CAP).`,
      );
    // A fresh key's registration or creation: refused while its lane is full before the node is asked anything.
    const fixed = staticLane(contract, fn, request.from);
    const early = fixed && vouched(fixed, member);
    if (early) await checkLimits(early, 0n);

    // Causality: the nonce and the simulation are read at a head that has the request's prerequisite.
    const unmet = await node("Reading the node's head failed", dependencies.wait({ notBeforeBlock, after }));
    if (unmet) {
      log.info({ check: unmet.check, waiting: dependencies.waiting }, "request's dependency not met");
      throw new RelayRefusal(
        unmet.check,
        unmet.detail,
        unmet.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: unmet.retryAfterSeconds },
      );
    }

    // The reads below are independent: asked at once (a protective request is not kept waiting for
    // round trips), answered in the order of the checks.
    const data = toForwardRequestData(request, signature);
    const verifying = node(
      "Verifying the request failed",
      pc.readContract({
        address: settings.forwarder,
        abi: medRecForwarderAbi,
        functionName: "verify",
        args: [data],
      }),
    );
    const classifying = node(
      "Reading the request's lane failed",
      classify(client, { contract, fn, signer: request.from, data: request.data }),
    );
    for (const pending of [verifying, classifying]) pending.catch(() => undefined);
    const nonce = await node(
      "Reading the forwarder nonce failed",
      pc.readContract({
        address: settings.forwarder,
        abi: medRecForwarderAbi,
        functionName: "nonces",
        args: [request.from],
      }),
    );
    if (request.nonce !== nonce)
      throw new RelayRefusal(
        "wrong-nonce",
        `\`nonce\` is ${request.nonce} but the forwarder's nonce of \`from\` is ${nonce}; sign the request again with nonce ${nonce}.`,
      );
    for (const other of await repo.sameNonce(request.from, request.nonce, nowSeconds)) {
      const mined = await pc.getTransactionReceipt({ hash: other.txHash }).catch(() => undefined);
      if (!mined)
        throw new RelayRefusal(
          "nonce-in-flight",
          `Another request of \`from\` with nonce ${request.nonce} was relayed in ${other.txHash} and is not mined yet; wait for it (or until its deadline, ${other.deadline}) and sign again with the next nonce.`,
        );
    }
    if (!(await verifying))
      throw new RelayRefusal(
        "bad-signature",
        "The forwarder does not accept this request (its `verify` is false): sign it again for this network's forwarder.",
      );
    const admission = vouched(await classifying, member);
    if (admission.lane !== "protective") held.take();
    await checkLimits(admission, 0n);
    const calldata = encodeFunctionData({ abi: medRecForwarderAbi, functionName: "execute", args: [data] });
    const estimating = node(
      "Estimating the gas failed",
      pc.estimateGas({ account: relayer.address, to: settings.forwarder, data: calldata, value: 0n }),
    );
    estimating.catch(() => undefined);
    await simulate(request, calldata);
    const estimate = await estimating;
    const gasLimit = estimate + (estimate * GAS_LIMIT_MARGIN_PERCENT) / 100n;

    const result = await oneAtATime(admission.lane === "protective", () =>
      repo.serialized(async (trx): Promise<RelayResult> => {
        const again = await repo.byDigest(digest, trx);
        if (again) return { txHash: again.txHash, repeated: true };
        await checkLimits(admission, gasLimit, trx);
        const balancing = node(
          "Reading the relayer's balance failed",
          pc.getBalance({ address: relayer.address }),
        );
        balancing.catch(() => undefined);
        const prepared = await node(
          "Preparing the transaction failed",
          pc.prepareTransactionRequest({
            account: relayer,
            chain: client.chain,
            to: settings.forwarder,
            data: calldata,
            gas: gasLimit,
            value: 0n,
          }),
        );
        const price =
          (prepared as { maxFeePerGas?: bigint; gasPrice?: bigint }).maxFeePerGas ??
          (prepared as { gasPrice?: bigint }).gasPrice ??
          0n;
        const balance = await balancing;
        if (balance < gasLimit * price) {
          log.error({ balanceEther: formatEther(balance) }, "relayer cannot pay for a transaction");
          throw new RelayRefusal(
            "relayer-unfunded",
            "This relay's account cannot pay for the transaction right now; try another provider's relay.",
          );
        }
        const serialized = await wallet.signTransaction(prepared as never);
        const txHash = keccak256(serialized);
        await repo.insert(
          {
            digest,
            signer: request.from,
            target: request.to,
            selector: request.data.slice(0, 10) as Hex,
            nonce: request.nonce,
            deadline: request.deadline,
            gasLimit,
            txHash,
            lane: admission.lane,
            budgetKey: admission.key,
          },
          trx,
        );
        try {
          await pc.sendRawTransaction({ serializedTransaction: serialized });
        } catch (cause) {
          if (!/already known/i.test(cause instanceof Error ? cause.message : ""))
            throw unavailable("Sending the transaction failed", cause);
        }
        log.info(
          { contract, function: fn, lane: admission.lane, gasLimit: String(gasLimit) },
          "request relayed",
        );
        return { txHash, repeated: false };
      }),
    );
    if (!result.repeated) await receipts.add(result.txHash, { signer: request.from, nonce: request.nonce });
    return result;
  }

  const balance = () => pc.getBalance({ address: relayer.address });

  return {
    relayer: relayer.address,
    allowlist,
    relay,
    balance,
    settled: () => receipts.settled(),
    waiting: () => dependencies.waiting,
    health: {
      name: "relayer",
      degradesOnly: true,
      check: async () => {
        const wei = await balance();
        if (wei < limits.minBalance)
          throw new HealthCheckError(
            `the relayer ${relayer.address} holds ${formatEther(wei)} ether, below RELAYER_MIN_BALANCE_ETH (${formatEther(limits.minBalance)}): relayed writes will soon fail; fund it`,
          );
        return `the relayer ${relayer.address} holds ${formatEther(wei)} ether`;
      },
    },
  };
}
