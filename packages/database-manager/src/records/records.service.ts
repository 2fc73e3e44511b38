import { leafHash, requiredScopes } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import { ProblemError } from "../errors.ts";
import type { FhirResource, RecordsService } from "../seams.ts";
import { describeFhirIssues, loadFhirDefinitions, validateFhirBundle } from "./fhir-validator.ts";
import { prepareBundleResources, stampMeta } from "./intake.ts";
import { buildRecordSet, type ServedRecordSet } from "./record-set.ts";
import { RecordsRepository, type ResourceRow } from "./records.repository.knex.ts";

/** What a write returns: `stored` resources accepted, of which `changed` differed; the committed root. */
export type IngestResult = { patientId: number; stored: number; changed: number; removed: number; root: Hex };

export type IngestResourcesOptions = {
  /** Provenance kept per row; a pruning write removes only rows of its own source. Default "bundle". */
  source?: string;
  /** Delete this source's resources that are not in `resources` (a full re-sync). Default false. */
  prune?: boolean;
  /** Keep a valid `meta.lastUpdated` the resource already carries (legacy rows, seeds) instead of now. */
  keepLastUpdated?: boolean;
};

export type CreateRecordsServiceParameters = {
  db: Knex;
  logger?: Logger;
  /** Record sets kept in memory (least recently used are dropped). Default 2000. */
  cacheSize?: number;
  /** Most entries one bundle may carry (413 beyond). Default 5000. */
  maxEntries?: number;
  now?: () => Date;
};

/** Records: FHIR R4 intake, storage, and the cached record set with its tree (seams.ts RecordsService). */
export class RecordsStore implements RecordsService {
  readonly #repo: RecordsRepository;
  readonly #logger: Logger | undefined;
  readonly #cacheSize: number;
  readonly #maxEntries: number;
  readonly #now: () => Date;
  readonly #cache = new Map<number, Promise<ServedRecordSet>>();
  // Bumped on every invalidation, so a load that raced a write never caches the stale set.
  readonly #generation = new Map<number, number>();
  readonly #listeners = new Set<(patientId: number) => void>();

  constructor(repo: RecordsRepository, options: Omit<CreateRecordsServiceParameters, "db"> = {}) {
    this.#repo = repo;
    this.#logger = options.logger;
    this.#cacheSize = options.cacheSize ?? 2000;
    this.#maxEntries = options.maxEntries ?? 5000;
    this.#now = options.now ?? (() => new Date());
  }

  /** The local patient id of an MRN. @throws {ProblemError} not-found. */
  async patientIdOf(mrn: string): Promise<number> {
    const id = await this.#repo.patientIdByMrn(mrn);
    if (id === undefined) throw new ProblemError("not-found", "No patient with this MRN at this provider.");
    return id;
  }

  async ingestBundle(mrn: string, bundle: unknown): Promise<IngestResult> {
    const patientId = await this.patientIdOf(mrn);
    const entries = (bundle as { entry?: unknown } | null)?.entry;
    if (Array.isArray(entries) && entries.length > this.#maxEntries) {
      throw new ProblemError("payload-too-large", `A bundle may carry at most ${this.#maxEntries} entries.`);
    }
    const issues = validateFhirBundle(bundle);
    if (issues.length) throw new ProblemError("unprocessable", describeFhirIssues(issues));
    const prepared = prepareBundleResources(bundle as { entry?: unknown[] }, {
      lastUpdated: this.#now().toISOString(),
    });
    if ("duplicate" in prepared) {
      throw new ProblemError(
        "unprocessable",
        `Bundle.entry[${prepared.duplicate}].resource: same type and id as Bundle.entry[${prepared.duplicateOf}].resource`,
      );
    }
    return this.#write(patientId, prepared.resources, { source: "bundle", prune: false });
  }

