import { leafHash, requiredScopes } from "@medrec/protocol";
import type { Knex } from "knex";
import type { Logger } from "pino";
import type { Hex } from "viem";
import { ProblemError } from "../errors.ts";
import { type PatientsLookup, patientsRepository } from "../patients/patients.repository.knex.ts";
import type { FhirResource, RecordSet, RecordsService } from "../seams.ts";
import { describeFhirIssues, loadFhirDefinitions, validateFhirBundle } from "./fhir-validator.ts";
import { prepareBundleResources, stampMeta } from "./intake.ts";
import { buildRecordSet } from "./record-set.ts";
import { type RecordsRepository, type ResourceRow, recordsRepository } from "./records.repository.knex.ts";
import {
  ALTERNATIVE,
  type ParsedUpload,
  readUpload,
  tooManyResources,
  type UploadLimits,
  UploadStream,
} from "./upload.ts";

/**
 * What a write returns: `stored` resources accepted, of which `changed` differed; the committed
 * root; `scopes`, the union of the accepted resources' scope bits (what the audit entry names).
 */
export type IngestResult = {
  patientId: number;
  stored: number;
  changed: number;
  removed: number;
  root: Hex;
  scopes: number;
};

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
  /** MRN → patient id (the patients part); default: the `patients` table of `db`. */
  patients?: PatientsLookup;
  /** Record sets kept in memory (least recently used are dropped). Default 2000. */
  cacheSize?: number;
  /** Most resources one upload (bundle or NDJSON) may carry (413 beyond). Default 30,000. */
  maxEntries?: number;
  /** Most bytes of one staff upload, read as a stream (413 beyond). Default 64 MiB. */
  maxUploadBytes?: number;
  /** Deepest JSON nesting of an upload. Default 64. */
  maxDepth?: number;
  now?: () => Date;
};

/** Default RECORDS_UPLOAD_MAX_RESOURCES and RECORDS_UPLOAD_LIMIT_BYTES. */
export const DEFAULT_MAX_RESOURCES = 30_000;
export const DEFAULT_UPLOAD_BYTES = 64 * 1024 * 1024;

/** A record set as loaded, with the committed version it belongs to. */
type Loaded = { version: number; set: RecordSet };

/**
 * Records: FHIR R4 intake, storage, and the cached record set with its tree (seams.ts
 * RecordsService). The cache is validated against the stored version on every read (one
 * primary-key lookup), so once a change commits — in this process or any other on the same
 * database — no read here serves the old set.
 */
export class RecordsStore implements RecordsService {
  readonly #repo: RecordsRepository;
  readonly #patients: PatientsLookup;
  readonly #logger: Logger | undefined;
  readonly #cacheSize: number;
  readonly #maxEntries: number;
  readonly #uploadLimits: UploadLimits;
  readonly #now: () => Date;
  readonly #cache = new Map<number, Loaded>();
  // One snapshot load per patient at a time; readers that need it share it.
  readonly #loading = new Map<number, Promise<Loaded>>();
  readonly #listeners = new Set<(patientId: number) => void>();

