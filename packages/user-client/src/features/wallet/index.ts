// The wallet feature: create, back up, restore, unlock, and joining the network.
export { BackupFlow } from "./components/backup-flow.tsx";
export { CreateWallet } from "./components/create-wallet.tsx";
export { RestoreWallet } from "./components/restore-wallet.tsx";
export { UnlockForm } from "./components/unlock-form.tsx";
export { Welcome } from "./components/welcome.tsx";
