import { randomBytes } from "node:crypto";
import { BaseError } from "./errors.ts";
import { httpRpc, type RpcOptions, RpcResponseError, WsRpcClient } from "./rpc.ts";

/** {@link probeSigningSurface} was given something other than an HTTP(S) or WS(S) URL. */
export class ProbeParametersError extends BaseError {
  override name = "ProbeParametersError" as const;
  constructor({ url }: { url: string }) {
    super(`probeSigningSurface needs an http(s):// or ws(s):// URL, got ${url}`);
  }
}

/** Parameters of {@link probeSigningSurface}. */
export type ProbeSigningSurfaceOptions = RpcOptions & {
  /** Accounts that must not be usable through the endpoint (the sealers). A random address is always added. */
  addresses?: readonly string[];
};

/** What {@link probeSigningSurface} found. */
export type SigningSurfaceReport = {
  /** True when reads work, no account is listed and every signing attempt failed. */
  ok: boolean;
  /** One line per problem: a listed account, a signing method that answered, a read that failed. */
  violations: string[];
};

const PROBE_MESSAGE = "0x6d65647265632070726f6265"; // "medrec probe"

/** The signing and account-management calls tried for each address; every one must fail. */
function signingCalls(address: string): [method: string, params: unknown[]][] {
  // A complete, valid EIP-1559 transaction (geth rejects a zero gas price after London before it
  // even looks for the key, which would hide an unlocked key).
  const tx = {
    from: address,
    to: address,
    value: "0x0",
    gas: "0x5208",
    maxFeePerGas: "0x3b9aca00",
    maxPriorityFeePerGas: "0x0",
    nonce: "0x0",
  };
  const typedData = {
    types: {
      EIP712Domain: [{ name: "name", type: "string" }],
      Probe: [{ name: "text", type: "string" }],
    },
    primaryType: "Probe",
    domain: { name: "medrec-probe" },
    message: { text: "probe" },
  };
  return [
    ["eth_sign", [address, PROBE_MESSAGE]],
    ["eth_signTransaction", [tx]],
    ["eth_sendTransaction", [{ from: address, to: address, value: "0x0" }]],
    ["eth_signTypedData_v4", [address, JSON.stringify(typedData)]],
    ["personal_sign", [PROBE_MESSAGE, address, ""]],
    ["personal_unlockAccount", [address, "", 1]],
  ];
}

/**
 * Errors a node returns only AFTER it signed with the key (txpool validation of the signed
 * transaction): the key was usable and only the transaction was rejected.
 */
const SIGNED_THEN_REJECTED =
  /insufficient funds|nonce too (?:low|high)|underpriced|fee cap|base fee|intrinsic gas|already known|exceeds block gas limit|txpool is full/i;

/** Calls that must fail once per endpoint (not per address). */
const ACCOUNT_CALLS: [method: string, params: unknown[]][] = [
  ["personal_listAccounts", []],
  ["personal_newAccount", ["medrec-probe"]],
];

/**
 * Black-box check that a JSON-RPC endpoint (an `http(s)://` or `ws(s)://` URL) cannot use any
 * key: `eth_accounts` must be `[]`, and `eth_sign`, `eth_signTransaction`, `eth_sendTransaction`,
 * `eth_signTypedData_v4`, `personal_sign`, `personal_unlockAccount` (for each of `addresses` and a
 * random address), `personal_listAccounts` and `personal_newAccount` must each fail with a JSON-RPC
 * error. Reads (`eth_chainId`, `eth_blockNumber`) must work, so an endpoint that is simply down is
 * reported rather than passed. A call that gets no JSON-RPC answer at all is a violation too: the
 * probe cannot tell that it failed.
 *
 * Caution: on an endpoint that DOES sign, the probe's `eth_sendTransaction` (0 wei to the same
 * address) and `personal_newAccount` take effect — that is the defect being reported.
 */
export async function probeSigningSurface(
  url: string,
  { addresses = [], timeoutMs = 5_000 }: ProbeSigningSurfaceOptions = {},
): Promise<SigningSurfaceReport> {
  const violations: string[] = [];
  let ws: WsRpcClient | undefined;
  if (/^wss?:\/\//i.test(url)) {
    try {
      ws = await WsRpcClient.open(url, { timeoutMs });
    } catch (error) {
      return { ok: false, violations: [`cannot connect to ${url}: ${messageOf(error)}`] };
    }
  } else if (!/^https?:\/\//i.test(url)) {
    throw new ProbeParametersError({ url });
  }
  const call = <T>(method: string, params: readonly unknown[]) =>
    ws ? ws.call<T>(method, params, { timeoutMs }) : httpRpc<T>(url, method, params, { timeoutMs });

  try {
    for (const method of ["eth_chainId", "eth_blockNumber"]) {
      try {
        await call(method, []);
      } catch (error) {
        violations.push(`${method} (a read) failed: ${messageOf(error)}`);
      }
    }
    try {
      const accounts = await call<unknown>("eth_accounts", []);
      if (!Array.isArray(accounts) || accounts.length > 0)
        violations.push(`eth_accounts must be [] but returned ${JSON.stringify(accounts)}`);
    } catch (error) {
      if (!(error instanceof RpcResponseError))
        violations.push(`eth_accounts got no JSON-RPC answer: ${messageOf(error)}`);
    }
    const random = `0x${randomBytes(20).toString("hex")}`;
    const targets = [...new Set([...addresses.map((a) => a.toLowerCase()), random])];
    const attempts = [
      ...targets.flatMap((address) => signingCalls(address).map((c) => [...c, ` for ${address}`] as const)),
      ...ACCOUNT_CALLS.map((c) => [...c, ""] as const),
    ];
    for (const [method, params, what] of attempts) {
      try {
        const result = await call<unknown>(method, params);
        violations.push(`${method}${what} succeeded: ${JSON.stringify(result).slice(0, 80)}`);
      } catch (error) {
        if (!(error instanceof RpcResponseError))
          violations.push(
            `${method} got no JSON-RPC answer, so its failure is unconfirmed: ${messageOf(error)}`,
          );
        else if (SIGNED_THEN_REJECTED.test(error.shortMessage))
          violations.push(
            `${method}${what} signed, then the transaction was rejected: ${error.shortMessage}`,
          );
      }
    }
  } finally {
    ws?.close();
  }
  return { ok: violations.length === 0, violations };
}

function messageOf(error: unknown): string {
  return error instanceof Error
    ? ((error as { shortMessage?: string }).shortMessage ?? error.message)
    : String(error);
}
