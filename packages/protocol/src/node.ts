// @medrec/protocol/node — everything in "@medrec/protocol" plus the Node-only manifest file helpers.

export * from "./index.ts";
export {
  findRepositoryRoot,
  ManifestNotFoundError,
  type ManifestPathParameters,
  manifestPath,
  RepositoryRootNotFoundError,
  readManifest,
  writeManifest,
} from "./manifest-file.ts";
