import { isIP } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { BaseError } from "@medrec/protocol";
import { type Address, getAddress, isAddressEqual } from "viem";
import { z } from "zod";
import { auditConfigSchema } from "./audit/config.ts";
import { chainConfigSchema } from "./chain/config.ts";
import { legacyConfigSchema } from "./legacy/config.ts";

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
/** A comma-separated list; empty entries are dropped. */
const list = (s: string) =>
  s
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean);

const origins = z
  .string()
  .transform(list)
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

/**
 * Staff accounts: EIP-55 checksummed addresses, one problem line per bad entry (by position: the
 * line never repeats a value).
 */
const staffAccounts = z.string().transform((s, ctx) => {
  const entries = list(s);
  const out: Address[] = [];
  entries.forEach((entry, i) => {
    const at = `entry ${i + 1} of ${entries.length}`;
    if (!/^0x[0-9a-fA-F]{40}$/.test(entry)) {
      ctx.addIssue({ code: "custom", message: `${at} is not an address (0x followed by 40 hex digits)` });
    } else if (getAddress(entry.toLowerCase()) !== entry) {
      ctx.addIssue({ code: "custom", message: `${at} is not EIP-55 checksummed` });
    } else if (out.some((a) => isAddressEqual(a, entry as Address))) {
      ctx.addIssue({ code: "custom", message: `${at} repeats an earlier entry` });
    } else out.push(entry as Address);
  });
  return out;
});

/** `TRUST_PROXY`: the proxy's own addresses (IPv4/IPv6, or a CIDR subnet), never `true` or a hop count. */
const proxies = z.string().transform((s, ctx) => {
  const entries = list(s);
  entries.forEach((entry, i) => {
    const [ip = "", bits, extra] = entry.split("/");
    const family = isIP(ip);
    const prefixOk =
      bits === undefined ||
      (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32) && extra === undefined);
    if (family === 0 || !prefixOk)
      ctx.addIssue({
        code: "custom",
        message: `entry ${i + 1} of ${entries.length} must be the proxy's IP address (or a subnet like 10.0.0.0/24); \`true\`, hop counts and names are refused`,
      });
  });
  return entries;
});

/** Every environment variable the gatekeeper reads, validated once at start-up. */
export const configSchema = z.object({
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: port.default(7101),
  /**
   * The metrics listener (`GET /metrics`, Prometheus text), apart from the public one: never
   * reachable through PUBLIC_URL or the proxy. Default: loopback, a free port (logged at start);
   * set a fixed port for a scraper (adr/0017).
   */
  METRICS_HOST: z.string().min(1).default("127.0.0.1"),
  METRICS_PORT: port.default(0),
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
  /** Staff record uploads (`POST /v1/patients/{mrn}/records`), read as a stream: most bytes of one upload. */
  RECORDS_UPLOAD_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(64 * 1024 * 1024),
  /** Most resources (Bundle entries or NDJSON lines) of one staff record upload. */
  RECORDS_UPLOAD_MAX_RESOURCES: z.coerce.number().int().min(1).max(200_000).default(30_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Staff API key (header `X-Operator-Key`); at least 32 characters. Optional. */
  OPERATOR_KEY: z.string().min(32, "must be at least 32 characters").optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  /**
   * Provider staff who sign in with SIWE: comma-separated EIP-55 addresses. The provider (sealer)
   * account is never staff: listing it stops the start-up.
   */
  STAFF_ACCOUNTS: staffAccounts.default([]),
  /**
   * Secret (≥ 32 characters): the key of the salted MRN hashes in staff audit entries. Default:
   * derived from DELEGATE_MNEMONIC (HMAC), which never changes for a gatekeeper's database.
   */
  AUDIT_SALT: z.string().min(32, "must be at least 32 characters (the value is not shown)").optional(),
  /** Serve HTTPS with this PEM certificate (chain) and private key; both or neither. */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /**
   * Behind a TLS proxy: exactly the proxy's address(es), comma-separated. Only requests from these
   * peers have their client address taken from X-Forwarded-For (rate limits, logs).
   */
  TRUST_PROXY: proxies.default([]),
  // The chain: RPC, contracts, the provider's identity and keys, the relay and its limits (chain/config.ts).
  ...chainConfigSchema.shape,
  // Audit anchoring, the owner/runtime database split, denial limits (audit/config.ts).
  ...auditConfigSchema.shape,
  ...legacyConfigSchema.shape, // LEGACY_*: the legacy adapter and its periodic sync (legacy/config.ts)
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
  const tls = config.TLS_CERT_FILE !== undefined || config.TLS_KEY_FILE !== undefined;
  const problems: string[] = [];
  if (config.TLS_CERT_FILE === undefined && config.TLS_KEY_FILE !== undefined)
    problems.push("TLS_CERT_FILE: required with TLS_KEY_FILE");
  if (config.TLS_KEY_FILE === undefined && config.TLS_CERT_FILE !== undefined)
    problems.push("TLS_KEY_FILE: required with TLS_CERT_FILE");
  if (tls && config.PUBLIC_URL?.startsWith("http:"))
    problems.push("PUBLIC_URL: must be an https URL when the gatekeeper serves TLS");
  if (config.PROVIDER_ACCOUNT !== undefined)
    problems.push(...staffProblems(config.STAFF_ACCOUNTS, config.PROVIDER_ACCOUNT));
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...config,
    PUBLIC_URL: config.PUBLIC_URL ?? `${tls ? "https" : "http"}://${config.HOST}:${config.PORT}`,
  };
}

/**
 * What is wrong with a staff list given the provider's (sealer's) account: a sealer key is never
 * a staff identity (docs/protocol.md). Checked at load and again once the chain settings are known.
 */
export function staffProblems(staff: readonly Address[], providerAccount: Address): string[] {
  const i = staff.findIndex((a) => isAddressEqual(a, providerAccount));
  return i === -1
    ? []
    : [
        `STAFF_ACCOUNTS: entry ${i + 1} of ${staff.length} is the provider (sealer) account; a sealer key is never a staff identity`,
      ];
}
