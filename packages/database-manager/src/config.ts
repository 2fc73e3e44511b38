import { homedir } from "node:os";
import { join } from "node:path";
import { BaseError } from "@medrec/protocol";
import { z } from "zod";
import { chainConfigSchema } from "./chain/config.ts";

/** Thrown by {@link loadConfig}: one line per bad variable, naming it and what it needs. */
export class ConfigError extends BaseError {
  override name = "ConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super("The gatekeeper's configuration is invalid.", { metaMessages: problems });
    this.problems = problems;
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:$/.test(new URL(u).protocol), "must be an http(s) URL")
  .refine((u) => {
    const { pathname, search, hash } = new URL(u);
    return !search && !hash && (pathname === "/" || !pathname.endsWith("/"));
  }, "must have no query or fragment, and no trailing slash");
const postgresUrl = z
  .string()
  .refine((u) => /^postgres(ql)?:\/\//.test(u), "must be a postgres:// or postgresql:// URL");
const origins = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
  )
  .pipe(
    z.array(
      z
        .string()
        .refine((o) => o !== "*", "`*` is refused: list the dapp's origins explicitly")
        .refine((o) => {
          if (o === "*") return true; // reported by the rule above
          try {
            return new URL(o).origin === o;
          } catch {
            return false;
          }
        }, "each entry must be an origin like http://127.0.0.1:5173"),
    ),
  );

/** Every environment variable the gatekeeper reads, validated once at start-up. */
export const configSchema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: port.default(7101),
  /** The base URL clients use; SIWE `domain` must equal its host[:port] and `uri` must be under it. */
  PUBLIC_URL: httpUrl.optional(),
  /** PostgreSQL of the provider; without it an embedded PostgreSQL keeps data under DATA_DIR. */
  DATABASE_URL: postgresUrl.optional(),
  DATA_DIR: z
    .string()
    .min(1)
    .default(join(homedir(), ".local", "share", "medrec", "gatekeeper")),
  CORS_ORIGINS: origins.default([]),
  SESSION_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(3600),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(6000),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(50_000_000).default(5_000_000),
  JSON_MAX_DEPTH: z.coerce.number().int().min(4).max(256).default(64),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Staff API key (header `X-Operator-Key`); at least 32 characters. Optional. */
  OPERATOR_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // The chain: RPC, contracts, the provider's identity and keys, sponsorship limits (chain/config.ts).
  ...chainConfigSchema.shape,
});

/** The validated configuration. */
export type Config = z.output<typeof configSchema> & { PUBLIC_URL: string };

/**
 * Parses the environment once. Empty strings count as unset. Never echoes values (some are secrets).
 *
 * @throws {ConfigError} naming every bad variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") input[key] = value;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`));
  }
  const config = parsed.data;
  return { ...config, PUBLIC_URL: config.PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}` };
}
