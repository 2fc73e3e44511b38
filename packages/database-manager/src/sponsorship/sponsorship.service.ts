/**
 * The sponsor account: pays relationship delegates' gas and runs the patients' faucet. Patients
 * never obtain ether by hand; the faucet tops an address up to SPONSOR_TOP_UP_ETH, within a daily
 * budget per address and in total, counted from the database ledger (a restart resets nothing).
 */
import type { Knex } from "knex";
import type { Logger } from "pino";
import { type Address, createWalletClient, getAddress, type Hex, type WalletClient } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { type ChainClient, unavailable } from "../chain/client.ts";
import type { ChainSettings } from "../chain/config.ts";
import { ProblemError } from "../errors.ts";
import { type SponsorshipKind, sponsorshipRepository } from "./sponsorship.repository.knex.ts";

/** Advisory-lock namespace of the faucet's budget check (pg_advisory_xact_lock(ns, 0)). */
const LOCK_NAMESPACE = 0x5350; // "SP"

export type SponsorResult = { address: Address; amount: bigint; transaction: Hex | null; balance: bigint };

/** Runs one task at a time per key, in call order. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.catch(() => undefined).then(task);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}

export type SponsorParameters = {
  client: ChainClient;
  settings: Pick<ChainSettings, "sponsorPrivateKey" | "limits" | "receiptTimeoutMs">;
  db: Knex;
  logger: Logger;
};

export type Sponsor = ReturnType<typeof createSponsor>;

/** The sponsor: `fundDelegate` for the writer, `topUp` for the faucet route. */
export function createSponsor({ client, settings, db, logger }: SponsorParameters) {
  const account: PrivateKeyAccount = privateKeyToAccount(settings.sponsorPrivateKey);
  const wallet: WalletClient = createWalletClient({
    account,
    chain: client.chain,
    transport: client.transport,
  });
  const ledger = sponsorshipRepository(db);
  const mutex = new KeyedMutex();
  const log = logger.child({ component: "sponsor" });
  const { limits } = settings;

  /** Sends from the sponsor one at a time (its nonce), records the transfer, waits for the receipt. */
  async function transfer(
    kind: SponsorshipKind,
    to: Address,
    amount: bigint,
    reservation: number,
  ): Promise<Hex> {
    let hash: Hex;
    try {
      hash = await mutex.run("send", () =>
        wallet.sendTransaction({ account, chain: client.chain, to, value: amount }),
      );
    } catch (cause) {
      await ledger.failed(reservation).catch(() => undefined);
      log.error({ err: (cause as Error).name, kind }, "sponsor transfer failed");
      throw unavailable("Sending gas money failed", cause);
    }
    await ledger.sent(reservation, hash);
    const receipt = await client.publicClient
      .waitForTransactionReceipt({ hash, timeout: settings.receiptTimeoutMs, pollingInterval: 200 })
      .catch((cause: unknown) => {
        throw unavailable("The gas transfer was not confirmed in time", cause);
      });
    if (receipt.status !== "success") {
      await ledger.failed(reservation);
      throw new ProblemError("internal", "The gas transfer failed on chain.");
    }
    return hash;
  }

  return {
    address: account.address,

    /** Tops a relationship delegate up to DELEGATE_FUND_ETH when it is below DELEGATE_MIN_BALANCE_ETH. */
    async fundDelegate(delegate: Address): Promise<void> {
      await mutex.run(`addr:${delegate}`, async () => {
        const balance = await client.publicClient.getBalance({ address: delegate });
        if (balance >= limits.delegateMinBalance) return;
        const amount = limits.delegateFund - balance;
        const id = await ledger.reserve("delegate", delegate, amount);
        await transfer("delegate", delegate, amount, id);
      });
    },

    /**
     * Faucet: tops `address` up to SPONSOR_TOP_UP_ETH. Nothing is sent when it already has that much.
     *
     * @throws {ProblemError} 429 when the address's or the total 24 h budget would be exceeded
     *   (`retryAfterSeconds` says when to come back), 503 when the node does not answer.
     */
    async topUp(input: Address): Promise<SponsorResult> {
      const address = getAddress(input);
      // One top-up per address at a time, so two concurrent calls cannot both see a low balance.
      return mutex.run(`addr:${address}`, async () => {
        const balance = await client.publicClient.getBalance({ address }).catch((cause: unknown) => {
          throw unavailable("Reading the balance failed", cause);
        });
        if (balance >= limits.sponsorTopUp) return { address, amount: 0n, transaction: null, balance };
        const amount = limits.sponsorTopUp - balance;
        // The budget check and the reservation are one transaction under a lock shared by every
        // gatekeeper process; the reservation is committed before any ether leaves.
        const reservation = await db.transaction(async (trx) => {
          await trx.raw("select pg_advisory_xact_lock(?, 0)", [LOCK_NAMESPACE]);
          const spent = await ledger.spentLastDay("patient", address, trx);
          if (spent.address + amount > limits.sponsorAddressDaily) {
            const retry = spent.oldestForAddress
              ? Math.max(1, Math.ceil((spent.oldestForAddress.getTime() + 86_400_000 - Date.now()) / 1000))
              : 3600;
            throw Object.assign(
              new ProblemError(
                "too-many-requests",
                "This address has received its gas allowance for the last 24 hours; try again later.",
              ),
              { retryAfterSeconds: retry },
            );
          }
          if (spent.total + amount > limits.sponsorTotalDaily)
            throw Object.assign(
              new ProblemError(
                "too-many-requests",
                "This provider's daily gas budget is used up; try again later.",
              ),
              { retryAfterSeconds: 3600 },
            );
          return ledger.reserve("patient", address, amount, trx);
        });
        const transaction = await transfer("patient", address, amount, reservation);
        log.info({ amountWei: amount.toString() }, "faucet top-up sent");
        return { address, amount, transaction, balance: balance + amount };
      });
    },
  };
}
