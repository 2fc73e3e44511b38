/**
 * The patient data layer's errors: each a {@link BaseError} with a `code` a screen can turn into
 * plain words ({@link describePatientErrorCode}). Messages name providers and checks, never record
 * contents, mnemonics or keys.
 */
import { GatekeeperRequestError } from "../client.ts";
import { BaseError, type BaseErrorParameters } from "../errors.ts";
import { RelayedCallRevertedError } from "../relay.ts";

/** What went wrong, as a code a dapp maps to a sentence (see {@link describePatientErrorCode}). */
export type PatientErrorCode =
  /** The provider's gatekeeper or the chain node did not answer (network down, 5xx, timeout): retry later. */
  | "unreachable"
  /** The gatekeeper refused the session or the request (401/403). */
  | "refused"
  /** What the provider served did not verify against the chain. */
  | "verification-failed"
  /** A provider's RPC node gave a chain value whose proof does not check (adr/0012): its word is not taken. */
  | "node-not-verifiable"
  /** The relationship's provider details could not be opened with the patient's key. */
  | "details-unreadable"
  /** The relay refused the transaction (limits, nonce, …): `details` names the check. */
  | "relay-refused"
  /** The transaction reverted on chain (not a controller, no grant, bad expiry, …). */
  | "transaction-reverted"
  /** The caller passed something unusable (no relationship chosen, no scope, past expiry, …). */
  | "invalid-input"
  /** The patient has no agent on this network (not registered). */
  | "no-agent"
  /** Anything else. */
  | "unexpected";

const PLAIN: Record<PatientErrorCode, string> = {
  unreachable: "The provider could not be reached. Try again in a moment.",
  refused: "The provider refused the request.",
  "verification-failed": "Some records did not match what the provider published on the chain.",
  "node-not-verifiable":
    "This provider's network node gave an answer that does not match the network; its records are not shown as verified.",
  "details-unreadable": "This provider's details could not be read with your key.",
  "relay-refused": "The transaction was not accepted for relaying. Try again later.",
  "transaction-reverted": "The change was rejected by the contract.",
  "invalid-input": "Some of the choices are not valid.",
  "no-agent": "Your account is not registered on this network.",
  unexpected: "Something went wrong.",
};

/** One plain sentence for a {@link PatientErrorCode}. */
export function describePatientErrorCode(code: PatientErrorCode): string {
  return PLAIN[code];
}

/** A failure of the patient data layer; `code` says what kind. */
export class PatientDataError extends BaseError {
  override name = "PatientDataError";
  readonly code: PatientErrorCode;
  constructor(code: PatientErrorCode, shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
    this.code = code;
  }
}

/** Whether an HTTP status means "try again later" rather than "no". */
function retryableStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

/**
 * The {@link PatientErrorCode} of any error: gatekeeper answers by status, relay refusals and
 * reverts by class, network failures (fetch's `TypeError`, viem's HTTP errors) as `unreachable`.
 */
export function patientErrorCode(error: unknown): PatientErrorCode {
  if (error instanceof PatientDataError) return error.code;
  if (error instanceof RelayedCallRevertedError) return "transaction-reverted";
  if (error instanceof GatekeeperRequestError) {
    if (retryableStatus(error.status)) return "unreachable";
    if (error.problem && "check" in error.problem) return "relay-refused";
    return "refused";
  }
  if (error instanceof TypeError) return "unreachable"; // fetch: connection refused, DNS, reset
  const name = (error as { name?: unknown } | undefined)?.name;
  if (
    typeof name === "string" &&
    /HttpRequestError|TimeoutError|WebSocketRequestError|SocketClosedError|AbortError/.test(name)
  )
    return "unreachable";
  return "unexpected";
}

/** `error` as a {@link PatientDataError} (kept when it is one), with `what` as its message. */
export function toPatientDataError(error: unknown, what: string): PatientDataError {
  if (error instanceof PatientDataError) return error;
  const code = patientErrorCode(error);
  const reason =
    error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
  return new PatientDataError(code, `${what}: ${reason}`, { cause: error });
}
