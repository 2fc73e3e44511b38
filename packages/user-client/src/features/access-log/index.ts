// The access-log feature: the verified audit log of every access to the patient's records.
export { AccessLogScreen } from "./components/access-log-screen.tsx";
