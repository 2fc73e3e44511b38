import { BaseError } from "./errors.ts";
import { isObject } from "./fhir.ts";

/** Scope code → bit index in the on-chain `uint16` scope set (docs/protocol.md "Scopes"). */
export const SCOPE_BITS = {
  demographics: 0,
  encounters: 1,
  conditions: 2,
  medications: 3,
  allergies: 4,
  immunizations: 5,
  labs: 6,
  vitals: 7,
  documents: 8,
  procedures: 9,
  sensitive: 14,
  other: 15,
} as const;

/** A scope code, e.g. `"labs"`. Also the values `?category=` accepts. */
export type ScopeCode = keyof typeof SCOPE_BITS;

/** Every scope code, in bit order. */
export const SCOPE_CODES = Object.freeze(
  (Object.keys(SCOPE_BITS) as ScopeCode[]).sort((a, b) => SCOPE_BITS[a] - SCOPE_BITS[b]),
) as readonly ScopeCode[];

/** The bits that name a scope: `0xC3FF`. Equals the contract's `KNOWN_SCOPES()`. */
export const KNOWN_SCOPES_MASK = 0xc3ff;

/** The FHIR code system of confidentiality labels in `meta.security`. */
export const CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

/** The FHIR code system of `Observation.category`. */
export const OBSERVATION_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category";

/** Confidentiality codes that make a resource `sensitive`: restricted and very restricted. */
const SENSITIVE_CONFIDENTIALITY = new Set(["R", "V"]);

/** Resource types whose scope follows from the type alone. */
const RESOURCE_SCOPES: Readonly<Record<string, ScopeCode>> = {
  Patient: "demographics",
  Encounter: "encounters",
  Condition: "conditions",
  MedicationRequest: "medications",
  MedicationStatement: "medications",
  AllergyIntolerance: "allergies",
  Immunization: "immunizations",
  DiagnosticReport: "labs",
  DocumentReference: "documents",
  Procedure: "procedures",
};

/** Thrown for a scope code not in the table. */
export class UnknownScopeError extends BaseError {
  override name = "UnknownScopeError";
  /** The offending value. */
  readonly scope: unknown;
  constructor({ scope }: { scope: unknown }) {
    super(`Unknown scope ${JSON.stringify(scope) ?? String(scope)}.`, {
      metaMessages: [`Known scopes: ${SCOPE_CODES.join(", ")}.`],
    });
    this.scope = scope;
  }
}

/** Thrown for a scope mask that is not a `uint16` or sets bits that name no scope. */
export class InvalidScopeMaskError extends BaseError {
  override name = "InvalidScopeMaskError";
  /** The offending value. */
  readonly mask: unknown;
  constructor({ mask }: { mask: unknown }) {
    super(`Invalid scope mask ${String(mask)}.`, {
      metaMessages: [
        `A scope mask is an integer whose set bits are within 0x${KNOWN_SCOPES_MASK.toString(16)}.`,
      ],
    });
    this.mask = mask;
  }
}

/** Thrown by {@link requiredScopes} for a value that is not a JSON object. */
export class InvalidResourceError extends BaseError {
  override name = "InvalidResourceError";
  constructor() {
    super("A FHIR resource must be a JSON object.");
  }
}

/** Whether `value` is a scope code. */
export function isScopeCode(value: unknown): value is ScopeCode {
  return typeof value === "string" && Object.hasOwn(SCOPE_BITS, value);
}

/**
 * Parses a scope code (exact, lower case), e.g. from `?category=`.
 *
 * @throws {UnknownScopeError} for anything else.
 * @example parseScope("labs") // "labs"
 */
export function parseScope(code: unknown): ScopeCode {
  if (!isScopeCode(code)) throw new UnknownScopeError({ scope: code });
  return code;
}

/**
 * The bit mask of a set of scope codes.
 *
 * @throws {UnknownScopeError} if any code is unknown.
 * @example scopesToMask(["labs", "vitals"]) // 0xc0
 */
export function scopesToMask(codes: Iterable<string>): number {
  let mask = 0;
  for (const code of codes) mask |= 1 << SCOPE_BITS[parseScope(code)];
  return mask;
}

/**
 * The scope codes of a bit mask, in bit order.
 *
 * @throws {InvalidScopeMaskError} if `mask` is not an integer in `[0, 0xFFFF]` or sets an unknown bit.
 * @example maskToScopes(0x4040) // ["labs", "sensitive"]
 */
export function maskToScopes(mask: number | bigint): ScopeCode[] {
  const value = typeof mask === "bigint" ? Number(mask) : mask;
  if (!Number.isInteger(value) || value < 0 || value > 0xffff || (value & ~KNOWN_SCOPES_MASK) !== 0)
    throw new InvalidScopeMaskError({ mask });
  return SCOPE_CODES.filter((code) => (value & (1 << SCOPE_BITS[code])) !== 0);
}

