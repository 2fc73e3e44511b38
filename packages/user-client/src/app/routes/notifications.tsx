import { NotificationsScreen } from "../../features/notifications/index.ts";

export default NotificationsScreen;
