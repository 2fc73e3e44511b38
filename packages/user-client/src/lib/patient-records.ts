/**
 * The patient's records from every provider, shared by the screens that show them (records), take
 * them elsewhere (export, print) and refresh them (notifications). Loading is the patient data
 * layer's `loadPatientRecords`: parallel sign-in, each page verified against the root on chain,
 * streamed — the store merges each verified page into one sorted timeline as it arrives, keeps what
 * failed verification apart, and a status per provider. Held in memory only, per unlocked wallet.
 */
import type { FhirResource } from "@medrec/protocol";
import {
  type LoadPatientRecordsParameters,
  loadProviderRecords,
  mergeTimeline,
  type PatientRelationship,
  type ProviderRecordsStatus,
  type RecordsEvent,
  relationshipLabel,
  type TimelineItem,
  type UnverifiedRecord,
} from "@medrec/protocol/patient";
import { useEffect, useSyncExternalStore } from "react";
import type { Patient } from "./patient.tsx";

export type ProviderRecordsState = {
  relationship: PatientRelationship;
  provider: string;
  status: ProviderRecordsStatus;
  /** Verified entries received so far. */
  loaded: number;
  /** Entries the gatekeeper announced. */
  total: number;
  /** Entries that did not verify: never in `items`. */
  unverified: UnverifiedRecord[];
  error?: { code: string; message: string };
  retryable: boolean;
};

export type RecordsState = {
  /** `idle` before the first load; `loading` while any provider is still reading. */
  phase: "idle" | "loading" | "done";
  providers: ProviderRecordsState[];
  /** Every verified entry of every provider, newest first. */
  items: TimelineItem[];
  /** Bumped on each change (for memoisation). */
  version: number;
};

const EMPTY: RecordsState = { phase: "idle", providers: [], items: [], version: 0 };

let state: RecordsState = EMPTY;
let owner: string | undefined;
const runs = new Map<string, number>();
const listeners = new Set<() => void>();

function set(next: Omit<RecordsState, "version" | "phase">) {
  const loading = next.providers.some((p) => p.status === "loading");
  state = { ...next, phase: loading ? "loading" : "done", version: state.version + 1 };
  for (const listener of listeners) listener();
}

function updateProvider(id: string, change: (p: ProviderRecordsState) => ProviderRecordsState) {
  set({
    items: state.items,
    providers: state.providers.map((p) => (p.relationship.id === id ? change(p) : p)),
  });
}

function onEvent(id: string, run: number) {
  return (event: RecordsEvent) => {
    if (runs.get(id) !== run) return; // a newer read of this provider replaced this one
    if (event.type === "restart") {
      set({
        providers: state.providers.map((p) =>
          p.relationship.id === id ? { ...p, loaded: 0, unverified: [] } : p,
        ),
        items: state.items.filter((i) => i.relationship !== id),
      });
    } else if (event.type === "page") {
      const items = event.items.length > 0 ? mergeTimeline(state.items, event.items) : state.items;
      set({
        items,
        providers: state.providers.map((p) =>
          p.relationship.id === id
            ? {
                ...p,
                loaded: p.loaded + event.items.length,
                total: event.total,
                unverified: [...p.unverified, ...event.unverified],
              }
            : p,
        ),
      });
    } else {
      const r = event.records;
      // A provider whose node lied keeps nothing on screen (adr/0012).
      if (r.status === "not-verifiable" && state.items.some((i) => i.relationship === id))
        set({ providers: state.providers, items: state.items.filter((i) => i.relationship !== id) });
      updateProvider(id, (p) => ({
        ...p,
        status: r.status,
        total: r.total,
        unverified: r.unverified,
        retryable: r.retryable,
        ...(r.error ? { error: r.error } : {}),
      }));
    }
  };
}

function fresh(relationship: PatientRelationship): ProviderRecordsState {
  return {
    relationship,
    provider: relationshipLabel(relationship),
    status: "loading",
    loaded: 0,
    total: 0,
    unverified: [],
    retryable: false,
  };
}

