// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IRelationship} from "./IRelationship.sol";

/// @title MedRec patient agents
/// @notice One agent per patient, kept as an entry of this contract (a registry of mappings rather
/// than a contract per patient: onboarding costs one storage slot instead of a deployment).
/// An agent is identified by the address that registered it (its *agent id*, stable for life);
/// its *owner* is that address until ownership moves (transfer or custodian recovery).
///
/// Controllers of an agent are its owner and its custodians. Custodians are delegates (a parent, a
/// guardian) who may act on the patient's relationships (grant, revoke, acknowledge; not end), and the
/// recovery path: when the patient loses the seed, `recoveryThreshold` custodians approving the same
/// new owner schedule a recovery that anyone may execute after `RECOVERY_DELAY`; until then the
/// owner can cancel it. Only the owner manages custodians, the threshold and the encryption key.
///
/// The agent also lists the patient's relationships (attached by the Relationship contract when a
/// provider creates one) and, per relationship, the last record-root sequence the patient has seen:
/// a relationship has new content while its sequence is ahead of it (MedRec v1's Summary contract).
interface IAgent {
    /// @notice A recovery that reached its threshold and awaits its delay.
    struct PendingRecovery {
        address newOwner;
        uint64 readyAt;
    }

    /// @notice One relationship as `relationshipsPage` lists it: its id, the provider delegate, the
    /// current record root and sequence, whether it ended, and the sequence the patient acknowledged.
    struct RelationshipSummary {
        bytes32 id;
        address provider;
        bytes32 recordRoot;
        uint64 sequence;
        uint64 seenSequence;
        bool ended;
    }

    /// @notice `agent` is already registered, or the caller already owns an agent.
    error AgentAlreadyRegistered(address agent);
    /// @notice No agent has id `agent`.
    error AgentUnknown(address agent);
    /// @notice `account` is not the owner of `agent`.
    error AgentNotOwner(address agent, address account);
    /// @notice `account` is neither the owner nor a custodian of `agent`.
    error AgentNotController(address agent, address account);
    /// @notice `account` is not a custodian of `agent`.
    error AgentNotCustodian(address agent, address account);
    /// @notice `custodian` is the zero address, the owner, or already a custodian.
    error AgentInvalidCustodian(address agent, address custodian);
    /// @notice An agent has at most `MAX_CUSTODIANS` custodians.
    error AgentTooManyCustodians(address agent);
    /// @notice `threshold` must be 0 (recovery off) or between 1 and the custodian count `custodianCount`.
    error AgentInvalidThreshold(uint8 threshold, uint256 custodianCount);
    /// @notice `newOwner` is the zero address or already owns (or is) an agent.
    error AgentInvalidOwner(address newOwner);
    /// @notice `agent` has no scheduled recovery.
    error AgentNoRecovery(address agent);
    /// @notice The recovery of `agent` can execute from `readyAt`.
    error AgentRecoveryNotReady(address agent, uint64 readyAt);
    /// @notice A recovery to `newOwner` is already scheduled for `agent`.
    error AgentRecoveryPending(address agent, address newOwner);
    /// @notice The scheduled recovery lost approvals (custodians were removed) and no longer reaches the threshold.
    error AgentRecoveryBelowThreshold(address agent, uint256 approvals, uint8 threshold);
    /// @notice Only the Relationship contract bound to this contract may call.
    error AgentOnlyRelationship(address caller);
    /// @notice `relationship` does not belong to `agent`.
    error AgentNotPatientOf(address agent, bytes32 relationship);
    /// @notice `seq` is ahead of the relationship's current record sequence `current`.
    error AgentSequenceAhead(bytes32 relationship, uint64 seq, uint64 current);

    /// @notice The patient registered `agent`; `encryptionKey` is its X25519 public key for provider
    /// details (kept in the log only).
    event AgentRegistered(address indexed agent, address indexed owner, bytes32 encryptionKey);
    /// @notice The owner replaced the agent's encryption key.
    event EncryptionKeyChanged(address indexed agent, bytes32 encryptionKey);
    /// @notice The owner added `custodian`.
    event CustodianAdded(address indexed agent, address indexed custodian);
    /// @notice The owner removed `custodian`.
    event CustodianRemoved(address indexed agent, address indexed custodian);
    /// @notice The owner set the number of custodian approvals a recovery needs.
    event RecoveryThresholdChanged(address indexed agent, uint8 threshold);
    /// @notice Ownership of `agent` moved, by transfer or recovery.
    event OwnershipTransferred(address indexed agent, address indexed previousOwner, address indexed newOwner);
    /// @notice `custodian` approved recovering `agent` to `newOwner`, which now has `approvals` approvals.
    event RecoveryApproved(address indexed agent, address indexed custodian, address indexed newOwner, uint256 approvals);
    /// @notice Recovery to `newOwner` reached the threshold and may execute from `readyAt`.
    event RecoveryScheduled(address indexed agent, address indexed newOwner, uint64 readyAt);
    /// @notice The owner cancelled all pending recovery approvals.
    event RecoveryCancelled(address indexed agent);
    /// @notice A provider created `relationship` with the patient; it is now listed on the agent.
    event RelationshipAttached(address indexed agent, bytes32 indexed relationship);
    /// @notice A controller marked the relationship's records as seen up to sequence `seq`.
    event RelationshipAcknowledged(address indexed agent, bytes32 indexed relationship, uint64 seq);

