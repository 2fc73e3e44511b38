/**
 * The patient's transactions, relayed (the patient holds no ether): built, signed and submitted
 * with {@link relayAndWait} through a provider's gatekeeper, one after the other (each takes the
 * signer's next forwarder nonce). Each request names the block the patient's client built it on
 * (`notBeforeBlock`, set by relayAndWait), and that block holds the previous call's receipt: a relay
 * whose node is behind waits for it, so no request is refused for want of the previous one. A
 * relay that does not answer, whose node is too far behind to wait, or that is full right now (its
 * open lane spent, its relayer's in-flight cap reached: adr/0013) is passed over for another;
 * a request the forwarder left unexecuted (its nonce unused) though the call itself succeeds is
 * built again from the chain as it now is.
 */
import type { Address, Hex, TransactionReceipt } from "viem";
import { isRelayBehind, isRelayBusy, isRelayNotExecuted, relayAndWait } from "../relay.ts";
import { patientErrorCode } from "./errors.ts";
import type { PatientContext } from "./network.ts";

/** The signer's requests, one at a time: a relayed call starts when the previous one is mined. */
const queues = new WeakMap<object, Promise<unknown>>();

/** Every provider's gatekeeper, in random order (the relay is chosen per request). */
function relaysInRandomOrder(ctx: PatientContext): string[] {
  const urls = ctx.network.providers.map((p) => p.gatekeeperUrl);
  for (let i = urls.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [urls[i], urls[j]] = [urls[j] as string, urls[i] as string];
  }
  return urls;
}

export type RelayedCall = { to: Address; data: Hex };

/** How often a request the forwarder left unexecuted is built and sent again. */
const MAX_UNEXECUTED = 3;

/**
 * Relays one call signed by `ctx.account` and waits for it to be mined. A relay that cannot be
 * reached, or whose node is behind what the request depends on by more than it waits for, is
 * passed over for the next (in random order, or `ctx.pickRelay`'s choice first).
 *
 * @throws {RelayedCallRevertedError} the call reverts (its decoded reason in `reason`).
 * @throws {GatekeeperRequestError} the relay refused it for another reason, or no relay answered.
 */
export function relayPatientCall(
  ctx: PatientContext,
  call: RelayedCall,
): Promise<{ txHash: Hex; receipt: TransactionReceipt }> {
  const previous = queues.get(ctx.account) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(async () => {
      const relays = relaysInRandomOrder(ctx);
      const chosen = ctx.pickRelay?.();
      if (chosen) relays.unshift(chosen);
      let relay = 0;
      let unexecuted = 0;
      for (;;) {
        try {
          const { txHash, receipt } = await relayAndWait({
            client: ctx.client,
            forwarder: ctx.network.contracts.Forwarder,
            account: ctx.account,
            to: call.to,
            data: call.data,
            chainId: ctx.network.chainId,
            gatekeeperUrl: relays[relay % relays.length] ?? "",
            ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
          });
          return { txHash, receipt };
        } catch (error) {
          const passOver =
            patientErrorCode(error) === "unreachable" || isRelayBehind(error) || isRelayBusy(error);
          if (passOver && relay + 1 < relays.length) {
            relay++;
            continue;
          }
          // Not executed: built again from the chain as it now is (a few times at most).
          if (!(isRelayNotExecuted(error) && ++unexecuted <= MAX_UNEXECUTED)) throw error;
        }
      }
    });
  queues.set(ctx.account, run);
  return run;
}
