// Deterministic synthetic data for demos and tests (no real patients).

export {
  DEMO_FAMILY_GRANT,
  DEMO_INTERACTION,
  DEMO_MRNS,
  DEMO_PATIENT,
  DEMO_PROVIDERS,
  type DemoPatientBundle,
  type DemoProvider,
  demoPatientBundles,
  demoPatientResources,
} from "./demo.ts";
export { seedLegacy, seedPatientAddress, seedPatientRecords, seedPatients } from "./seed.ts";
export { generatePatientBundle, generatePatientRecords, SYNTHETIC_EPOCH, syntheticMrn } from "./synthetic.ts";
