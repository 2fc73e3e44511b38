// The account feature: the patient's ID for front desks, registration, backup status, this device.
export { AccountScreen } from "./components/account-screen.tsx";
