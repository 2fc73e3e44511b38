/**
 * Contacts: names the patient gives to addresses (a daughter, a doctor, a guardian), used by
 * sharing, the access log and custodians in place of hex. Never stored in clear: the whole list is
 * one AES-256-GCM ciphertext in IndexedDB (`medrec-contacts`, one record per wallet address), under
 * a key derived with HKDF-SHA256 from the wallet's X25519 secret (itself from the 12 words) — the
 * key exists only while the wallet is unlocked and is never stored. The wallet address is bound as
 * additional data, so one wallet's list cannot be passed off as another's.
 */
import { encryptionKeyPairFromMnemonic } from "@medrec/protocol";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type Address, getAddress } from "viem";
import { z } from "zod";
import { indexedDbStore } from "./idb.ts";
import { useUnlockedWallet } from "./wallet.ts";

const DB_NAME = "medrec-contacts";
const STORE = "contacts";
const INFO = "medrec/contacts/v1";

export type Contact = { address: Address; name: string };

const contactsSchema = z.array(
  z.object({ address: z.string().regex(/^0x[0-9a-fA-F]{40}$/), name: z.string().min(1).max(80) }),
);
const sealedSchema = z.object({
  v: z.literal(1),
  iv: z.instanceof(Uint8Array),
  ciphertext: z.instanceof(ArrayBuffer),
});

/** The contacts key of this wallet: HKDF-SHA256 over its X25519 secret; non-extractable. */
async function contactsKey(mnemonic: string): Promise<CryptoKey> {
  const secret = new Uint8Array(encryptionKeyPairFromMnemonic(mnemonic).secretKey);
  const material = await crypto.subtle.importKey("raw", secret, "HKDF", false, ["deriveKey"]);
  secret.fill(0);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: new TextEncoder().encode(INFO) },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

const transact = indexedDbStore(DB_NAME, STORE, "the contacts");

/** The wallet's contacts, decrypted; empty when there are none (or they cannot be opened). */
export async function loadContacts(address: Address, mnemonic: string): Promise<Contact[]> {
  const stored = sealedSchema.safeParse(
    await transact<unknown>("readonly", (store) => store.get(address.toLowerCase())),
  );
  if (!stored.success) return [];
  try {
    const plaintext = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: new Uint8Array(stored.data.iv),
        additionalData: new TextEncoder().encode(address.toLowerCase()),
      },
      await contactsKey(mnemonic),
      stored.data.ciphertext,
    );
    const parsed = contactsSchema.safeParse(JSON.parse(new TextDecoder().decode(plaintext)));
    return parsed.success ? parsed.data.map((c) => ({ address: getAddress(c.address), name: c.name })) : [];
  } catch {
    return [];
  }
}

/** Encrypts and saves the whole list (a fresh IV each time). */
export async function saveContacts(address: Address, mnemonic: string, contacts: Contact[]): Promise<void> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(address.toLowerCase()) },
    await contactsKey(mnemonic),
    new TextEncoder().encode(JSON.stringify(contacts)),
  );
  // IndexedDB keeps the bytes as they are: no text encoding needed.
  const record = { v: 1 as const, iv, ciphertext };
  await transact("readwrite", (store) => store.put(record, address.toLowerCase()));
}

/** `name` for `address` in `contacts`, if saved. */
export function contactName(contacts: readonly Contact[] | undefined, address: string): string | undefined {
  return contacts?.find((c) => c.address.toLowerCase() === address.toLowerCase())?.name;
}

/** The contacts as the protocol's access log takes them: address → name. */
export function contactsRecord(contacts: readonly Contact[] | undefined): Record<string, string> {
  return Object.fromEntries((contacts ?? []).map((c) => [c.address, c.name]));
}

/** The unlocked wallet's contacts, and saving one (replacing the name of a saved address). */
export function useContacts() {
  const wallet = useUnlockedWallet();
  const queryClient = useQueryClient();
  const key = ["contacts", wallet.address] as const;
  const query = useQuery({
    queryKey: key,
    staleTime: Number.POSITIVE_INFINITY,
    queryFn: () => loadContacts(wallet.address, wallet.mnemonic),
  });
  const save = useMutation({
    mutationFn: async (contact: Contact) => {
      const current = await loadContacts(wallet.address, wallet.mnemonic);
      const next = [
        ...current.filter((c) => c.address.toLowerCase() !== contact.address.toLowerCase()),
        { address: getAddress(contact.address), name: contact.name.trim() },
      ].sort((a, b) => a.name.localeCompare(b.name));
      await saveContacts(wallet.address, wallet.mnemonic, next);
      return next;
    },
    onSuccess: (next) => queryClient.setQueryData(key, next),
  });
  return { contacts: query.data ?? [], loading: query.isPending, save };
}
