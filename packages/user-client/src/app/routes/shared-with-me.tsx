import { SharedWithMeScreen } from "../../features/shared-with-me/index.ts";

export default SharedWithMeScreen;
