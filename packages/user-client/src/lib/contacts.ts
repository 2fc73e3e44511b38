/**
 * Contacts: names the patient gives to addresses (a daughter, a doctor, a guardian), used by
 * sharing, the access log, custodians and notifications in place of hex. Never stored in clear:
 * the whole list is one ciphertext in IndexedDB (`medrec-contacts`, one record per wallet address;
 * sealed-store.ts: AES-256-GCM under an HKDF key from the 12 words that exists only while unlocked).
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type Address, getAddress } from "viem";
import type { HDAccount } from "viem/accounts";
import { z } from "zod";
import { sealedStore } from "./sealed-store.ts";
import { useUnlockedWallet } from "./wallet.ts";

export type Contact = { address: Address; name: string };

const store = sealedStore({
  dbName: "medrec-contacts",
  storeName: "contacts",
  info: "medrec/contacts/v1",
  what: "the contacts",
  schema: z.array(
    z.object({ address: z.string().regex(/^0x[0-9a-fA-F]{40}$/), name: z.string().min(1).max(80) }),
  ),
});

/** The wallet's contacts, decrypted; empty when there are none (or they cannot be opened). */
export async function loadContacts(address: Address, account: HDAccount): Promise<Contact[]> {
  const stored = await store.load(address, account);
  return (stored ?? []).map((c) => ({ address: getAddress(c.address), name: c.name }));
}

/** Encrypts and saves the whole list (a fresh IV each time). */
export async function saveContacts(address: Address, account: HDAccount, contacts: Contact[]): Promise<void> {
  await store.save(address, account, contacts);
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
    queryFn: () => loadContacts(wallet.address, wallet.account),
  });
  const save = useMutation({
    mutationFn: async (contact: Contact) => {
      const current = await loadContacts(wallet.address, wallet.account);
      const next = [
        ...current.filter((c) => c.address.toLowerCase() !== contact.address.toLowerCase()),
        { address: getAddress(contact.address), name: contact.name.trim() },
      ].sort((a, b) => a.name.localeCompare(b.name));
      await saveContacts(wallet.address, wallet.account, next);
      return next;
    },
    onSuccess: (next) => queryClient.setQueryData(key, next),
  });
  return { contacts: query.data ?? [], loading: query.isPending, save };
}
