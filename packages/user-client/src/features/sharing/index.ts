// The sharing feature: grants to viewers, and revoking them.
export { SharingScreen } from "./components/sharing-screen.tsx";
