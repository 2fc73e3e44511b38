import { SharingScreen } from "../../features/sharing/index.ts";

export default SharingScreen;
