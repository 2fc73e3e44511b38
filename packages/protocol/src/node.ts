// @medrec/protocol/node — everything in "@medrec/protocol" plus the Node-only helpers: the manifest
// file, free TCP ports, the cache directory.

export { medrecCacheDir } from "./cache.ts";
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
export { freePort, freePorts } from "./ports.ts";
