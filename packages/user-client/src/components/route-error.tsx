import { isRouteErrorResponse, useRouteError } from "react-router";
import { ErrorView } from "./error-view.tsx";
import { Logo } from "./layouts/app-shell.tsx";

/**
 * What the router shows when a screen cannot load or throws: sentences and a next step, never the
 * router's developer page. A screen's code missing (MedRec was updated while the page was open)
 * asks for a reload.
 */
export function RouteError() {
  const error = useRouteError();
  const stale =
    error instanceof TypeError &&
    /dynamically imported module|Importing a module script failed/i.test(error.message);
  return (
    <main id="main" className="main startup">
      <Logo />
      {stale ? (
        <div className="error-view" role="alert">
          <h2>MedRec was updated</h2>
          <p>This page needs the new version. Reload it; your wallet stays locked and safe.</p>
          <button type="button" className="btn btn-primary" onClick={() => window.location.reload()}>
            Reload
          </button>
        </div>
      ) : isRouteErrorResponse(error) && error.status === 404 ? (
        <ErrorView error={new Error("not found")} onRetry={() => window.location.assign("/")} />
      ) : (
        <ErrorView error={error} onRetry={() => window.location.reload()} />
      )}
    </main>
  );
}
