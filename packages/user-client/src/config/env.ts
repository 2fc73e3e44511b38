/**
 * The dapp's configuration: where the chain, the contracts and every provider's gatekeeper are.
 * Nothing is baked into the bundle: the server that serves the dapp also serves `config.json`,
 * made from the network manifest's public fields (never its demo secrets), and this module
 * validates it with zod before anything uses it.
 */
import { addressSchema, httpUrlSchema, rpcUrlSchema } from "@medrec/protocol";
import { z } from "zod";

/** Build-time setting: where to read the runtime configuration (default `/config.json`). */
const buildEnvSchema = z.object({
  VITE_MEDREC_CONFIG_URL: z.string().min(1).default("/config.json"),
});

export const buildEnv = buildEnvSchema.parse(import.meta.env);

export const providerConfigSchema = z.object({
  name: z.string().min(1),
  account: addressSchema,
  gatekeeperUrl: httpUrlSchema,
  rpcUrl: httpUrlSchema,
  wsUrl: rpcUrlSchema.optional(),
});

export const appConfigSchema = z.object({
  chainId: z.number().int().positive(),
  contracts: z.object({
    AgentRegistry: addressSchema,
    Agent: addressSchema,
    Relationship: addressSchema,
    Forwarder: addressSchema,
    AuditAnchor: addressSchema.optional(),
  }),
  deployBlock: z.number().int().nonnegative().default(0),
  providers: z.array(providerConfigSchema).min(1),
});

export type ProviderConfig = z.output<typeof providerConfigSchema>;
export type AppConfig = z.output<typeof appConfigSchema>;

/** The configuration could not be read or is not valid: the dapp cannot know which network to use. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Reads and validates the runtime configuration. */
export async function loadAppConfig(url: string = buildEnv.VITE_MEDREC_CONFIG_URL): Promise<AppConfig> {
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (cause) {
    throw new ConfigError("The MedRec server did not answer. Check that it is running, then reload.", {
      cause,
    });
  }
  if (!response.ok)
    throw new ConfigError(
      `The MedRec server has no network settings (HTTP ${response.status}). Ask whoever runs it to restart it.`,
    );
  const parsed = appConfigSchema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success)
    throw new ConfigError(
      `The network settings from the MedRec server are not valid (${parsed.error.issues
        .map((issue) => issue.path.join("."))
        .join(", ")}). Ask whoever runs it to restart it.`,
    );
  return parsed.data;
}
