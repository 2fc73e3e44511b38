// The custodians feature: people who can act on the patient's records and approve a recovery, the
// recovery flow, and the page a wallet shows once a recovery handed its records to another wallet.
export { CustodiansScreen } from "./components/custodians-screen.tsx";
export { HandoverGate } from "./components/handover-gate.tsx";
