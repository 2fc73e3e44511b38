/**
 * The two ways a MedRec contract is called, so that each behaviour suite runs once per way
 * (OpenZeppelin's `shouldBehaveLike…` pattern): `direct` (the account sends the transaction) and
 * `relayed` (the account signs an EIP-712 ForwardRequest, a relayer that is none of the test's
 * actors submits it to the trusted MedRecForwarder, and the contract reads `_msgSender()`).
 *
 * A relayed `contract.write.fn(args, { account })` behaves like the direct one for the assertions:
 * it resolves to the relayer's transaction hash (whose receipt carries the contract's events), and
 * when the call would revert it rejects — before anything is sent, as a relay simulates first —
 * with the contract's own revert data (replayed from the forwarder, `from` appended), not the
 * forwarder's `FailedCall()`.
 */
import type { HardhatViemHelpers } from "@nomicfoundation/hardhat-viem/types";
import { type Abi, type Address, encodeFunctionData, getAddress, type Hex, toFunctionSelector } from "viem";
import {
  forwardedCalldata,
  signForwardRequest,
  type TypedDataSigner,
  toForwardRequestData,
} from "../../packages/protocol/src/relay.ts";

export type Mode = "direct" | "relayed";
export const MODES: readonly Mode[] = ["direct", "relayed"];

/** Gas given to every forwarded call in the suites: ample (the relayer's transaction pays only what is used). */
export const FORWARDED_GAS = 2_000_000n;
/**
 * Most a relayed transaction may cost over the direct one: the forwarder's calldata (request and
 * signature), signature recovery, the signer's nonce (a fresh slot for a first request), the
 * trusted-forwarder check and the `ExecutedForwardRequest` event.
 */
export const RELAY_OVERHEAD = 50_000n;
/** The relayer: the simulated chain's last funded account, which no suite uses as an actor. */
export const RELAYER_INDEX = 19;

const FAILED_CALL = toFunctionSelector("FailedCall()");

type Viem = HardhatViemHelpers;
type Forwarder = Awaited<ReturnType<typeof deployForwarder>>;
type WriteOptions = { account?: { address: Address } } & Record<string, unknown>;

export function deployForwarder(viem: Viem) {
  return viem.deployContract("MedRecForwarder");
}

/** Revert data found on a viem error's cause chain. */
export function revertDataOf(error: unknown): Hex | undefined {
  let current: unknown = error;
  while (current instanceof Error) {
    const data = (current as { data?: unknown }).data;
    if (typeof data === "string" && data.startsWith("0x")) return data as Hex;
    current = current.cause;
  }
  return undefined;
}

/** Signs `request`-to-be as `account` and returns the `ForwardRequestData` that `execute` takes. */
export async function signedRequest(
  viem: Viem,
  forwarder: Forwarder,
  {
    from,
    to,
    data,
    gas = FORWARDED_GAS,
    deadline,
    nonce,
    signer = from,
    chainId,
    verifyingContract = forwarder.address,
  }: {
    from: Address;
    to: Address;
    data: Hex;
    gas?: bigint;
    deadline?: number;
    nonce?: bigint;
    /** Who signs (a forged request: someone other than `from`). */
    signer?: Address;
    chainId?: number;
    verifyingContract?: Address;
  },
) {
  const publicClient = await viem.getPublicClient();
  // The pending block: a test may have set its time (the request must not expire in it).
  const block = await publicClient.getBlock({ blockTag: "pending" });
  const request = {
    from: getAddress(from),
    to: getAddress(to),
    value: 0n,
    gas,
    nonce: nonce ?? (await forwarder.read.nonces([getAddress(from)])),
    deadline: deadline ?? Number(block.timestamp) + 3600,
    data,
  };
  const wallet = await viem.getWalletClient(getAddress(signer));
  const signature = await signForwardRequest(wallet as unknown as TypedDataSigner, request, {
    chainId: chainId ?? (await publicClient.getChainId()),
    forwarder: verifyingContract,
  });
  return { request, signature, data: toForwardRequestData(request, signature) };
}

/** `contract` whose `write.fn(args, { account })` goes through `forwarder`, submitted by the relayer. */
export async function relayed<C extends { address: Address; abi: Abi; write: object }>(
  viem: Viem,
  forwarder: Forwarder,
  contract: C,
): Promise<C> {
  const publicClient = await viem.getPublicClient();
  const wallets = await viem.getWalletClients();
  const relayer = wallets[RELAYER_INDEX];
  const defaultAccount = wallets[0];
  if (!relayer || !defaultAccount) throw new Error(`relayed: needs ${RELAYER_INDEX + 1} funded accounts`);

  const forward = async (functionName: string, args: readonly unknown[], options: WriteOptions) => {
    const from = getAddress((options.account ?? defaultAccount.account).address);
    const data = encodeFunctionData({ abi: contract.abi, functionName, args } as never);
    const { request, data: requestData } = await signedRequest(viem, forwarder, {
      from,
      to: contract.address,
      data,
    });
    const executeData = encodeFunctionData({
      abi: forwarder.abi,
      functionName: "execute",
      args: [requestData],
    });
    // Simulated against the pending block, as the transaction will run (a test may have set its time).
    const replayInnerCall = async (error: unknown): Promise<never> => {
      // The forwarder's own refusals carry their data; a failed call only says FailedCall():
      // replay it as the forwarder makes it to surface the contract's error.
      if (revertDataOf(error)?.slice(0, 10) === FAILED_CALL)
        await publicClient.call({
          account: forwarder.address,
          to: contract.address,
          data: forwardedCalldata(request),
          gas: request.gas,
          blockTag: "pending",
        });
      throw error;
    };
    try {
      await publicClient.call({
        account: relayer.account,
        to: forwarder.address,
        data: executeData,
        blockTag: "pending",
      });
      return await relayer.writeContract({
        address: forwarder.address,
        abi: forwarder.abi,
        functionName: "execute",
        args: [requestData],
      });
    } catch (error) {
      return replayInnerCall(error);
    }
  };

  const write = new Proxy(
    {},
    {
      get:
        (_, functionName: string) =>
        (...params: unknown[]) => {
          const [args, options] = Array.isArray(params[0])
            ? [params[0] as readonly unknown[], (params[1] ?? {}) as WriteOptions]
            : [[], (params[0] ?? {}) as WriteOptions];
          return forward(functionName, args, options);
        },
    },
  );
  return { ...contract, write } as C;
}

/** `contract` as `mode` calls it. */
export function via<C extends { address: Address; abi: Abi; write: object }>(
  mode: Mode,
  viem: Viem,
  forwarder: Forwarder,
  contract: C,
): Promise<C> {
  return mode === "relayed" ? relayed(viem, forwarder, contract) : Promise.resolve(contract);
}
