/**
 * The governance daemon: turns `AgentRegistry` membership into Clique votes on ONE node.
 *
 * The registry is authoritative. The daemon never replays an event as a vote; an event only says
 * "look at this address again". One module per concern:
 * - `governance/plan.ts` — which vote to cast, from state (pure: {@link planVotes}, {@link signerDrift});
 * - `governance/events.ts` — the registry's signer logs: filter and decoding (pure);
 * - `governance/cursor.ts` — the cursor file (atomic writes);
 * - `governance/daemon.ts` — start-up reconciliation and the polling loop;
 * - `governance/errors.ts` — the errors they throw.
 */
export {
  type GovernanceCursor,
  parseCursor,
  readCursor,
  serializeCursor,
  writeCursor,
} from "./governance/cursor.ts";
export {
  type CastRecord,
  DEFAULT_CONFIRMATIONS,
  DEFAULT_MAX_BLOCK_RANGE,
  type GovernanceDaemon,
  type GovernanceDaemonParameters,
  type GovernanceLogEntry,
  type GovernanceStatus,
  jsonLineLogger,
  REORG_REWIND_BLOCKS,
  type ReconcileReport,
  startGovernanceDaemon,
} from "./governance/daemon.ts";
export {
  CursorFileError,
  GovernanceParametersError,
  RegistryMismatchError,
  RegistryNotFoundError,
} from "./governance/errors.ts";
export {
  parseSignerLogs,
  type RpcLog,
  SIGNER_ADDED_TOPIC,
  SIGNER_REMOVED_TOPIC,
  type SignerEvent,
  signerLogFilter,
} from "./governance/events.ts";
export { type PlannedVote, planVotes, type SignerDrift, signerDrift } from "./governance/plan.ts";
