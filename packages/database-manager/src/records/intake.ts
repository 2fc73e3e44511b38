import { randomUUID } from "node:crypto";
import type { FhirResource } from "../seams.ts";
import { FHIR_ID } from "./fhir-validator.ts";

type Entry = { fullUrl?: unknown; resource: FhirResource; request?: { method?: unknown; url?: unknown } };

const UUID_URN = /^urn:uuid:([0-9a-fA-F-]{36})$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Rewrites every `reference` equal to a key of `map` (an entry's fullUrl) to the stored `Type/id`. */
function rewriteReferences(value: unknown, map: ReadonlyMap<string, string>): void {
  if (Array.isArray(value)) {
    for (const v of value) rewriteReferences(v, map);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "reference" && typeof v === "string") {
        const target = map.get(v);
        if (target !== undefined) value[k] = target;
      } else {
        rewriteReferences(v, map);
      }
    }
  }
}

/** A server-assigned `meta`: `lastUpdated` set, `versionId` dropped (this store keeps no history). */
export function stampMeta(resource: FhirResource, lastUpdated: string): FhirResource {
  const meta = isObject(resource.meta) ? { ...resource.meta } : {};
  delete meta.versionId;
  meta.lastUpdated = lastUpdated;
  return { ...resource, meta };
}

/**
 * The resources of a validated Bundle as they will be stored: deep copies with ids assigned
 * (resource id, else the PUT url's id, else the `urn:uuid:` of the fullUrl, else a new UUID),
 * references to in-bundle `fullUrl`s and conditional references that match exactly one resource
 * of the bundle ({@link conditionalTargets}) rewritten to `Type/id`, the other conditional
 * references made logical ({@link identifyUnresolved}), and `meta.lastUpdated` set.
 * Returns the 0-based entry index of a second entry with the same type and id as `duplicateOf`.
 */
export function prepareBundleResources(
  bundle: { entry?: unknown[] },
  { lastUpdated, newId = randomUUID }: { lastUpdated: string; newId?: () => string },
): { resources: FhirResource[] } | { duplicate: number; duplicateOf: number } {
  const entries = (bundle.entry ?? []) as Entry[];
  const resources: FhirResource[] = [];
  const fullUrls = new Map<string, string>();
  const seen = new Map<string, number>();
  for (const entry of entries) {
    const resource = structuredClone(entry.resource);
    let id = resource.id;
    if (id === undefined && entry.request?.method === "PUT" && typeof entry.request.url === "string") {
      id = entry.request.url.split("/")[1];
    }
    const uuid = typeof entry.fullUrl === "string" ? UUID_URN.exec(entry.fullUrl)?.[1] : undefined;
    if (id === undefined && uuid !== undefined) id = uuid.toLowerCase();
    if (id === undefined || !FHIR_ID.test(id)) id = newId();
    resource.id = id;
    if (typeof entry.fullUrl === "string") fullUrls.set(entry.fullUrl, `${resource.resourceType}/${id}`);
    resources.push(resource);
  }
  for (let i = 0; i < resources.length; i++) {
    const r = resources[i] as FhirResource;
    const key = `${r.resourceType}/${r.id}`;
    const first = seen.get(key);
    if (first !== undefined) return { duplicate: i, duplicateOf: first };
    seen.set(key, i);
  }
  const targets = new Map([...fullUrls, ...conditionalTargets(resources)]);
  if (targets.size) for (const r of resources) rewriteReferences(r, targets);
  for (const r of resources) identifyUnresolved(r);
  return { resources: resources.map((r) => stampMeta(r, lastUpdated)) };
}

/**
 * Conditional references (`Practitioner?identifier=system|value`, FHIR R4 transaction rules)
 * that match exactly one resource of the same upload, mapped to that resource's `Type/id`. Those
 * that match none (the provider directory is not part of a patient's upload) or several are not
 * in the map: {@link identifyUnresolved} keeps what they say.
 */
export function conditionalTargets(resources: readonly FhirResource[]): Map<string, string> {
  const found = new Map<string, string | null>();
  const add = (key: string, target: string) => {
    const seen = found.get(key);
    found.set(key, seen === undefined || seen === target ? target : null);
  };
  for (const r of resources) {
    if (!Array.isArray(r.identifier)) continue;
    const target = `${r.resourceType}/${r.id}`;
    for (const identifier of r.identifier as unknown[]) {
      if (!isObject(identifier) || typeof identifier.value !== "string") continue;
      const system = typeof identifier.system === "string" ? identifier.system : undefined;
      if (system !== undefined) add(`${r.resourceType}?identifier=${system}|${identifier.value}`, target);
      add(`${r.resourceType}?identifier=${identifier.value}`, target);
    }
  }
  const map = new Map<string, string>();
  for (const [key, target] of found) if (target !== null) map.set(key, target);
  return map;
}

const CONDITIONAL = /^([A-Z][A-Za-z]+)\?identifier=([^&]+)$/;

/**
 * A conditional reference left after resolution (`Practitioner?identifier=system|value`) is only
 * meaningful inside the transaction that carried it: stored and served, it would be an invalid
 * reference (FHIR R4 `Reference.reference` is a literal URL). It becomes the logical reference it
 * stands for — `{ type, identifier: { system, value } }`, display kept — which FHIR provides for
 * a target that cannot be located. Other conditional forms (several parameters) are left alone.
 */
export function identifyUnresolved(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) identifyUnresolved(v);
    return;
  }
  if (!isObject(value)) return;
  const match = typeof value.reference === "string" ? CONDITIONAL.exec(value.reference) : null;
  if (match) {
    let token = match[2] as string;
    try {
      token = decodeURIComponent(token);
    } catch {
      // Not percent-encoded: taken as written.
    }
    const bar = token.indexOf("|");
    const identifier =
      bar < 0 ? { value: token } : { system: token.slice(0, bar), value: token.slice(bar + 1) };
    if (identifier.value !== "" && identifier.system !== "") {
      delete value.reference;
      if (value.type === undefined) value.type = match[1];
      if (value.identifier === undefined) value.identifier = identifier;
    }
    return;
  }
  for (const v of Object.values(value)) identifyUnresolved(v);
}
