// The records feature: what the patient's providers hold.
export { RecordsScreen } from "./components/records-screen.tsx";
