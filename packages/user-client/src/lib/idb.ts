/**
 * A single-store IndexedDB database, opened per transaction and closed after it: the shape both
 * the wallet's vault and the contacts use. `what` names what is kept, for the error a person sees.
 */
export type StoreTransaction = <T>(
  mode: IDBTransactionMode,
  run: (store: IDBObjectStore) => IDBRequest,
) => Promise<T>;

export function indexedDbStore(dbName: string, storeName: string, what: string): StoreTransaction {
  function openDb(): Promise<IDBDatabase> {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(dbName, 1);
      request.onupgradeneeded = () => {
        if (!request.result.objectStoreNames.contains(storeName)) request.result.createObjectStore(storeName);
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error("This browser refused to open its storage."));
    });
  }

  return async function transact<T>(
    mode: IDBTransactionMode,
    run: (store: IDBObjectStore) => IDBRequest,
  ): Promise<T> {
    const db = await openDb();
    try {
      return await new Promise<T>((resolve, reject) => {
        const tx = db.transaction(storeName, mode);
        const request = run(tx.objectStore(storeName));
        const failed = () => reject(tx.error ?? new Error(`This browser could not save ${what}.`));
        tx.oncomplete = () => resolve(request.result as T);
        tx.onerror = failed;
        tx.onabort = failed;
      });
    } finally {
      db.close();
    }
  };
}
