/**
 * Turns whatever went wrong into sentences a patient can act on: a gatekeeper's problem+json
 * (RFC 9457), a relay refusal, a contract revert, an unreachable server.
 */
import { GatekeeperRequestError, RelayedCallRevertedError } from "@medrec/protocol";

export type Explained = { title: string; detail: string };

const NOT_CAUGHT_UP =
  "The providers have not caught up with the network yet. Nothing was changed: try again in a minute.";

const RELAY_CHECKS: Record<string, string> = {
  "wrong-nonce": "Another change from this wallet was still being saved. Wait a few seconds and try again.",
  "nonce-in-flight":
    "Another change from this wallet is still being saved. Wait a few seconds and try again.",
  "deadline-expired": "The request took too long and expired. Try again.",
  "signer-limit": "You made many changes in a short time. Wait a while and try again.",
  "daily-limit":
    "The provider's daily limit for changes is reached. Try again tomorrow, or it will try another provider.",
  "gas-budget": "The provider's daily budget for changes is used up. Try again tomorrow.",
  "relayer-unfunded": "The provider cannot save changes right now. Try again later.",
  "simulation-reverted": "The network would refuse this change. Reload the page to see the current state.",
  // Every provider's relay was behind the block this change depends on, or busy waiting for it.
  "dependency-too-far": NOT_CAUGHT_UP,
  "dependency-timeout": NOT_CAUGHT_UP,
  "too-many-waiting": "The providers are busy. Nothing was changed: try again in a minute.",
  // adr/0013: this relay is full right now; another provider's may not be.
  "open-lane-limit":
    "The providers are not taking new sign-ups from home right now. Nothing was changed: try again later, or ask a provider's front desk.",
  "relayer-busy": "The providers are busy. Nothing was changed: try again in a minute.",
  "protective-in-flight": "Your previous change is still being saved. Wait a few seconds and try again.",
};

function problemOf(
  error: unknown,
): { status: number; title?: string; detail?: string; check?: string } | undefined {
  if (error instanceof GatekeeperRequestError)
    return {
      status: error.status,
      ...(error.problem?.title ? { title: error.problem.title } : {}),
      ...(error.problem?.detail ? { detail: error.problem.detail } : {}),
      ...(typeof error.problem?.check === "string" ? { check: error.problem.check } : {}),
    };
  return undefined;
}

export function explainError(error: unknown): Explained {
  const problem = problemOf(error);
  if (problem) {
    if (problem.check && RELAY_CHECKS[problem.check])
      return { title: "The change was not saved", detail: RELAY_CHECKS[problem.check] ?? "" };
    if (problem.status === 401)
      return {
        title: "Please sign in again",
        detail: "Your session with the provider ended. Lock and unlock to sign in again.",
      };
    if (problem.status === 403)
      return {
        title: "Not allowed",
        detail:
          "This provider does not let this wallet see that. If you think it should, contact the provider.",
      };
    if (problem.status === 429)
      return { title: "Too many attempts", detail: "Wait a minute, then try again." };
    if (problem.status === 503)
      return {
        title: "The provider is catching up",
        detail: "It cannot check permissions right now. Try again in a minute.",
      };
    return {
      title: problem.title ?? "The provider refused the request",
      detail: problem.detail ?? `It answered with status ${problem.status}. Try again later.`,
    };
  }
  if (error instanceof RelayedCallRevertedError)
    return {
      title: "The network refused the change",
      detail: "Nothing was changed. Reload the page to see the current state, then try again.",
    };
  if (error instanceof TypeError && /fetch|network/i.test(error.message))
    return {
      title: "Cannot reach the network",
      detail:
        "Check your internet connection. If it works, the providers may be down: try again in a few minutes.",
    };
  if (error instanceof Error && error.name === "ConfigError")
    return { title: "MedRec is not set up", detail: error.message };
  if (error instanceof Error && /timed? ?out|took too long/i.test(error.message))
    return { title: "The network is slow", detail: "It did not answer in time. Try again in a minute." };
  return {
    title: "Something went wrong",
    detail: "Reload the page and try again. Your records and wallet are safe.",
  };
}