  constructor(
    repo: RecordsRepository,
    patients: PatientsLookup,
    options: Omit<CreateRecordsServiceParameters, "db" | "patients"> = {},
  ) {
    this.#repo = repo;
    this.#patients = patients;
    this.#logger = options.logger;
    this.#cacheSize = options.cacheSize ?? 2000;
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_RESOURCES;
    this.#uploadLimits = {
      maxBytes: options.maxUploadBytes ?? DEFAULT_UPLOAD_BYTES,
      maxResources: this.#maxEntries,
      maxDepth: options.maxDepth ?? 64,
    };
    this.#now = options.now ?? (() => new Date());
  }

  /** The local patient id of an MRN. @throws {ProblemError} not-found. */
  async patientIdOf(mrn: string): Promise<number> {
    const id = await this.#patients.idByMrn(mrn);
    if (id === undefined) throw new ProblemError("not-found", "No patient with this MRN at this provider.");
    return id;
  }

  /**
   * Validates and stores a FHIR R4 Bundle (collection, transaction or batch) all or nothing —
   * or a staff upload still to be read from the request ({@link UploadStream}: a streamed Bundle
   * or NDJSON), see {@link ingestUpload}.
   */
  async ingestBundle(patient: number | string, bundle: unknown): Promise<IngestResult> {
    const patientId = typeof patient === "number" ? patient : await this.patientIdOf(patient);
    if (bundle instanceof UploadStream) return this.ingestUpload(patientId, bundle);
    return this.#ingestBundle(patientId, bundle, this.#maxEntries);
  }

  #ingestBundle(patientId: number, bundle: unknown, maxEntries: number): Promise<IngestResult> {
    const entries = (bundle as { entry?: unknown } | null)?.entry;
    if (Array.isArray(entries) && entries.length > maxEntries) {
      throw new ProblemError(
        "payload-too-large",
        `A bundle may carry at most ${maxEntries} entries (RECORDS_UPLOAD_MAX_RESOURCES). ${ALTERNATIVE}`,
      );
    }
    return this.#ingest(patientId, bundle, (path) => path);
  }

  /**
   * A staff upload as read from the request ({@link readUpload}): a Bundle, or NDJSON resources
   * (FHIR Bulk Data, one per line) — validated, stored all or nothing with one root, as
   * {@link ingestBundle}. NDJSON issues name the line: `line 12: Observation.status: …`.
   */
  async ingestUpload(patientId: number, upload: ParsedUpload | UploadStream): Promise<IngestResult> {
    const limits = (upload instanceof UploadStream && upload.limits) || this.#uploadLimits;
    const parsed = upload instanceof UploadStream ? await readUpload(upload, limits) : upload;
    if (parsed.format === "bundle") return this.#ingestBundle(patientId, parsed.bundle, limits.maxResources);
    const { resources, lines } = parsed;
    if (resources.length > limits.maxResources) throw tooManyResources(limits);
    const bundle = {
      resourceType: "Bundle",
      type: "collection",
      entry: resources.map((resource) => ({ resource })),
    };
    return this.#ingest(patientId, bundle, (path) => {
      const m = /^Bundle\.entry\[(\d+)\](\.resource)?(.*)$/.exec(path);
      if (!m) return path;
      const i = Number(m[1]);
      const line = `line ${lines[i]}`;
      if (!m[2]) return `${line}${m[3]}`;
      if (m[3] === ".resourceType") return `${line}: resourceType`;
      const type = (resources[i] as { resourceType?: unknown }).resourceType;
      return `${line}: ${typeof type === "string" ? type : "resource"}${m[3]}`;
    });
  }

  /** Validation, ids and references, then one write; `where` renames the issue paths. */
  async #ingest(patientId: number, bundle: unknown, where: (path: string) => string): Promise<IngestResult> {
    const issues = validateFhirBundle(bundle);
    if (issues.length) {
      throw new ProblemError(
        "unprocessable",
        describeFhirIssues(issues.map((i) => ({ ...i, path: where(i.path) }))),
      );
    }
    const prepared = prepareBundleResources(bundle as { entry?: unknown[] }, {
      lastUpdated: this.#now().toISOString(),
    });
    if ("duplicate" in prepared) {
      throw new ProblemError(
        "unprocessable",
        `${where(`Bundle.entry[${prepared.duplicate}].resource`)}: same type and id as ${where(`Bundle.entry[${prepared.duplicateOf}].resource`)}`,
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
      scopes: rows.reduce((mask, r) => mask | r.scopeMask, 0),
    };
  }

  async recordSet(patientId: number): Promise<RecordSet> {
    const version = await this.#repo.version(patientId);
    const cached = this.#cache.get(patientId);
    // Versions only grow: a set at least as new as the committed version is current.
    if (cached && cached.version >= version) {
      // Least recently used goes first: re-insert on every hit.
      this.#cache.delete(patientId);
      this.#cache.set(patientId, cached);
      return cached.set;
    }
    const shared = this.#loading.get(patientId);
    if (shared) {
      const loaded = await shared;
      if (loaded.version >= version) return loaded.set;
    }
    return (await this.#load(patientId)).set;
  }

  #load(patientId: number): Promise<Loaded> {
    const loading = this.#repo.snapshot(patientId).then(({ version, rows }) => {
      const loaded = { version, set: buildRecordSet(patientId, rows) };
      const cached = this.#cache.get(patientId);
      // A slower load of an older snapshot never replaces a newer set.
      if (!cached || cached.version < version) {
        this.#cache.delete(patientId);
        this.#cache.set(patientId, loaded);
        while (this.#cache.size > this.#cacheSize) {
          this.#cache.delete(this.#cache.keys().next().value as number);
        }
      }
      return loaded;
    });
    this.#loading.set(patientId, loading);
    const done = () => {
      if (this.#loading.get(patientId) === loading) this.#loading.delete(patientId);
    };
    loading.then(done, done);
    return loading;
  }

  /** Drops the cached set of a patient (memory only: every read checks the stored version anyway). */
  invalidate(patientId: number): void {
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
export function createRecordsService({
  db,
  patients = patientsRepository(db),
  ...options
}: CreateRecordsServiceParameters): RecordsStore {
  loadFhirDefinitions();
  return new RecordsStore(recordsRepository(db), patients, options);
}
