/**
 * The patient's transactions, relayed (the patient holds no ether): built, signed and submitted
 * with {@link relayAndWait} through a provider's gatekeeper, one after the other (each takes the
 * signer's next forwarder nonce). A relay that does not answer is passed over for another; one
 * whose node is a block behind is asked again, and so is a request the forwarder left unexecuted
 * (its nonce unused) though the call itself succeeds.
 */
import type { Address, Hex, TransactionReceipt } from "viem";
import { isRelayNonceLag, isRelayNotExecuted, relayAndWait } from "../relay.ts";
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

/**
 * Relays one call signed by `ctx.account` and waits for it to be mined. A relay that cannot be
 * reached is passed over for the next (in random order, or `ctx.pickRelay`'s choice first); while
 * a relay's node is a block behind (409 `wrong-nonce`) the request is built and asked again, up to
 * `attempts` times in all.
 *
 * @throws {RelayedCallRevertedError} the call reverts (its decoded reason in `reason`).
 * @throws {GatekeeperRequestError} the relay refused it for another reason, or no relay answered.
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
      const relays = relaysInRandomOrder(ctx);
      const chosen = ctx.pickRelay?.();
      if (chosen) relays.unshift(chosen);
      let relay = 0;
      let unexecuted = 0;
      for (let attempt = 1; ; attempt++) {
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
          const unreachable = patientErrorCode(error) === "unreachable";
          if (unreachable && relay + 1 < relays.length) {
            relay++;
            continue;
          }
          // Not executed: built again from the chain as it now is (a few times at most).
          const again = isRelayNonceLag(error) || (isRelayNotExecuted(error) && ++unexecuted <= 3);
          if (!again || attempt >= attempts) throw error;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    });
  queues.set(ctx.account, run);
  return run;
}