/** Whether every scope in `required` is in `granted`. */
export function hasScopes(granted: number, required: number): boolean {
  return (granted & required) === required;
}

function codings(concepts: unknown): unknown[] {
  if (!Array.isArray(concepts)) return [];
  return concepts.flatMap((concept) =>
    isObject(concept) && Array.isArray(concept.coding) ? (concept.coding as unknown[]) : [],
  );
}

/** Whether this resource itself (not what it carries) is labelled confidentiality `R` or `V`. */
function labelledSensitive(resource: unknown): boolean {
  if (!isObject(resource) || !isObject(resource.meta) || !Array.isArray(resource.meta.security)) return false;
  return resource.meta.security.some(
    (coding) =>
      isObject(coding) &&
      coding.system === CONFIDENTIALITY_SYSTEM &&
      typeof coding.code === "string" &&
      SENSITIVE_CONFIDENTIALITY.has(coding.code),
  );
}

/**
 * Whether a resource, or any resource inside it (contained, in a nested Bundle), carries
 * confidentiality `R` or `V` in `meta.security`, which makes it need `sensitive` in addition to its
 * categories. `false` for anything that is not an object.
 */
export function isSensitive(resource: unknown): boolean {
  return isObject(resource) && resourcesWithin(resource).some(labelledSensitive);
}

/**
 * The category scopes of a resource, without `sensitive`: one code, except an Observation
 * categorised both `laboratory` and `vital-signs`, which needs both (fail closed).
 */
export function resourceCategories(resource: unknown): ScopeCode[] {
  if (!isObject(resource)) throw new InvalidResourceError();
  const type = resource.resourceType;
  if (typeof type !== "string") return ["other"];
  if (type === "Observation") {
    const found = new Set<ScopeCode>();
    for (const coding of codings(resource.category)) {
      if (!isObject(coding)) continue;
      // A coding from another system that happens to reuse the code is not this category.
      if (coding.system !== undefined && coding.system !== OBSERVATION_CATEGORY_SYSTEM) continue;
      if (coding.code === "laboratory") found.add("labs");
      else if (coding.code === "vital-signs") found.add("vitals");
    }
    return found.size ? SCOPE_CODES.filter((code) => found.has(code)) : ["other"];
  }
  return [Object.hasOwn(RESOURCE_SCOPES, type) ? (RESOURCE_SCOPES[type] as ScopeCode) : "other"];
}

/**
 * The resource and every resource inside it, itself first: each object at any depth that has a
 * `resourceType` member — `contained` resources, the entries of a contained or nested Bundle
 * (`Bundle.entry.resource`, `entry.response.outcome`), `Parameters.parameter.resource`, and
 * whatever else carries one. Found by walking the whole value (iteratively: no recursion to
 * exhaust), so no place a resource can hide in is missed.
 *
 * @throws {InvalidResourceError} if `resource` is not an object.
 */
function resourcesWithin(resource: unknown): Record<string, unknown>[] {
  if (!isObject(resource)) throw new InvalidResourceError();
  const found: Record<string, unknown>[] = [];
  const stack: unknown[] = [resource];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== "object") continue;
    // The resource itself counts even without a `resourceType` (then it needs `other`).
    if (value === resource || (!Array.isArray(value) && Object.hasOwn(value, "resourceType")))
      found.push(value as Record<string, unknown>);
    const children = Object.values(value as object);
    // Reversed onto the stack: resources come out in document order.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return found;
}

/**
 * The scope mask a viewer needs to see a FHIR R4 resource: the category bits (per the
 * docs/protocol.md table, unknown types → `other`) of the resource **and of every resource inside
 * it** ({@link resourcesWithin}: contained resources, nested Bundles' entries), plus `sensitive`
 * when any of them is labelled confidentiality `R` / `V`. A viewer is served a resource only when
 * it holds all of these: an Encounter with a contained Condition needs `encounters` and
 * `conditions`; a restricted label anywhere inside needs `sensitive`.
 *
 * @throws {InvalidResourceError} if `resource` is not an object.
 * @example requiredScopes({ resourceType: "Condition" }) // 0x4 (conditions)
 * @example requiredScopes({ resourceType: "Encounter", contained: [{ resourceType: "Condition" }] }) // 0x6
 */
export function requiredScopes(resource: unknown): number {
  let mask = 0;
  for (const within of resourcesWithin(resource)) {
    mask |= scopesToMask(resourceCategories(within));
    if (labelledSensitive(within)) mask |= 1 << SCOPE_BITS.sensitive;
  }
  return mask;
}
