/**
 * The relay: pays the gas of a forward request signed by a patient, a custodian or a provider's
 * relationship delegate, so that none of them holds ether (issue 8, adr/0006). A request is sent
 * only when every check holds, in this order — the first that fails is the answer, by name:
 *
 *  1. `malformed`             the body is not a relay request (PROTOCOL relayRequestSchema)      400
 *  2. `bad-signature`         the EIP-712 signature does not recover `from` (this chain, this forwarder) 401
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
 * 10. `signer-limit` / `daily-limit` / `gas-budget`  the 24 h limits (database)                    429
 * 11. `simulation-reverted`   `eth_call` of the forwarder's `execute` from the relayer reverts
 *                             (`revert` names the contract error)                                  422
 * 12. `relayer-unfunded`      the relayer cannot pay for the transaction                           503
 *
 * Then, one at a time (in process, and across processes by an advisory lock): the digest is looked
 * up again, the limits counted again, the transaction signed locally (its hash is known before it
 * is sent), stored, and broadcast; the row commits only if the node took it.
 */
import {
  decodeRevertReason,
  forwardedCalldata,
  hashForwardRequest,
  medRecForwarderAbi,
  type RelayRequest,
  recoverForwardRequestSigner,
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
import { type Allowlist, createAllowlist, describeAllowlist } from "./allowlist.ts";
import { createDependencyGate, DEFAULT_DEPENDENCY_BOUNDS, type DependencyBounds } from "./dependency.ts";
import { relayRepository } from "./relay.repository.knex.ts";

/** The furthest ahead a deadline may be. */
export const MAX_DEADLINE_AHEAD_SECONDS = 600;
/** Margin over the estimated gas of the relayer's transaction, in percent. */
const GAS_LIMIT_MARGIN_PERCENT = 20n;

/** Every check of the relay, its HTTP status (by problem kind) — the `check` member of a refusal. */
export const RELAY_CHECKS = {
  malformed: "bad-request",
  "bad-signature": "unauthorized",
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
  /** How many requests are waiting for their dependency now. */
  waiting(): number;
  /** Degraded (not down) while the relayer holds less than RELAYER_MIN_BALANCE_ETH. */
  health: HealthCheck;
};

/** Runs tasks one at a time, in call order. */
function serial() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.catch(() => undefined).then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}

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
  const oneAtATime = serial();
  const dependencies = createDependencyGate({ client, bounds: dependencyBounds });
  const wallet = createWalletClient({ account: relayer, chain: client.chain, transport: client.transport });

  const node = <T>(what: string, promise: Promise<T>): Promise<T> =>
    promise.catch((cause: unknown) => {
      throw unavailable(what, cause);
    });

  /** The limits over the last 24 h; throws the first that `extraGas` more would break. */
  async function checkLimits(signer: Address, extraGas: bigint, trx: Knex = db): Promise<void> {
    const usage = await repo.usage(signer, trx);
    const retryAfter = (oldest: Date | undefined) =>
      oldest ? Math.max(1, Math.ceil((oldest.getTime() + 86_400_000 - now()) / 1000)) : 3600;
    if (usage.signerRequests + 1 > limits.signerDailyRequests)
      throw new RelayRefusal(
        "signer-limit",
        `This signer has had ${usage.signerRequests} requests relayed here in the last 24 hours (RELAY_SIGNER_DAILY_REQUESTS = ${limits.signerDailyRequests}); try again later or use another provider's relay.`,
        { retryAfterSeconds: retryAfter(usage.signerOldest) },
      );
    if (usage.requests + 1 > limits.dailyRequests)
      throw new RelayRefusal(
        "daily-limit",
        `This relay has relayed its ${limits.dailyRequests} requests of the last 24 hours (RELAY_DAILY_REQUESTS); try again later or use another provider's relay.`,
        { retryAfterSeconds: retryAfter(usage.oldest) },
      );
    if (usage.gas + extraGas > limits.dailyGas)
      throw new RelayRefusal(
        "gas-budget",
        `This relay's daily gas budget (RELAY_DAILY_GAS = ${limits.dailyGas}) would be exceeded: ${usage.gas} used in the last 24 hours, this request needs up to ${extraGas}; try again later or use another provider's relay.`,
        { retryAfterSeconds: retryAfter(usage.oldest) },
      );
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

  async function relay(body: unknown): Promise<RelayResult> {
    const parsed = relayRequestSchema.safeParse(body);
    if (!parsed.success) throw new RelayRefusal("malformed", describeZodError(parsed.error));
    const { request, signature, notBeforeBlock, after } = parsed.data;
    const digest = hashForwardRequest(request, domain);
    const signer = await recoverForwardRequestSigner(request, signature, domain).catch(() => undefined);
    if (signer !== request.from)
      throw new RelayRefusal(
        "bad-signature",
        `The signature does not recover \`from\` for this request: sign the EIP-712 ForwardRequest with from's key, in the domain MedRecForwarder version 1, chain id ${settings.chainId}, verifying contract ${settings.forwarder}.`,
      );
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
    const data = toForwardRequestData(request, signature);
    const verified = await node(
      "Verifying the request failed",
      pc.readContract({
        address: settings.forwarder,
        abi: medRecForwarderAbi,
        functionName: "verify",
        args: [data],
      }),
    );
    if (!verified)
      throw new RelayRefusal(
        "bad-signature",
        "The forwarder does not accept this request (its `verify` is false): sign it again for this network's forwarder.",
      );
    await checkLimits(request.from, 0n);
    const calldata = encodeFunctionData({ abi: medRecForwarderAbi, functionName: "execute", args: [data] });
    await simulate(request, calldata);

    const estimate = await node(
      "Estimating the gas failed",
      pc.estimateGas({ account: relayer.address, to: settings.forwarder, data: calldata, value: 0n }),
    );
    const gasLimit = estimate + (estimate * GAS_LIMIT_MARGIN_PERCENT) / 100n;

    return oneAtATime(() =>
      repo.serialized(async (trx) => {
        const again = await repo.byDigest(digest, trx);
        if (again) return { txHash: again.txHash, repeated: true };
        await checkLimits(request.from, gasLimit, trx);
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
        const balance = await node(
          "Reading the relayer's balance failed",
          pc.getBalance({ address: relayer.address }),
        );
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
          },
          trx,
        );
        try {
          await pc.sendRawTransaction({ serializedTransaction: serialized });
        } catch (cause) {
          if (!/already known/i.test(cause instanceof Error ? cause.message : ""))
            throw unavailable("Sending the transaction failed", cause);
        }
        log.info({ contract, function: fn, gasLimit: String(gasLimit) }, "request relayed");
        return { txHash, repeated: false };
      }),
    );
  }

  const balance = () => pc.getBalance({ address: relayer.address });

  return {
    relayer: relayer.address,
    allowlist,
    relay,
    balance,
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
