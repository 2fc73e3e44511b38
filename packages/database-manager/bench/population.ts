/**
 * The benches' Synthea histories (bench:records, and bench:dapp in packages/user-client): the
 * population of older people's whole lives, the largest history under the upload limit, and
 * several histories together as one NDJSON upload.
 */
import { readFile, stat } from "node:fs/promises";
import { ensurePopulation, type Population } from "../scripts/synthea.ts";

/** Older people's whole histories (Synthea adds the deceased it generates on the way), no directory bundles. */
export const BENCH_POPULATION: Population = {
  name: "bench-lifetime",
  seed: 3,
  args: [
    "-p",
    "1",
    "-a",
    "88-95",
    "--exporter.years_of_history=0",
    "--exporter.hospital.fhir.export=false",
    "--exporter.practitioner.fhir.export=false",
  ],
};

/** Histories under this size fit one staff upload. */
export const HISTORY_MAX_BYTES = 40 * 1000 * 1000;

export type Bundle = { entry: { fullUrl?: string; resource: { resourceType: string; id: string } }[] };
export type Person = { file: string; size: number };

/** The bundle as NDJSON: one resource per line, `urn:uuid` references as `Type/id` (as Bulk Data exports them). */
export function toNdjson(bundle: Bundle): string {
  const map = new Map(bundle.entry.map((e) => [e.fullUrl, `${e.resource.resourceType}/${e.resource.id}`]));
  return bundle.entry
    .map((e) =>
      JSON.stringify(e.resource, (key, value) =>
        key === "reference" && typeof value === "string" && map.has(value) ? map.get(value) : value,
      ),
    )
    .join("\n");
}

/** The population's people (generated once), largest history first. */
export async function populationPeople(population: Population = BENCH_POPULATION): Promise<Person[]> {
  const people: Person[] = [];
  for (const f of await ensurePopulation(population)) people.push({ file: f, size: (await stat(f)).size });
  return people.sort((a, b) => b.size - a.size);
}

/**
 * ≥ `target` resources and ≥ `minBytes` as one NDJSON upload: the people's histories (each under
 * the upload limit) together, largest first; when they run out, they are taken again with their
 * ids suffixed, as another patient's copy would be.
 */
export async function bulkNdjson(
  people: readonly Person[],
  target: number,
  minBytes: number,
): Promise<{ text: string; count: number }> {
  const lines: string[] = [];
  let bytes = 0;
  const done = () => lines.length >= target && bytes >= minBytes;
  for (let pass = 0; pass < 4 && !done(); pass++)
    for (const p of people.filter((x) => x.size <= HISTORY_MAX_BYTES)) {
      const b = JSON.parse(await readFile(p.file, "utf8")) as Bundle;
      for (const line of toNdjson(b).split("\n")) {
        if (done()) break;
        const resource = JSON.parse(line) as { id?: string };
        const out = pass === 0 ? line : JSON.stringify({ ...resource, id: `${resource.id}-${pass}` });
        lines.push(out);
        bytes += Buffer.byteLength(out) + 1;
      }
    }
  return { text: lines.join("\n"), count: lines.length };
}
