/**
 * Relayed meta-transactions (ERC-2771): a patient or a delegate signs an EIP-712 `ForwardRequest`
 * for the MedRecForwarder and a gatekeeper's relay (`POST /v1/relay`) pays the gas. The one helper
 * the dapp, the gatekeeper and the tests use: build, sign, submit, wait. Browser-safe.
 *
 * @example
 * const { txHash } = await relayAndWait({
 *   client, gatekeeperUrl, forwarder: manifest.contracts.Forwarder, account: patient,
 *   to: manifest.contracts.Agent,
 *   data: encodeFunctionData({ abi: agentAbi, functionName: "register", args: [key, [], 0] }),
 * })
 */
import {
  type Abi,
  type Address,
  type Client,
  concat,
  decodeErrorResult,
  getAddress,
  type Hex,
  hashTypedData,
  parseEventLogs,
  recoverTypedDataAddress,
  type TransactionReceipt,
} from "viem";
import {
  call,
  estimateGas,
  getBlock,
  getBlockNumber,
  getChainId,
  readContract,
  waitForTransactionReceipt,
  watchBlockNumber,
} from "viem/actions";
import {
  apiPaths,
  type ForwardRequest,
  type RelayDependency,
  type RelayRequest,
  relayResponseSchema,
  serializeRelayRequest,
} from "./api.ts";
import { GatekeeperRequestError, gatekeeperJson } from "./client.ts";
import { BaseError } from "./errors.ts";
import {
  agentAbi,
  agentRegistryAbi,
  auditAnchorAbi,
  medRecForwarderAbi,
  relationshipAbi,
} from "./generated/abis.ts";

export { medRecForwarderAbi, medRecForwarderBytecode } from "./generated/abis.ts";

/** The forwarder's EIP-712 name (fixed in MedRecForwarder.sol) and version (OpenZeppelin's "1"). */
export const FORWARDER_NAME = "MedRecForwarder";
export const FORWARDER_VERSION = "1";

/** EIP-712 types of OpenZeppelin 5.4's `ERC2771Forwarder` (`_FORWARD_REQUEST_TYPEHASH`). */
export const forwardRequestTypes = {
  ForwardRequest: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "gas", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint48" },
    { name: "data", type: "bytes" },
  ],
} as const;

/** Where a forward request is valid: one forwarder on one chain. */
export type ForwarderDomainParameters = { chainId: number; forwarder: Address };

/** The EIP-712 domain of the MedRecForwarder at `forwarder` on `chainId`. */
export function forwarderDomain({ chainId, forwarder }: ForwarderDomainParameters) {
  return {
    name: FORWARDER_NAME,
    version: FORWARDER_VERSION,
    chainId,
    verifyingContract: getAddress(forwarder),
  } as const;
}

/** The full EIP-712 typed data of `request` (what a wallet shows and signs). */
export function forwardRequestTypedData(request: ForwardRequest, domain: ForwarderDomainParameters) {
  return {
    domain: forwarderDomain(domain),
    types: forwardRequestTypes,
    primaryType: "ForwardRequest",
    message: request,
  } as const;
}

/** The EIP-712 digest of `request`: what `from` signs, and a relay's idempotency key. */
export function hashForwardRequest(request: ForwardRequest, domain: ForwarderDomainParameters): Hex {
  return hashTypedData(forwardRequestTypedData(request, domain));
}

/** The address that signed `request` (compare with `request.from`). */
export async function recoverForwardRequestSigner(
  request: ForwardRequest,
  signature: Hex,
  domain: ForwarderDomainParameters,
): Promise<Address> {
  return getAddress(
    await recoverTypedDataAddress({ ...forwardRequestTypedData(request, domain), signature }),
  );
}

/** Something that signs EIP-712 typed data: a viem local account (or a wallet client with an account). */
export type TypedDataSigner = {
  signTypedData(parameters: ReturnType<typeof forwardRequestTypedData>): Promise<Hex>;
};

/** `from`'s EIP-712 signature of `request` (viem `signTypedData`). */
export function signForwardRequest(
  account: TypedDataSigner,
  request: ForwardRequest,
  domain: ForwarderDomainParameters,
): Promise<Hex> {
  return account.signTypedData(forwardRequestTypedData(request, domain));
}

