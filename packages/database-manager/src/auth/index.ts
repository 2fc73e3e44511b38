import type { Knex } from "knex";
import type { Address } from "viem";
import type { AppModule } from "../app.ts";
import { type Config, ConfigError, staffProblems } from "../config.ts";
import type { Guards } from "../seams.ts";
import { createGuards } from "./auth.guards.ts";
import { authRepository } from "./auth.repository.knex.ts";
import { authPaths, authRouter } from "./auth.routes.ts";
import { type AuthService, createAuthService } from "./auth.service.ts";

export { callerOf } from "./auth.guards.ts";
export type { AuthService, AuthSettings, Session } from "./auth.service.ts";

export type CreateAuthParameters = {
  config: Pick<Config, "PUBLIC_URL" | "SESSION_TTL_SECONDS" | "OPERATOR_KEY"> &
    Partial<Pick<Config, "STAFF_ACCOUNTS">>;
  db: Knex;
  /** The network's chain id (SIWE `chain-id`). */
  chainId: number;
  /** The provider's (sealer's) account: never staff — listing it in STAFF_ACCOUNTS is refused. */
  providerAccount?: Address | undefined;
  /** See {@link AuthSettings.sessionCacheMs}. */
  sessionCacheMs?: number;
  /** Time source (tests). */
  clock?: () => Date;
};

export type CreateAuthReturnType = { guards: Guards; module: AppModule; service: AuthService };

/**
 * SIWE sign-in and the route guards.
 *
 * @example
 * const auth = createAuth({ config, db, chainId: manifest.chainId, providerAccount })
 *
 * @throws {ConfigError} when STAFF_ACCOUNTS lists the provider account.
 * createApp({ …, modules: [auth.module, accessModule({ view, records, audit, guards: auth.guards })] })
 */
export function createAuth({
  config,
  db,
  chainId,
  providerAccount,
  sessionCacheMs,
  clock,
}: CreateAuthParameters): CreateAuthReturnType {
  const staffAccounts = config.STAFF_ACCOUNTS ?? [];
  const problems = providerAccount ? staffProblems(staffAccounts, providerAccount) : [];
  if (problems.length > 0) throw new ConfigError(problems);
  const service = createAuthService({
    repository: authRepository(db),
    settings: {
      publicUrl: config.PUBLIC_URL,
      chainId,
      sessionTtlSeconds: config.SESSION_TTL_SECONDS,
      ...(sessionCacheMs === undefined ? {} : { sessionCacheMs }),
    },
    ...(clock ? { clock } : {}),
  });
  const guards = createGuards(service, { staffAccounts, operatorKey: config.OPERATOR_KEY });
  return { guards, module: { router: authRouter(service, guards), paths: authPaths }, service };
}