    /// @notice Register the caller's agent, with optional custodians and recovery threshold.
    /// @param encryptionKey X25519 public key to which providers encrypt their details.
    function register(bytes32 encryptionKey, address[] calldata custodians, uint8 recoveryThreshold) external;

    /// @notice Owner only: publish a new encryption key.
    function setEncryptionKey(address agent, bytes32 encryptionKey) external;

    /// @notice Owner only: add a custodian (at most `MAX_CUSTODIANS`).
    function addCustodian(address agent, address custodian) external;

    /// @notice Owner only: remove a custodian. Its recovery approval stops counting. The threshold
    /// must stay reachable: lower it first if it would exceed the remaining custodians.
    function removeCustodian(address agent, address custodian) external;

    /// @notice Owner only: set how many custodians must approve the same new owner (0 disables recovery).
    function setRecoveryThreshold(address agent, uint8 threshold) external;

    /// @notice Owner only: move ownership to `newOwner`, which must not own an agent. Clears pending recovery.
    function transferOwnership(address agent, address newOwner) external;

    /// @notice Custodian only: approve recovering `agent` to `newOwner`. A custodian's approval is
    /// for one candidate at a time (approving another moves it). Schedules the recovery when the
    /// candidate reaches the threshold.
    function approveRecovery(address agent, address newOwner) external;

    /// @notice Owner only: cancel every pending approval and any scheduled recovery.
    function cancelRecovery(address agent) external;

    /// @notice Anyone: execute a scheduled recovery once its delay has passed.
    function executeRecovery(address agent) external;

    /// @notice Controller only: mark `relationship`'s records as seen up to `seq`.
    function acknowledge(address agent, bytes32 relationship, uint64 seq) external;

    /// @notice Relationship contract only: list a new relationship on `agent` (which must exist).
    function attachRelationship(address agent, bytes32 relationship) external;

    /// @notice The Relationship contract bound to this one (deployed by its constructor).
    function relationships() external view returns (IRelationship);

    /// @notice Delay between a recovery reaching its threshold and its execution.
    function RECOVERY_DELAY() external view returns (uint64);

    /// @notice Maximum custodians per agent.
    function MAX_CUSTODIANS() external view returns (uint256);

    /// @notice Whether `agent` is registered.
    function exists(address agent) external view returns (bool);

    /// @notice The owner of `agent` (zero when unknown).
    function ownerOf(address agent) external view returns (address);

    /// @notice The agent that `account` owns (zero when none).
    function agentOf(address account) external view returns (address);

    /// @notice Whether `account` is the owner or a custodian of `agent`.
    function isController(address agent, address account) external view returns (bool);

    /// @notice Whether `account` is a custodian of `agent`.
    function isCustodian(address agent, address account) external view returns (bool);

    /// @notice The custodians of `agent`.
    function custodians(address agent) external view returns (address[] memory);

    /// @notice Custodian approvals a recovery of `agent` needs (0: recovery off).
    function recoveryThreshold(address agent) external view returns (uint8);

    /// @notice Current approvals of `newOwner` as the recovered owner of `agent`.
    function recoveryApprovals(address agent, address newOwner) external view returns (uint256);

    /// @notice The scheduled recovery of `agent` (zero when none).
    function pendingRecovery(address agent) external view returns (PendingRecovery memory);

    /// @notice The relationships of `agent`, in creation order. Unbounded: prefer `relationshipsPage`.
    function relationshipsOf(address agent) external view returns (bytes32[] memory);

    /// @notice The number of relationships of `agent`.
    function relationshipCount(address agent) external view returns (uint256);

    /// @notice Most relationships one `relationshipsPage` call returns.
    function MAX_PAGE() external view returns (uint256);

    /// @notice The relationships of `agent` at positions `offset` up to `offset + limit` (exclusive;
    /// `limit` is capped at `MAX_PAGE`), in creation order, each with the state a patient's view
    /// needs; `total` is `relationshipCount(agent)`. Empty when `offset >= total`.
    /// @dev Anyone can create relationships on any agent, so a reader must page rather than call
    /// `relationshipsOf`, whose answer grows without bound.
    function relationshipsPage(address agent, uint256 offset, uint256 limit)
        external
        view
        returns (RelationshipSummary[] memory page, uint256 total);

    /// @notice The last sequence of `relationship` the patient acknowledged.
    function seenSequence(address agent, bytes32 relationship) external view returns (uint64);

    /// @notice Whether `relationship` published a record root the patient has not acknowledged.
    function hasNewContent(address agent, bytes32 relationship) external view returns (bool);
}
