// The records feature: what the patient's providers hold, verified, by date and by category.
export { RecordsScreen } from "./components/records-screen.tsx";
