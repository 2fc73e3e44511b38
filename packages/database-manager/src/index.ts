export { type AppDependencies, type AppModule, createApp } from "./app.ts";
export { type Config, ConfigError, configSchema, loadConfig } from "./config.ts";
export { EmbeddedPostgresError, startEmbeddedPostgres } from "./db/embedded.ts";
export { createDb, migrateToLatest } from "./db/knex.ts";
export { PROBLEMS, type Problem, ProblemError, type ProblemKind, problem, toProblem } from "./errors.ts";
export { type Gatekeeper, startGatekeeper } from "./gatekeeper.ts";
export {
  DEMO_FAMILY_GRANT,
  DEMO_INTERACTION,
  DEMO_PATIENT,
  demoPatientBundles,
  generatePatientBundle,
  seedPatientRecords,
} from "./seed/index.ts";