/**
 * Member vouchers (adr/0013 "Member vouchers"): the consortium's gatekeepers share one member key
 * and sign, with it, each of their own forward requests they send through a peer's relay. The
 * voucher says only "a member sent this", never which one. Its own EIP-712 domain (name
 * {@link VOUCHER_DOMAIN_NAME}, the chain, the forwarder) keeps it from ever being a valid forward
 * request or sign-in signature; the message is the request's EIP-712 digest.
 */
export const VOUCHER_DOMAIN_NAME = "medrec relay voucher";
export const voucherTypes = { RelayVoucher: [{ name: "request", type: "bytes32" }] } as const;

/** The EIP-712 typed data a member key signs to vouch for `request`. */
export function voucherTypedData(request: ForwardRequest, domain: ForwarderDomainParameters) {
  return {
    domain: { ...forwarderDomain(domain), name: VOUCHER_DOMAIN_NAME },
    types: voucherTypes,
    primaryType: "RelayVoucher",
    message: { request: hashForwardRequest(request, domain) },
  } as const;
}

/** The member key's voucher for `request` (the `voucher` of a relay body). */
export function signVoucher(
  member: { signTypedData(parameters: ReturnType<typeof voucherTypedData>): Promise<Hex> },
  request: ForwardRequest,
  domain: ForwarderDomainParameters,
): Promise<Hex> {
  return member.signTypedData(voucherTypedData(request, domain));
}

/** The address whose key signed `voucher` for `request` (a relay compares it with its member addresses). */
export async function recoverVoucherSigner(
  request: ForwardRequest,
  voucher: Hex,
  domain: ForwarderDomainParameters,
): Promise<Address> {
  return getAddress(
    await recoverTypedDataAddress({ ...voucherTypedData(request, domain), signature: voucher }),
  );
}

/** The `ForwardRequestData` struct that `execute` / `executeBatch` / `verify` take (no nonce: the forwarder's). */
export function toForwardRequestData(request: ForwardRequest, signature: Hex) {
  return {
    from: request.from,
    to: request.to,
    value: request.value,
    gas: request.gas,
    deadline: request.deadline,
    data: request.data,
    signature,
  };
}

/** The calldata the forwarder sends to `to`: `data` with `from` appended (ERC-2771). */
export function forwardedCalldata(request: Pick<ForwardRequest, "from" | "data">): Hex {
  return concat([request.data, request.from]);
}

/** Default lifetime of a request: 5 minutes (relays refuse deadlines more than 10 minutes ahead). */
export const DEFAULT_DEADLINE_SECONDS = 300;
/** Default gas margin over the estimate of the forwarded call, in percent. */
export const DEFAULT_GAS_MARGIN_PERCENT = 25;

export type BuildForwardRequestParameters = {
  /** A client of the chain (reads the nonce, estimates gas, reads the latest block's time). */
  client: Client;
  forwarder: Address;
  from: Address;
  to: Address;
  data: Hex;
  /** Wei sent along; MedRec's contracts take none. Default 0. */
  value?: bigint;
  /** Gas for the forwarded call. Default: estimated (as the forwarder calls it) plus `gasMarginPercent`. */
  gas?: bigint;
  gasMarginPercent?: number;
  /** Lifetime from now (the later of the clock and the latest block). Default {@link DEFAULT_DEADLINE_SECONDS}. */
  deadlineSeconds?: number;
};

/**
 * A `ForwardRequest` ready to sign: `from`'s current forwarder nonce (`nonces(from)`), the gas of the
 * forwarded call estimated from the forwarder with `from` appended (so a call that would revert
 * fails here, with its reason), and a deadline.
 *
 * @throws {RelayedCallRevertedError} the call would revert (the decoded reason in `reason`).
 */
export async function buildForwardRequest(
  parameters: BuildForwardRequestParameters,
): Promise<ForwardRequest> {
  return (await prepareForwardRequest(parameters)).request;
}

