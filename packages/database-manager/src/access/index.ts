import type { AppModule } from "../app.ts";
import type { GatekeeperAuditLog } from "../audit/audit.log.ts";
import type { Guards } from "../seams.ts";
import { accessPaths, accessRouter } from "./access.routes.ts";
import { type AccessServiceParameters, createAccessService } from "./access.service.ts";

export { FORBIDDEN_DETAIL } from "./access.service.ts";

export type AccessModuleParameters = AccessServiceParameters & {
  guards: Guards;
  audit: AccessServiceParameters["audit"] & Pick<GatekeeperAuditLog, "head" | "consistency">;
  /** The gatekeeper's PUBLIC_URL: served entries' `fullUrl`s are under it (without it, none). */
  publicUrl?: string;
};

/**
 * The read API: `GET /v1/relationships`, `…/{relationship}/records`, `…/{relationship}/audit`.
 *
 * @example accessModule({ view, records, audit: createAuditLog(db), guards: auth.guards })
 */
export function accessModule({ guards, publicUrl, ...parameters }: AccessModuleParameters): AppModule {
  return {
    router: accessRouter(createAccessService(parameters), guards, parameters.audit, publicUrl),
    paths: accessPaths,
  };
}
