/**
 * The patient's transactions, relayed (the patient holds no ether): built, signed and submitted
 * with {@link relayAndWait} through a provider's gatekeeper, one after the other (each takes the
 * signer's next forwarder nonce).
 */
import type { Address, Hex, TransactionReceipt } from "viem";
import { GatekeeperRequestError } from "../client.ts";
import { relayAndWait } from "../relay.ts";
import type { PatientContext } from "./network.ts";

/** Whether a relay refused because its node has not yet seen the signer's previous request. */
function isNonceLag(error: unknown): boolean {
  return (
    error instanceof GatekeeperRequestError &&
    error.status === 409 &&
    ["wrong-nonce", "nonce-in-flight"].includes(String((error.problem as { check?: unknown })?.check))
  );
}

/** The signer's requests, one at a time: a relayed call starts when the previous one is mined. */
const queues = new WeakMap<object, Promise<unknown>>();

/** A random provider's gatekeeper (the relay is chosen per request). */
function defaultRelay(ctx: PatientContext): string {
  const urls = ctx.network.providers.map((p) => p.gatekeeperUrl);
  return urls[Math.floor(Math.random() * urls.length)] ?? "";
}

export type RelayedCall = { to: Address; data: Hex };

/**
 * Relays one call signed by `ctx.account` and waits for it to be mined. While the chosen relay's
 * node is a block behind (409 `wrong-nonce`), tries again (another relay each time), up to
 * `attempts` times.
 *
 * @throws {RelayedCallRevertedError} the call reverts (its decoded reason in `reason`).
 * @throws {GatekeeperRequestError} the relay refused it for another reason.
 */
export function relayPatientCall(
  ctx: PatientContext,
  call: RelayedCall,
  { attempts = 40 }: { attempts?: number } = {},
): Promise<{ txHash: Hex; receipt: TransactionReceipt }> {
  const previous = queues.get(ctx.account) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const { txHash, receipt } = await relayAndWait({
            client: ctx.client,
            forwarder: ctx.network.contracts.Forwarder,
            account: ctx.account,
            to: call.to,
            data: call.data,
            chainId: ctx.network.chainId,
            gatekeeperUrl: (ctx.pickRelay ?? (() => defaultRelay(ctx)))(),
            ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
          });
          return { txHash, receipt };
        } catch (error) {
          if (!isNonceLag(error) || attempt >= attempts) throw error;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    });
  queues.set(ctx.account, run);
  return run;
}