/** {@link buildForwardRequest}, and the number of the block it was built on (what the client has seen). */
async function prepareForwardRequest({
  client,
  forwarder,
  from,
  to,
  data,
  value = 0n,
  gas,
  gasMarginPercent = DEFAULT_GAS_MARGIN_PERCENT,
  deadlineSeconds = DEFAULT_DEADLINE_SECONDS,
}: BuildForwardRequestParameters): Promise<{ request: ForwardRequest; seenBlock: bigint }> {
  const request = { from: getAddress(from), to: getAddress(to), data: data.toLowerCase() as Hex };
  const [nonce, block] = await Promise.all([
    readContract(client, {
      address: forwarder,
      abi: medRecForwarderAbi,
      functionName: "nonces",
      args: [request.from],
    }),
    getBlock(client, { blockTag: "latest" }),
  ]);
  let forwardedGas = gas;
  if (forwardedGas === undefined) {
    let estimate: bigint;
    try {
      estimate = await estimateGas(client, {
        account: getAddress(forwarder),
        to: request.to,
        data: forwardedCalldata(request),
        value,
      });
    } catch (cause) {
      throw new RelayedCallRevertedError({ request, reason: decodeRevertReason(cause), cause });
    }
    forwardedGas = (estimate * BigInt(100 + gasMarginPercent)) / 100n;
  }
  const now = Math.max(Math.floor(Date.now() / 1000), Number(block.timestamp));
  return {
    request: { ...request, value, gas: forwardedGas, nonce, deadline: now + deadlineSeconds },
    seenBlock: block.number,
  };
}

/**
 * Sends `POST /v1/relay` to a gatekeeper; resolves to the relayer's transaction hash (202). With
 * `notBeforeBlock` / `after`, a relay whose node has not seen that block / mined that transaction
 * yet waits for it (bounded) instead of refusing.
 */
export async function submitRelayed({
  gatekeeperUrl,
  request,
  signature,
  fetch = globalThis.fetch,
  ...rest
}: {
  gatekeeperUrl: string;
  request: ForwardRequest;
  signature: Hex;
  fetch?: typeof globalThis.fetch;
  /** A member key's voucher (signVoucher): a gatekeeper's own request. */
  voucher?: Hex | undefined;
} & RelayDependency): Promise<Hex> {
  const body = await gatekeeperJson(gatekeeperUrl, apiPaths.relay, {
    method: "POST",
    body: serializeRelayRequest(request, signature, rest),
    fetch,
  });
  return relayResponseSchema.parse(body).txHash;
}

/** The checks of a relay that refuse a request only because its node has not seen what it depends on. */
export const RELAY_DEPENDENCY_CHECKS = [
  "dependency-too-far",
  "dependency-timeout",
  "too-many-waiting",
] as const;

/**
 * Whether a relay refused a request only because its node is behind what the request depends on
 * (`notBeforeBlock` too far ahead of it, not seen within its bound, or too many requests already
 * waiting): another provider's relay may take the same signed request at once.
 */
export function isRelayBehind(error: unknown): boolean {
  return (
    error instanceof GatekeeperRequestError &&
    (RELAY_DEPENDENCY_CHECKS as readonly string[]).includes(
      String((error.problem as { check?: unknown } | undefined)?.check),
    )
  );
}

/**
 * The checks of a relay that refuse a request only because that relay is full right now (adr/0013):
 * its open lane's daily budget is spent, its relayer has as many transactions in flight as it
 * allows, or a protective request of the same agent is not mined yet there. Another provider's
 * relay keeps its own budgets: it may take the same signed request at once.
 */
export const RELAY_BUSY_CHECKS = ["open-lane-limit", "relayer-busy", "protective-in-flight"] as const;

/** Whether a relay refused a request only because it is full right now ({@link RELAY_BUSY_CHECKS}). */
export function isRelayBusy(error: unknown): boolean {
  return (
    error instanceof GatekeeperRequestError &&
    (RELAY_BUSY_CHECKS as readonly string[]).includes(
      String((error.problem as { check?: unknown } | undefined)?.check),
    )
  );
}

/** The reason of a relayed call the forwarder did not run: the call itself would have succeeded. */
const FORWARDER_DID_NOT_EXECUTE =
  "the forwarder did not execute the request (expired, replayed, badly signed or out of gas)";

/**
 * Whether the forwarder left a mined request unexecuted although the call itself succeeds — e.g.
 * its gas was estimated on a node a block behind, where the call did less. The signer's forwarder
 * nonce was not used: building and signing the request again is safe.
 */
export function isRelayNotExecuted(error: unknown): boolean {
  return error instanceof RelayedCallRevertedError && error.reason === FORWARDER_DID_NOT_EXECUTE;
}

/** Every MedRec error, for decoding a revert wherever it came from. */
const MEDREC_ERRORS_ABI = [
  ...agentAbi,
  ...relationshipAbi,
  ...agentRegistryAbi,
  ...auditAnchorAbi,
  ...medRecForwarderAbi,
].filter((item) => item.type === "error") as Abi;

