/**
 * What the dapp remembers of relationships not from a registered provider (adr/0015), sealed like
 * the contacts (sealed-store.ts, one record per wallet): whether the patient chose to hide them,
 * the signature checks already made, so that the next unlock does not check them again, and the
 * agent's list as last read (append-only), so that it reads only what came after.
 */
import type { KnownStrangers, SignatureVerdicts } from "@medrec/protocol/patient";
import { type Address, getAddress, type Hex } from "viem";
import type { HDAccount } from "viem/accounts";
import { z } from "zod";
import { sealedStore } from "./sealed-store.ts";

/** Verdicts kept at most (newest win): 10,000 strangers' relationships and room to spare. */
const MAX_VERDICTS = 50_000;

const STATUSES = ["unreadable", "unknown-provider", "mismatch", "unsigned"] as const;
const hex = (digits: number) => z.string().regex(new RegExp(`^0x[0-9a-fA-F]{${digits}}$`));

const schema = z.object({
  hidden: z.boolean(),
  known: z
    .object({
      fingerprint: hex(64),
      ids: z.array(z.tuple([hex(64), z.enum(STATUSES), hex(40).nullable()])).max(MAX_VERDICTS),
      /** The agent's list as last read, in order: the next unlock reads only what came after. */
      list: z.array(hex(64)).max(MAX_VERDICTS).optional(),
    })
    .optional(),
  verdicts: z
    .array(
      z.tuple([
        z.string().regex(/^0x[0-9a-f]{64}$/),
        z
          .string()
          .regex(/^0x[0-9a-fA-F]{40}$/)
          .nullable(),
      ]),
    )
    .max(MAX_VERDICTS),
});
type Stored = z.output<typeof schema>;

const store = sealedStore<Stored>({
  dbName: "medrec-strangers",
  storeName: "strangers",
  info: "medrec/strangers/v1",
  what: "what was checked of strangers' links",
  schema,
});

const EMPTY: Stored = { hidden: false, verdicts: [] };

/** Whether the patient hid the relationships not from a registered provider. */
export async function loadStrangersHidden(address: Address, account: HDAccount): Promise<boolean> {
  return ((await store.load(address, account)) ?? EMPTY).hidden;
}

export async function saveStrangersHidden(
  address: Address,
  account: HDAccount,
  hidden: boolean,
): Promise<void> {
  const current = (await store.load(address, account)) ?? EMPTY;
  await store.save(address, account, { ...current, hidden });
}

/** The signature checks made on this device before. */
export async function loadVerdicts(address: Address, account: HDAccount): Promise<SignatureVerdicts> {
  const current = (await store.load(address, account)) ?? EMPTY;
  return new Map(current.verdicts.map(([key, signer]) => [key, signer ? getAddress(signer) : null]));
}

/** The relationships this device found before not to be a registered provider's. */
export async function loadKnownStrangers(address: Address, account: HDAccount): Promise<KnownStrangers> {
  const known = ((await store.load(address, account)) ?? EMPTY).known;
  return {
    fingerprint: known?.fingerprint as Hex | undefined,
    ids: new Map(
      (known?.ids ?? []).map(([id, status, claims]) => [
        id,
        { status, claims: claims ? getAddress(claims) : undefined },
      ]),
    ),
    list: known?.list?.map((id) => id.toLowerCase()),
  };
}

/** Saves the signature checks (the newest {@link MAX_VERDICTS}) and the strangers' relationships found. */
export async function saveChecks(
  address: Address,
  account: HDAccount,
  verdicts: SignatureVerdicts,
  known: KnownStrangers,
): Promise<void> {
  const current = (await store.load(address, account)) ?? EMPTY;
  await store.save(address, account, {
    ...current,
    verdicts: [...verdicts].slice(-MAX_VERDICTS).map(([key, signer]) => [key.toLowerCase(), signer]),
    ...(known.fingerprint
      ? {
          known: {
            fingerprint: known.fingerprint,
            ids: [...known.ids]
              .slice(-MAX_VERDICTS)
              .flatMap(([id, { status, claims }]) =>
                (STATUSES as readonly string[]).includes(status)
                  ? [[id, status as (typeof STATUSES)[number], claims ?? null] as const]
                  : [],
              ),
            ...(known.list && known.list.length <= MAX_VERDICTS ? { list: known.list } : {}),
          },
        }
      : {}),
  });
}
