// Taking the records elsewhere: a FHIR R4 Bundle download and a printable summary.
export { ExportScreen } from "./components/export-screen.tsx";
export { SummaryScreen } from "./components/summary-screen.tsx";
