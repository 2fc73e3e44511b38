// @medrec/testkit — the helpers MedRec's tests and benchmarks share (dev-only; no browser code).
// Free TCP ports are in `@medrec/protocol/node` (the launchers need them too); fixtures that start
// a component live in the package that owns it.

export { fetchReply, type Reply, type ReplyInit } from "./http.ts";
export {
  commandWithArgs,
  currentCommit,
  type Provenance,
  provenanceProblems,
  type ReportMachine,
  type Summary,
  startReport,
  summarize,
} from "./report.ts";
export { EventuallyTimeoutError, eventually, type RetryOptions, retryWhile } from "./retry.ts";
export {
  type SignInMessageParameters,
  type SignInOverrides,
  sessionToken,
  signInBody,
  signInMessage,
  signInTo,
  TestSignInError,
} from "./siwe.ts";
export { type KolmogorovSmirnov, kolmogorovSmirnov, percentile } from "./stats.ts";
