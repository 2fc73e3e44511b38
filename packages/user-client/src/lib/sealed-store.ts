/**
 * A value kept in IndexedDB only encrypted, one record per wallet address: AES-256-GCM (a fresh
 * 12-byte IV each save, the wallet address bound as additional data, so one wallet's record cannot
 * be passed off as another's) under a key derived with HKDF-SHA256 from the wallet's X25519
 * secret (itself from the 12 words) with `info` naming what is kept. The key exists only while the
 * wallet is unlocked and is never stored. Used by the contacts and the notifications.
 */
import { encryptionKeyPairFromAccount } from "@medrec/protocol";
import type { Address } from "viem";
import type { HDAccount } from "viem/accounts";
import { z } from "zod";
import { indexedDbStore } from "./idb.ts";

const sealedSchema = z.object({
  v: z.literal(1),
  iv: z.instanceof(Uint8Array),
  ciphertext: z.instanceof(ArrayBuffer),
});

export type SealedStore<T> = {
  /** The wallet's value, decrypted and checked; `undefined` when there is none (or it cannot be opened). */
  load(address: Address, account: HDAccount): Promise<T | undefined>;
  /** Encrypts and saves the whole value. */
  save(address: Address, account: HDAccount, value: T): Promise<void>;
};

export function sealedStore<T>({
  dbName,
  storeName,
  info,
  what,
  schema,
}: {
  dbName: string;
  storeName: string;
  /** HKDF info: one key per kind of value. */
  info: string;
  /** What is kept, for the error a person sees. */
  what: string;
  schema: z.ZodType<T>;
}): SealedStore<T> {
  const transact = indexedDbStore(dbName, storeName, what);

  // From the unlocked account's own key: no second derivation from the words (PBKDF2, slow).
  async function keyOf(account: HDAccount): Promise<CryptoKey> {
    const secret = new Uint8Array(encryptionKeyPairFromAccount(account).secretKey);
    const material = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
    secret.fill(0);
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: new TextEncoder().encode(info) },
      material,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }

  return {
    async load(address, account) {
      const stored = sealedSchema.safeParse(
        await transact<unknown>("readonly", (store) => store.get(address.toLowerCase())),
      );
      if (!stored.success) return undefined;
      try {
        const plaintext = await crypto.subtle.decrypt(
          {
            name: "AES-GCM",
            iv: new Uint8Array(stored.data.iv),
            additionalData: new TextEncoder().encode(address.toLowerCase()),
          },
          await keyOf(account),
          stored.data.ciphertext,
        );
        const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(plaintext)));
        return parsed.success ? parsed.data : undefined;
      } catch {
        return undefined;
      }
    },
    async save(address, account, value) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const ciphertext = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(address.toLowerCase()) },
        await keyOf(account),
        new TextEncoder().encode(JSON.stringify(value)),
      );
      // IndexedDB keeps the bytes as they are: no text encoding needed.
      const record = { v: 1 as const, iv, ciphertext };
      await transact("readwrite", (store) => store.put(record, address.toLowerCase()));
    },
  };
}
