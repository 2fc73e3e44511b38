/**
 * Everything the screens need before they render: the network configuration (validated), the
 * chain client, TanStack Query, and the wallet read from IndexedDB.
 */
import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { type ReactNode, useState } from "react";
import { ErrorView } from "../components/error-view.tsx";
import { Logo } from "../components/layouts/app-shell.tsx";
import { loadAppConfig } from "../config/env.ts";
import { NetworkProvider } from "../lib/network.tsx";
import { initWallet } from "../lib/wallet.ts";

function Startup({ children }: { children: ReactNode }) {
  const config = useQuery({
    queryKey: ["config"],
    queryFn: () => loadAppConfig(),
    staleTime: Number.POSITIVE_INFINITY,
  });
  const wallet = useQuery({
    queryKey: ["wallet", "init"],
    queryFn: async () => {
      await initWallet();
      return true;
    },
    staleTime: Number.POSITIVE_INFINITY,
  });
  const error = config.error ?? wallet.error;
  if (error)
    return (
      <main id="main" className="main startup">
        <Logo />
        <ErrorView error={error} onRetry={() => window.location.reload()} />
      </main>
    );
  if (!config.data || !wallet.data)
    return (
      <main id="main" className="main startup" aria-busy="true">
        <Logo />
        <p className="loading">Opening MedRec…</p>
      </main>
    );
  return <NetworkProvider config={config.data}>{children}</NetworkProvider>;
}

export function AppProvider({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 10_000 } },
      }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <Startup>{children}</Startup>
    </QueryClientProvider>
  );
}
