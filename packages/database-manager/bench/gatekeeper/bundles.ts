/**
 * Record sets of a given size for the growth curves, grown from one synthetic patient's ~21
 * resources: every resource but the Patient is copied under a new id (`<id>-<tag><n>`) until there
 * are `size`. Copies keep their references (to the Patient, the first encounters), so every
 * set validates as the original does. Pure; tested in bundles.test.ts.
 */
import type { FhirResource } from "../../src/seams.ts";

export function growResources(base: readonly FhirResource[], size: number, tag = "g"): FhirResource[] {
  if (size < base.length) throw new RangeError(`cannot grow ${base.length} resources to ${size}`);
  const copyable = base.filter((r) => r.resourceType !== "Patient");
  if (copyable.length === 0) throw new RangeError("nothing but a Patient to copy");
  const out = [...base];
  for (let n = 0; out.length < size; n++) {
    const r = copyable[n % copyable.length] as FhirResource;
    out.push({ ...structuredClone(r), id: `${r.id}-${tag}${Math.floor(n / copyable.length)}` });
  }
  return out;
}

/** `count` copies of the non-Patient resources under ids tagged `tag` (a batch for an ingest). */
export function extraResources(base: readonly FhirResource[], count: number, tag: string): FhirResource[] {
  return growResources(base, count + base.length, tag).slice(base.length);
}
