/**
 * The wallet's state for the whole app, held in memory only: whether this browser has a wallet,
 * whether it is unlocked, and — while unlocked — the account (its key) and the 12 words (for the
 * encryption key). Locking drops both; only the encrypted vault stays, in IndexedDB.
 */
import { accountFromMnemonicAsync, normalizeMnemonic, warmUpKeyDerivation } from "@medrec/protocol";
import { useSyncExternalStore } from "react";
import type { HDAccount } from "viem/accounts";
import { IDLE_LOCK_MS, watchIdle } from "./idle.ts";
import { openVault, sealVault } from "./vault.ts";
import { deleteWallet, loadWallet, saveWallet } from "./vault-store.ts";

export type WalletState =
  | { status: "loading" }
  | { status: "none" }
  | { status: "locked"; address: `0x${string}`; backedUp: boolean; reason?: "idle" | "manual" }
  | {
      status: "unlocked";
      address: `0x${string}`;
      backedUp: boolean;
      account: HDAccount;
      /** The 12 words: in memory while unlocked, for keys derived from the seed. */
      mnemonic: string;
    };

let state: WalletState = { status: "loading" };
const listeners = new Set<() => void>();
let stopIdle: (() => void) | undefined;

function set(next: WalletState) {
  state = next;
  for (const listener of listeners) listener();
}

export function getWalletState(): WalletState {
  return state;
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The wallet's state; re-renders on every change. */
export function useWallet(): WalletState {
  return useSyncExternalStore(subscribe, getWalletState, getWalletState);
}

/** The unlocked wallet. Use only under routes that require it (the app's guard ensures it). */
export function useUnlockedWallet(): Extract<WalletState, { status: "unlocked" }> {
  const wallet = useWallet();
  if (wallet.status !== "unlocked") throw new Error("The wallet is locked.");
  return wallet;
}

/** Reads IndexedDB once at start-up. */
export async function initWallet(): Promise<void> {
  const stored = await loadWallet();
  set(
    stored
      ? { status: "locked", address: stored.vault.address as `0x${string}`, backedUp: stored.backedUp }
      : { status: "none" },
  );
}

function unlockWith(account: HDAccount, mnemonic: string, backedUp: boolean, idleMs: number) {
  stopIdle?.();
  stopIdle = watchIdle(() => lock("idle"), idleMs);
  set({ status: "unlocked", address: account.address, backedUp, account, mnemonic });
}

/** Encrypts and saves `mnemonic` under `password`, then unlocks. Replaces any wallet in this browser. */
export async function saveAndUnlock({
  mnemonic,
  password,
  backedUp,
  idleMs = IDLE_LOCK_MS,
}: {
  mnemonic: string;
  password: string;
  backedUp: boolean;
  idleMs?: number;
}): Promise<void> {
  const words = normalizeMnemonic(mnemonic);
  // The seed by WebCrypto: the page stays responsive (the words are checked first, synchronously).
  const account = await accountFromMnemonicAsync(words);
  const vault = await sealVault({ secret: words, password, address: account.address });
  await saveWallet({ vault, backedUp });
  unlockWith(account, words, backedUp, idleMs);
}

/** Opens the saved vault with `password` (throws WrongPasswordError) and unlocks. */
export async function unlock(password: string, idleMs = IDLE_LOCK_MS): Promise<void> {
  const stored = await loadWallet();
  if (!stored) {
    set({ status: "none" });
    throw new Error("There is no wallet in this browser. Create one or restore it from your 12 words.");
  }
  // The curve's tables are computed while the password is stretched, not after.
  const mnemonic = await openVault(stored.vault, password, warmUpKeyDerivation);
  unlockWith(await accountFromMnemonicAsync(mnemonic), mnemonic, stored.backedUp, idleMs);
}

/** Drops the key and the words from memory. */
export function lock(reason: "idle" | "manual" = "manual"): void {
  stopIdle?.();
  stopIdle = undefined;
  if (state.status === "unlocked")
    set({ status: "locked", address: state.address, backedUp: state.backedUp, reason });
}

/** Records that the patient has proved they wrote the words down. */
export async function markBackedUp(): Promise<void> {
  const stored = await loadWallet();
  if (stored) await saveWallet({ ...stored, backedUp: true });
  if (state.status === "unlocked" || state.status === "locked") set({ ...state, backedUp: true });
}

/** Removes the wallet from this browser (it can be restored from the 12 words). */
export async function forgetWallet(): Promise<void> {
  lock();
  await deleteWallet();
  set({ status: "none" });
}
