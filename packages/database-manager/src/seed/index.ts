// Deterministic synthetic data for demos and tests (no real patients).
export { seedLegacy, seedPatientAddress, seedPatientRecords, seedPatients } from "./seed.ts";
export { generatePatientBundle, generatePatientRecords, SYNTHETIC_EPOCH, syntheticMrn } from "./synthetic.ts";