/** Raw revert data found in a viem error's cause chain, if any. */
function revertData(error: unknown): Hex | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current instanceof Error; depth++) {
    const data = (current as { data?: unknown }).data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]*$/.test(data) && data.length >= 10) return data as Hex;
    if (typeof data === "object" && data !== null) {
      const inner = (data as { data?: unknown }).data;
      if (typeof inner === "string" && /^0x[0-9a-fA-F]*$/.test(inner) && inner.length >= 10)
        return inner as Hex;
    }
    current = current.cause;
  }
  return undefined;
}

/**
 * A revert as `ErrorName(arg, …)` decoded against the MedRec contracts' and the forwarder's errors
 * (and `Error(string)` / `Panic`), or the short message of `error` when there is no revert data.
 */
export function decodeRevertReason(error: unknown): string {
  const data = revertData(error);
  if (data) {
    try {
      const decoded = decodeErrorResult({ abi: MEDREC_ERRORS_ABI, data });
      const args = (decoded.args ?? []).map((arg) => String(arg));
      return `${decoded.errorName}(${args.join(", ")})`;
    } catch {
      return `unknown error ${data.slice(0, 10)}`;
    }
  }
  if (error instanceof Error)
    return (error as { shortMessage?: string }).shortMessage ?? error.message.split("\n")[0] ?? "";
  return String(error);
}

/** A relayed call that reverted, or would revert: `reason` is the decoded contract error. */
export class RelayedCallRevertedError extends BaseError {
  override name = "RelayedCallRevertedError" as const;
  readonly reason: string;
  readonly txHash: Hex | undefined;
  constructor({
    request,
    reason,
    txHash,
    cause,
  }: {
    request: Pick<ForwardRequest, "from" | "to">;
    reason: string;
    txHash?: Hex;
    cause?: unknown;
  }) {
    super(`The call from ${request.from} to ${request.to} through the forwarder reverted: ${reason}.`, {
      cause,
      ...(txHash ? { metaMessages: [`transaction ${txHash}`] } : {}),
    });
    this.reason = reason;
    this.txHash = txHash;
  }
}

/**
 * Whether `receipt` executed `request` successfully: the forwarder's `ExecutedForwardRequest`
 * event for (`from`, `nonce`) with `success` true. (`execute` reverts the whole transaction when the
 * call fails; `executeBatch` with a refund receiver emits `success` false instead.)
 */
export function forwardRequestOutcome(
  receipt: Pick<TransactionReceipt, "status" | "logs">,
  { forwarder, request }: { forwarder: Address; request: Pick<ForwardRequest, "from" | "nonce"> },
): "success" | "failed" | "not-executed" {
  if (receipt.status !== "success") return "failed";
  const events = parseEventLogs({
    abi: medRecForwarderAbi,
    eventName: "ExecutedForwardRequest",
    logs: receipt.logs,
  }).filter(
    (log) =>
      getAddress(log.address) === getAddress(forwarder) &&
      getAddress(log.args.signer) === getAddress(request.from) &&
      log.args.nonce === request.nonce,
  );
  if (events.length === 0) return "not-executed";
  return events.some((log) => log.args.success) ? "success" : "failed";
}

/** Replays the forwarded call before `receipt`'s block to learn why it failed. */
async function reasonOfFailure(
  client: Client,
  forwarder: Address,
  request: ForwardRequest,
  receipt: TransactionReceipt,
): Promise<string> {
  try {
    await call(client, {
      account: forwarder,
      to: request.to,
      data: forwardedCalldata(request),
      gas: request.gas,
      blockNumber: receipt.blockNumber > 0n ? receipt.blockNumber - 1n : receipt.blockNumber,
    });
  } catch (error) {
    return decodeRevertReason(error);
  }
  return FORWARDER_DID_NOT_EXECUTE;
}

export type RelayAndWaitParameters = {
  /** A client of the chain (nonce, gas estimate, chain id, receipt). */
  client: Client;
  forwarder: Address;
  /** The signer: `from` of the request. */
  account: TypedDataSigner & { address: Address };
  to: Address;
  data: Hex;
  gas?: bigint;
  deadlineSeconds?: number;
  /** Chain id of the domain. Default: the client's. */
  chainId?: number;
  receiptTimeoutMs?: number;
  /**
   * A block the call depends on (e.g. where the caller saw its prerequisite mined, perhaps on
   * another node): `client` is waited for until it has it, so the estimate sees it, and the relay
   * is told. Default: none beyond what `client` has seen — the request always carries
   * `notBeforeBlock` = the block it was built on, so a relay whose node is behind `client` waits.
   */
  notBeforeBlock?: bigint;
  /** The transaction the call follows: `client` is waited for until it has its receipt; the relay is told. */
  after?: Hex;
  /** How long `client` may take to see `notBeforeBlock` / `after`. Default 30 s. */
  dependencyTimeoutMs?: number;
} & (
  | { gatekeeperUrl: string; fetch?: typeof globalThis.fetch; submit?: undefined }
  /** Submits the signed request some other way (a gatekeeper relaying in-process, a test); returns the tx hash. */
  | { submit: (relay: RelayRequest) => Promise<Hex>; gatekeeperUrl?: undefined }
);

