import { type ComponentType, type ReactNode, Suspense } from "react";
import { Link, Outlet } from "react-router";
import { useChainStatus } from "../../lib/network.tsx";
import { lock, useWallet } from "../../lib/wallet.ts";
import { Banner } from "../banner.tsx";
import { ErrorBoundary } from "../error-boundary.tsx";
import { MainNav, type NavItem } from "./main-nav.tsx";

/**
 * The main navigation: one entry per screen of an unlocked wallet. Add a feature's screen here.
 * `tab`: one of the (at most four) screens in the phone's bottom tab bar — the rest are under More
 * there (main-nav.tsx, which also holds the tabs' icons).
 */
export const NAV_ITEMS: readonly NavItem[] = [
  { to: "/records", label: "Records", tab: true },
  { to: "/export", label: "Take elsewhere" },
  { to: "/sharing", label: "Sharing", tab: true },
  { to: "/access-log", label: "Access log", tab: true },
  { to: "/shared-with-me", label: "Shared with me" },
  { to: "/custodians", label: "Custodians" },
  { to: "/account", label: "Account", tab: true },
];

export function Logo() {
  return (
    <span className="logo">
      <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false">
        <rect width="32" height="32" rx="7" fill="#0b5cad" />
        <path d="M13 7h6v6h6v6h-6v6h-6v-6H7v-6h6z" fill="#fff" />
      </svg>
      <span>MedRec</span>
    </span>
  );
}

export function ChainBanner() {
  const chain = useChainStatus();
  if (!chain.isError) return null;
  return (
    <Banner tone="alert" title="The MedRec network is not answering.">
      Your records cannot be checked or changed until it is back. This page retries on its own; check your
      internet connection meanwhile.
    </Banner>
  );
}

function BackupReminder() {
  const wallet = useWallet();
  if (wallet.status !== "unlocked" || wallet.backedUp) return null;
  return (
    <Banner
      tone="warning"
      title="Your 12 words are not backed up yet."
      action={
        <Link className="btn btn-secondary" to="/account/backup">
          Back up now
        </Link>
      }
    >
      Without them, you lose access to your records if this browser is cleared.
    </Banner>
  );
}

/**
 * Header (logo, navigation, `actions` such as the notification bell, lock), banners, and the
 * current screen — inside `gate` when given (it may show something else in its place).
 */
export function AppShell({
  actions,
  gate,
}: {
  actions?: ReactNode;
  gate?: ComponentType<{ children: ReactNode }>;
}) {
  return (
    <div className="shell shell-app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="header">
        <div className="header-row">
          <Link to="/records" className="brand" aria-label="MedRec home">
            <Logo />
          </Link>
          <div className="header-actions">
            {actions}
            <button type="button" className="btn btn-secondary lock-button" onClick={() => lock("manual")}>
              <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
                <path
                  d="M7 10V7a5 5 0 0 1 10 0v3h1a1 1 0 0 1 1 1v9a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1zm2 0h6V7a3 3 0 0 0-6 0z"
                  fill="currentColor"
                />
              </svg>
              Lock
            </button>
          </div>
        </div>
        <MainNav items={NAV_ITEMS} />
      </header>
      <div className="banners">
        <ChainBanner />
        <BackupReminder />
      </div>
      <ShellMain gate={gate} />
    </div>
  );
}

/** The screen itself: lazy routes load under a fallback, and a failing screen keeps the shell. */
function ShellMain({ gate: Gate }: { gate?: ComponentType<{ children: ReactNode }> | undefined }) {
  return (
    <main id="main" className="main">
      <ErrorBoundary>
        <Suspense fallback={<p className="loading">Loading…</p>}>
          {Gate ? (
            <Gate>
              <Outlet />
            </Gate>
          ) : (
            <Outlet />
          )}
        </Suspense>
      </ErrorBoundary>
    </main>
  );
}

/** Screens before a wallet is unlocked: logo and the screen, centred. */
export function WelcomeShell() {
  return (
    <div className="shell shell-plain">
      <header className="header header-plain">
        <Logo />
      </header>
      <div className="banners">
        <ChainBanner />
      </div>
      <ShellMain />
    </div>
  );
}
