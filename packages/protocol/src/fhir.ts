/**
 * The few FHIR R4 shapes this package reads. Deliberately loose: the gatekeeper validates FHIR,
 * this package only looks at `resourceType`, `meta.security`, `Observation.category` and the
 * Bundle's `meta` / `entry` / `extension`.
 */

/** A FHIR R4 `Coding`. */
export type FhirCoding = { system?: string; code?: string; display?: string; [key: string]: unknown };

/** A FHIR R4 `Extension` carrying a string. */
export type FhirExtension = { url: string; valueString?: string; [key: string]: unknown };

/** A FHIR R4 `Meta`. */
export type FhirMeta = { security?: FhirCoding[]; extension?: FhirExtension[]; [key: string]: unknown };

/** Any FHIR R4 resource (a JSON object with a `resourceType`). */
export type FhirResource = { resourceType: string; id?: string; meta?: FhirMeta; [key: string]: unknown };

/** One `Bundle.entry`. */
export type FhirBundleEntry = {
  resource?: FhirResource;
  extension?: FhirExtension[];
  [key: string]: unknown;
};

/** A FHIR R4 `Bundle`. */
export type FhirBundle = {
  resourceType: "Bundle";
  type?: string;
  meta?: FhirMeta;
  entry?: FhirBundleEntry[];
  [key: string]: unknown;
};

/** @internal Narrows `value` to a plain JSON object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
