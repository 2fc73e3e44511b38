/**
 * The one place the dapp keeps anything: IndexedDB database `medrec`, store `wallet`. It holds the
 * encrypted vault (see vault.ts) and one public flag (whether the words were backed up). Never the
 * password, the words or a key in clear.
 */

import { indexedDbStore } from "./idb.ts";
import { type VaultRecord, vaultRecordSchema } from "./vault.ts";

const DB_NAME = "medrec";
const STORE = "wallet";
const KEY = "primary";

export type StoredWallet = { vault: VaultRecord; backedUp: boolean };

const transact = indexedDbStore(DB_NAME, STORE, "the wallet");

/** The saved wallet, or undefined when this browser has none (or it is unreadable). */
export async function loadWallet(): Promise<StoredWallet | undefined> {
  const value = await transact<unknown>("readonly", (store) => store.get(KEY));
  if (!value || typeof value !== "object") return undefined;
  const { vault, backedUp } = value as { vault?: unknown; backedUp?: unknown };
  const parsed = vaultRecordSchema.safeParse(vault);
  if (!parsed.success) return undefined;
  return { vault: parsed.data, backedUp: backedUp === true };
}

export async function saveWallet(wallet: StoredWallet): Promise<void> {
  await transact("readwrite", (store) => store.put(wallet, KEY));
}

/** Forgets the wallet in this browser (the words restore it anywhere). */
export async function deleteWallet(): Promise<void> {
  await transact("readwrite", (store) => store.delete(KEY));
}