/** (Re)reads one provider; its earlier entries stay shown until the new read's first page. */
export async function reloadProvider(patient: Patient, relationship: PatientRelationship): Promise<void> {
  const id = relationship.id;
  const run = (runs.get(id) ?? 0) + 1;
  runs.set(id, run);
  const firstPage = { seen: false };
  const listen = onEvent(id, run);
  set({
    items: state.items,
    providers: state.providers.some((p) => p.relationship.id === id)
      ? state.providers.map((p) =>
          p.relationship.id === id ? { ...fresh(relationship), loaded: p.loaded, total: p.total } : p,
        )
      : [...state.providers, fresh(relationship)],
  });
  const parameters: Parameters<typeof loadProviderRecords>[0] = {
    ctx: patient.ctx,
    sessions: patient.sessions,
    relationship,
    pageSize: FIRST_PAGE,
    laterPageSize: LATER_PAGES,
    onEvent: (event) => {
      if (runs.get(id) !== run) return;
      if (!firstPage.seen && (event.type === "page" || event.type === "status")) {
        firstPage.seen = true;
        // The old entries go when the new read delivers its first page (no flash of nothing).
        set({
          providers: state.providers.map((p) =>
            p.relationship.id === id ? { ...p, loaded: 0, unverified: [] } : p,
          ),
          items: state.items.filter((i) => i.relationship !== id),
        });
      }
      listen(event);
    },
  };
  await loadProviderRecords(parameters);
}

/** Entries of the first page: a first screen quickly. */
const FIRST_PAGE: NonNullable<LoadPatientRecordsParameters["pageSize"]> = 100;
/** Entries of each later page (two in flight): fewer round trips and audit entries for the rest. */
const LATER_PAGES: NonNullable<LoadPatientRecordsParameters["laterPageSize"]> = 500;

/** Reads every relationship's records in parallel (what `loadPatientRecords` does, page by page into the store). */
export async function loadAll(
  patient: Patient,
  relationships: readonly PatientRelationship[],
): Promise<void> {
  const key = patient.ctx.agent.toLowerCase();
  if (owner !== key) {
    owner = key;
    runs.clear();
    state = EMPTY;
  }
  if (relationships.length === 0) set({ providers: [], items: [] });
  await Promise.all(relationships.map((r) => reloadProvider(patient, r)));
}

/**
 * The verified records held for a relationship once its read is complete (undefined while it is
 * loading or did not verify): what the notification watcher compares a provider's next change
 * with, instead of reading every record a second time.
 */
export function verifiedResourcesOf(relationship: string): FhirResource[] | undefined {
  const id = relationship.toLowerCase();
  const provider = state.providers.find((p) => p.relationship.id.toLowerCase() === id);
  if (provider?.status !== "verified") return undefined;
  return state.items.filter((i) => i.relationship.toLowerCase() === id).map((i) => i.resource);
}

/** Drops every record from memory (on lock). */
export function clearRecords(): void {
  owner = undefined;
  runs.clear();
  set({ providers: [], items: [] });
  state = EMPTY;
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The records as loaded so far; re-renders on every page. */
export function useRecordsState(): RecordsState {
  return useSyncExternalStore(
    subscribe,
    () => state,
    () => state,
  );
}

/**
 * Starts the first load for this patient (once) and returns the store. Screens call it; the first
 * to mount starts the read, the others see the same state.
 */
export function usePatientRecords(
  patient: Patient | undefined,
  relationships: readonly PatientRelationship[] | undefined,
): RecordsState {
  const current = useRecordsState();
  useEffect(() => {
    if (!patient || !relationships) return;
    const key = patient.ctx.agent.toLowerCase();
    if (owner === key && state.phase !== "idle") return;
    void loadAll(patient, relationships);
  }, [patient, relationships]);
  return current;
}
