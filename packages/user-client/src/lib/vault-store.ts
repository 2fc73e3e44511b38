/**
 * The one place the dapp keeps anything: IndexedDB database `medrec`, store `wallet`. It holds the
 * encrypted vault (see vault.ts) and one public flag (whether the words were backed up). Never the
 * password, the words or a key in clear.
 */
import { type VaultRecord, vaultRecordSchema } from "./vault.ts";

const DB_NAME = "medrec";
const STORE = "wallet";
const KEY = "primary";

export type StoredWallet = { vault: VaultRecord; backedUp: boolean };

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("This browser refused to open its storage."));
  });
}

async function transact<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result as T);
      tx.onerror = () => reject(tx.error ?? new Error("This browser could not save the wallet."));
      tx.onabort = () => reject(tx.error ?? new Error("This browser could not save the wallet."));
    });
  } finally {
    db.close();
  }
}

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
