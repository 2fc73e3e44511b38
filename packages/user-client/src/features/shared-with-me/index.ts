// The shared-with-me feature: the viewer's side — records others shared with this wallet, verified against the chain.
export { SharedWithMeScreen } from "./components/shared-with-me-screen.tsx";
