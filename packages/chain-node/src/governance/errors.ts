/** The governance daemon's errors, all MedRec {@link BaseError}s. */
import { BaseError } from "../errors.ts";

/** Invalid daemon parameters (address, URL, numbers). */
export class GovernanceParametersError extends BaseError {
  override name = "GovernanceParametersError" as const;
}

/** The registry address holds no contract (wrong address, or another chain). */
export class RegistryNotFoundError extends BaseError {
  override name = "RegistryNotFoundError" as const;
  constructor({ address, rpcUrl }: { address: string; rpcUrl: string }) {
    super(`No contract at the registry address ${address} on ${rpcUrl}.`, {
      metaMessages: ["Check the AgentRegistry address and that the node belongs to the right network."],
    });
  }
}

/** The contract at the registry address does not answer like an AgentRegistry, or shares no signer with Clique. */
export class RegistryMismatchError extends BaseError {
  override name = "RegistryMismatchError" as const;
}

/** The cursor file exists but cannot be used. */
export class CursorFileError extends BaseError {
  override name = "CursorFileError" as const;
  constructor({ path, problem, cause }: { path: string; problem: string; cause?: unknown }) {
    super(`The governance cursor file ${path} is invalid: ${problem}.`, {
      cause,
      metaMessages: [
        "Fix or delete it: without a cursor the daemon reconciles the registry with Clique and starts from the confirmed head.",
      ],
    });
  }
}