/**
 * Resolves once `client`'s node has block `number` (or rejects after `timeoutMs`): woken by its new
 * heads (`watchBlockNumber`), not by a fixed sleep.
 */
export async function waitForBlockNumber(
  client: Client,
  number: bigint,
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<bigint> {
  const head = await getBlockNumber(client, { cacheTime: 0 });
  if (head >= number) return head;
  return new Promise<bigint>((resolve, reject) => {
    const timer = setTimeout(() => {
      unwatch();
      reject(new BlockNotSeenError({ number, timeoutMs }));
    }, timeoutMs);
    const unwatch = watchBlockNumber(client, {
      emitOnBegin: true,
      poll: true,
      pollingInterval: 100,
      onBlockNumber: (seen) => {
        if (seen < number) return;
        clearTimeout(timer);
        unwatch();
        resolve(seen);
      },
      onError: () => undefined,
    });
  });
}

/** The client's node did not reach a block in time. */
export class BlockNotSeenError extends BaseError {
  override name = "BlockNotSeenError" as const;
  constructor({ number, timeoutMs }: { number: bigint; timeoutMs: number }) {
    super(`The chain node did not reach block ${number} within ${timeoutMs} ms.`);
  }
}

/**
 * Builds, signs and submits a forward request, waits for the relayer's transaction and checks that
 * the forwarder executed the call successfully. The request carries its dependency: the block it
 * was built on (and `after`, if given), so a relay whose node is behind waits for it rather than
 * refusing the request as if the prerequisite did not exist.
 *
 * @throws {RelayedCallRevertedError} the call reverts (before submission, from the estimate; or on
 *   chain, replayed to decode the reason).
 * @throws {GatekeeperRequestError} the relay refused the request.
 */
export async function relayAndWait(parameters: RelayAndWaitParameters): Promise<{
  txHash: Hex;
  receipt: TransactionReceipt;
  request: ForwardRequest;
}> {
  const { client, forwarder, account } = parameters;
  const dependencyTimeoutMs = parameters.dependencyTimeoutMs ?? 30_000;
  if (parameters.after)
    await waitForTransactionReceipt(client, {
      hash: parameters.after,
      pollingInterval: 100,
      timeout: dependencyTimeoutMs,
    });
  if (parameters.notBeforeBlock !== undefined)
    await waitForBlockNumber(client, parameters.notBeforeBlock, { timeoutMs: dependencyTimeoutMs });
  const { request, seenBlock } = await prepareForwardRequest({
    client,
    forwarder,
    from: account.address,
    to: parameters.to,
    data: parameters.data,
    ...(parameters.gas === undefined ? {} : { gas: parameters.gas }),
    ...(parameters.deadlineSeconds === undefined ? {} : { deadlineSeconds: parameters.deadlineSeconds }),
  });
  const chainId = parameters.chainId ?? client.chain?.id ?? (await getChainId(client));
  const signature = await signForwardRequest(account, request, { chainId, forwarder });
  const dependency: RelayDependency = {
    notBeforeBlock: seenBlock,
    ...(parameters.after ? { after: parameters.after } : {}),
  };
  const txHash = parameters.submit
    ? await parameters.submit({ request, signature, ...dependency })
    : await submitRelayed({
        gatekeeperUrl: parameters.gatekeeperUrl,
        request,
        signature,
        ...dependency,
        ...(parameters.fetch ? { fetch: parameters.fetch } : {}),
      });
  const receipt = await waitForTransactionReceipt(client, {
    hash: txHash,
    pollingInterval: 250,
    ...(parameters.receiptTimeoutMs === undefined ? {} : { timeout: parameters.receiptTimeoutMs }),
  });
  if (forwardRequestOutcome(receipt, { forwarder, request }) !== "success")
    throw new RelayedCallRevertedError({
      request,
      reason: await reasonOfFailure(client, forwarder, request, receipt),
      txHash,
    });
  return { txHash, receipt, request };
}
