import { z } from "zod";
import { BaseError } from "./errors.ts";
import { isValidMnemonic } from "./keys.ts";
import { addressSchema, httpUrlSchema, rpcUrlSchema } from "./primitives.ts";

/** File name of the manifest, under `.medrec/` at the repository root. */
export const MANIFEST_RELATIVE_PATH = ".medrec/network.json";

/** Environment variable that overrides the manifest's path. */
export const MANIFEST_ENV = "MEDREC_MANIFEST";

/** One provider of the network (docs/protocol.md "The network manifest"). Extra fields allowed. */
export const manifestProviderSchema = z.looseObject({
  name: z.string().min(1),
  account: addressSchema,
  gatekeeperUrl: httpUrlSchema,
  rpcUrl: rpcUrlSchema,
});

/** Local demo data. Holds a secret: for local demos only. Extra fields allowed. */
export const manifestDemoSchema = z.looseObject({
  patientMnemonic: z
    .string()
    .refine(isValidMnemonic, { message: "Invalid mnemonic: expected 12 BIP39 English words" }),
  patientAddress: addressSchema,
  dappUrl: httpUrlSchema.optional(),
});

/**
 * The network manifest `.medrec/network.json` that every command bringing up a network writes.
 * Extra fields are allowed (and kept) everywhere; addresses come out EIP-55.
 */
export const networkManifestSchema = z.looseObject({
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  rpcUrl: rpcUrlSchema,
  contracts: z.object({ AgentRegistry: addressSchema }).catchall(addressSchema),
  providers: z.array(manifestProviderSchema),
  demo: manifestDemoSchema.optional(),
});

/** A parsed network manifest. */
export type NetworkManifest = z.output<typeof networkManifestSchema>;
/** A network manifest as written (addresses in any case). */
export type NetworkManifestInput = z.input<typeof networkManifestSchema>;
/** One provider of a manifest. */
export type ManifestProvider = z.output<typeof manifestProviderSchema>;

/** Thrown when a manifest does not match the schema or is not JSON. */
export class InvalidManifestError extends BaseError {
  override name = "InvalidManifestError";
  /** Where the manifest was read from, if from a file. */
  readonly path: string | undefined;
  constructor({
    path,
    issues,
    cause,
  }: { path?: string | undefined; issues?: readonly string[]; cause?: unknown }) {
    super(`Invalid network manifest${path ? ` at ${path}` : ""}.`, {
      cause,
      ...(issues?.length ? { metaMessages: issues } : {}),
    });
    this.path = path;
  }
}

/** Formats zod issues as `providers.0.account: Invalid address…` lines. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map(
    (issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`,
  );
}

/**
 * Validates a manifest object.
 *
 * @throws {InvalidManifestError} naming every failing field.
 */
export function parseManifest(value: unknown, { path }: { path?: string } = {}): NetworkManifest {
  const result = networkManifestSchema.safeParse(value);
  if (!result.success) throw new InvalidManifestError({ path, issues: formatIssues(result.error) });
  return result.data;
}
