// The custodians feature: people who can act on the patient's records and approve a recovery, and the recovery flow.
export { CustodiansScreen } from "./components/custodians-screen.tsx";