  /**
   * Validates and stores resources for a patient (the legacy adapter's and the seeds' path):
   * same validation, storage, root and change events as {@link ingestBundle}. Issues name
   * `Bundle.entry[i]` of the resources in the order given.
   */
  async ingestResources(
    patientId: number,
    resources: readonly FhirResource[],
    { source = "bundle", prune = false, keepLastUpdated = false }: IngestResourcesOptions = {},
  ): Promise<IngestResult> {
    const issues = validateFhirBundle({
      resourceType: "Bundle",
      type: "collection",
      entry: resources.map((resource) => ({ resource })),
    });
    if (issues.length) throw new ProblemError("unprocessable", describeFhirIssues(issues));
    const now = this.#now().toISOString();
    const seen = new Set<string>();
    const stamped = resources.map((r, i) => {
      if (typeof r.id !== "string") {
        throw new ProblemError("unprocessable", `Bundle.entry[${i}].resource.id: required here`);
      }
      const key = `${r.resourceType}/${r.id}`;
      if (seen.has(key)) {
        throw new ProblemError("unprocessable", `Bundle.entry[${i}].resource: duplicate type and id`);
      }
      seen.add(key);
      const given = (r.meta as { lastUpdated?: unknown } | undefined)?.lastUpdated;
      const keep = keepLastUpdated && typeof given === "string" && !Number.isNaN(Date.parse(given));
      return stampMeta(structuredClone(r), keep ? given : now);
    });
    return this.#write(patientId, stamped, { source, prune });
  }

  async #write(
    patientId: number,
    resources: readonly FhirResource[],
    { source, prune }: { source: string; prune: boolean },
  ): Promise<IngestResult> {
    const rows: ResourceRow[] = resources.map((resource) => {
      // Exactly what is stored and served (JSON round trip drops `undefined`s) is what is hashed.
      const r = JSON.parse(JSON.stringify(resource)) as FhirResource;
      const meta = r.meta as { lastUpdated: string };
      const { lastUpdated: _, ...restMeta } = meta;
      return {
        resource: r,
        leaf: leafHash(r) as Hex,
        contentHash: leafHash({ ...r, meta: restMeta }) as Hex,
        scopeMask: requiredScopes(r),
        lastUpdated: new Date(meta.lastUpdated),
      };
    });
    const outcome = await this.#repo.writeResources(patientId, rows, { source, prune });
    if (outcome.changed || outcome.removed) {
      this.invalidate(patientId);
      this.#emit(patientId);
    }
    return {
      patientId,
      stored: rows.length,
      changed: outcome.changed,
      removed: outcome.removed,
      root: outcome.root,
    };
  }

  async recordSet(patientId: number): Promise<ServedRecordSet> {
    const cached = this.#cache.get(patientId);
    if (cached) {
      // Least recently used goes first: re-insert on every hit.
      this.#cache.delete(patientId);
      this.#cache.set(patientId, cached);
      return cached;
    }
    const generation = this.#generation.get(patientId) ?? 0;
    const loading = this.#repo.listResources(patientId).then((rows) => buildRecordSet(patientId, rows));
    this.#cache.set(patientId, loading);
    loading.then(
      () => {
        if ((this.#generation.get(patientId) ?? 0) !== generation && this.#cache.get(patientId) === loading) {
          this.#cache.delete(patientId);
        }
      },
      () => {
        if (this.#cache.get(patientId) === loading) this.#cache.delete(patientId);
      },
    );
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value as number;
      this.#cache.delete(oldest);
    }
    return loading;
  }

  /** Drops the cached set of a patient (done after every committed change; also for external writers). */
  invalidate(patientId: number): void {
    this.#generation.set(patientId, (this.#generation.get(patientId) ?? 0) + 1);
    this.#cache.delete(patientId);
  }

  onChange(listener: (patientId: number) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #emit(patientId: number): void {
    for (const listener of this.#listeners) {
      try {
        listener(patientId);
      } catch (error) {
        this.#logger?.error(
          { err: error instanceof Error ? { name: error.name, message: error.message } : String(error) },
          "records change listener failed",
        );
      }
    }
  }
}

/**
 * The records service on a knex database (migrated to 0002_records). Loads the FHIR R4
 * definitions now (~0.5 s once per process) so the first intake is not slow.
 */
export function createRecordsService({ db, ...options }: CreateRecordsServiceParameters): RecordsStore {
  loadFhirDefinitions();
  return new RecordsStore(new RecordsRepository(db), options);
}
