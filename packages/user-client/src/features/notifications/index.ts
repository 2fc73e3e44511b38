// Notifications: live updates from the chain and the providers' audit logs (watchPatient).
export { NotificationBell } from "./components/notification-bell.tsx";
export { NotificationsScreen } from "./components/notifications-screen.tsx";
