import { AccessLogScreen } from "../../features/access-log/index.ts";

export default AccessLogScreen;
