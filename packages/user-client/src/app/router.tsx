/**
 * The routes. Public screens (welcome, create, restore, unlock) and, behind the wallet guard, the
 * app shell with one route per feature screen. Each screen is a lazy chunk: the first load carries
 * only the shell. To add a screen: a `routes/<name>.tsx` that default-exports its component, an
 * entry below, and one in NAV_ITEMS (components/layouts/app-shell.tsx) if it belongs in the menu.
 */
import { type ComponentType, lazy as lazyComponent, Suspense, useMemo } from "react";
import { createBrowserRouter, Navigate, Outlet, type RouteObject, useLocation } from "react-router";
import { RouterProvider } from "react-router/dom";
import { AppShell, WelcomeShell } from "../components/layouts/app-shell.tsx";
import { RouteError } from "../components/route-error.tsx";
import { useWallet } from "../lib/wallet.ts";

const lazy =
  (load: () => Promise<{ default: ComponentType }>) => async (): Promise<{ Component: ComponentType }> => ({
    Component: (await load()).default,
  });

/** Where each wallet state belongs. */
function home(status: string): string {
  return status === "none" ? "/welcome" : status === "locked" ? "/unlock" : "/records";
}

function RequireUnlocked() {
  const wallet = useWallet();
  const location = useLocation();
  if (wallet.status !== "unlocked")
    return <Navigate to={home(wallet.status)} replace state={{ from: location.pathname }} />;
  return <Outlet />;
}

function RequireLocked() {
  const wallet = useWallet();
  if (wallet.status !== "locked") return <Navigate to={home(wallet.status)} replace />;
  return <Outlet />;
}

/**
 * React.lazy for a component every unlocked screen renders, whose chunk is fetched ahead: once it
 * has loaded, rendering it does not suspend. (A suspended boundary is revealed up to 300 ms later
 * — React throttles fallbacks — and the gate wraps every screen: that wait would follow each unlock.)
 */
function preloadedLazy<Props>(load: () => Promise<ComponentType<Props>>) {
  let loaded: { default: ComponentType<Props> } | undefined;
  const loading = load().then((component) => {
    loaded = { default: component };
    return loaded;
  });
  // Already loaded: a thenable that answers at once, so React.lazy resolves it without suspending.
  const now = (value: { default: ComponentType<Props> }) =>
    // biome-ignore lint/suspicious/noThenProperty: a synchronous thenable is the point (React.lazy reads it at once)
    ({ then: (resolve: (v: typeof value) => void) => resolve(value) }) as unknown as Promise<typeof value>;
  return lazyComponent(() => (loaded ? now(loaded) : loading));
}

// The bell starts the chain watcher: its code (the patient data layer) loads after the shell.
const NotificationBell = preloadedLazy(
  async () => (await import("../features/notifications/index.ts")).NotificationBell,
);

// Every unlocked screen goes through it: a wallet whose records were handed over says so instead.
const HandoverGate = preloadedLazy(
  async () => (await import("../features/custodians/index.ts")).HandoverGate,
);

function UnlockedShell() {
  return (
    <AppShell
      gate={HandoverGate}
      actions={
        <Suspense fallback={null}>
          <NotificationBell />
        </Suspense>
      }
    />
  );
}

function Home() {
  const wallet = useWallet();
  return <Navigate to={home(wallet.status)} replace />;
}

export const routes: RouteObject[] = [
  // Any screen that fails to load or throws: sentences and a next step (components/route-error.tsx).
  {
    ErrorBoundary: RouteError,
    children: [
      { path: "/", Component: Home },
      {
        Component: WelcomeShell,
        children: [
          { path: "/welcome", lazy: lazy(() => import("./routes/welcome.tsx")) },
          { path: "/create", lazy: lazy(() => import("./routes/create.tsx")) },
          { path: "/restore", lazy: lazy(() => import("./routes/restore.tsx")) },
          {
            Component: RequireLocked,
            children: [{ path: "/unlock", lazy: lazy(() => import("./routes/unlock.tsx")) }],
          },
        ],
      },
      {
        Component: RequireUnlocked,
        children: [
          {
            Component: UnlockedShell,
            children: [
              { path: "/records", lazy: lazy(() => import("./routes/records.tsx")) },
              { path: "/notifications", lazy: lazy(() => import("./routes/notifications.tsx")) },
              { path: "/export", lazy: lazy(() => import("./routes/export.tsx")) },
              { path: "/export/summary", lazy: lazy(() => import("./routes/summary.tsx")) },
              { path: "/sharing", lazy: lazy(() => import("./routes/sharing.tsx")) },
              { path: "/access-log", lazy: lazy(() => import("./routes/access-log.tsx")) },
              { path: "/shared-with-me", lazy: lazy(() => import("./routes/shared-with-me.tsx")) },
              { path: "/custodians", lazy: lazy(() => import("./routes/custodians.tsx")) },
              { path: "/account", lazy: lazy(() => import("./routes/account.tsx")) },
              { path: "/account/backup", lazy: lazy(() => import("./routes/backup.tsx")) },
            ],
          },
        ],
      },
      { path: "*", lazy: lazy(() => import("./routes/not-found.tsx")) },
    ],
  },
];

export function AppRouter() {
  const router = useMemo(() => createBrowserRouter(routes), []);
  return <RouterProvider router={router} />;
}
