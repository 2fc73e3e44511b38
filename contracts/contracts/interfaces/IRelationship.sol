// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAgent} from "./IAgent.sol";

/// @title MedRec patient–provider relationships
/// @notice One relationship per patient–provider pair, kept as an entry of this contract. It holds
/// the patient's agent id, the provider's *delegate* account, the current record root
/// (docs/protocol.md: SHA-256 sorted-pair Merkle root) with a sequence number, and viewer
/// grants (viewer → scope bit set, expiry).
///
/// Privacy: an observer must not learn which provider a patient sees. The provider's identity is only
/// in `providerDetails`, encrypted to the patient's key and kept in the log, never in storage. The
/// delegate is an account the provider uses for this relationship alone, not linked on chain to its
/// AgentRegistry account. Grant details (how to reach the provider) are likewise encrypted to the
/// viewer and only logged.
///
/// Rules: only the provider delegate creates a relationship, publishes roots and updates its details;
/// only the patient's controllers (owner, custodians; see IAgent) grant and revoke; the provider
/// delegate or the patient agent's owner — not a custodian — may end it. Ending is final: viewers
/// lose access, nothing is published again, nothing is destroyed. The same delegate may later link
/// the patient again: that creates a new relationship with a new id (`relationshipIdAt`, `relink` 1,
/// 2, ...), listed on the agent after the ended one, with its own sequence and no grants.
interface IRelationship {
    /// @notice The public state of a relationship.
    struct RelationshipInfo {
        address patient;
        uint64 sequence;
        bool ended;
        address provider;
        bytes32 recordRoot;
    }

    /// @notice A viewer grant as stored: scope bits (docs/protocol.md) and expiry (unix seconds, exclusive).
    struct Grant {
        uint16 scopes;
        uint64 expiresAt;
    }

    /// @notice The relationship `id` already exists.
    error RelationshipExists(bytes32 id);
    /// @notice No relationship has id `id`.
    error RelationshipUnknown(bytes32 id);
    /// @notice The relationship `id` has ended.
    error RelationshipAlreadyEnded(bytes32 id);
    /// @notice `account` is neither the owner nor a custodian of the relationship's patient agent.
    error RelationshipNotPatient(bytes32 id, address account);
    /// @notice `account` is not the relationship's provider delegate.
    error RelationshipNotProvider(bytes32 id, address account);
    /// @notice `account` is neither the provider delegate nor the owner of the patient agent.
    error RelationshipNotParty(bytes32 id, address account);
    /// @notice A root must carry sequence `expected` (current + 1); `given` is stale or skips ahead.
    error RelationshipStaleSequence(bytes32 id, uint64 expected, uint64 given);
    /// @notice `scopes` is empty or sets a bit that docs/protocol.md does not define.
    error RelationshipInvalidScopes(uint16 scopes);
    /// @notice `expiresAt` is not in the future.
    error RelationshipInvalidExpiry(uint64 expiresAt);
    /// @notice `viewer` is the zero address or the relationship's patient agent.
    error RelationshipInvalidViewer(address viewer);
    /// @notice `viewer` holds no grant on relationship `id`.
    error RelationshipNoGrant(bytes32 id, address viewer);
    /// @notice An encrypted blob is longer than `MAX_DETAILS_LENGTH` bytes.
    error RelationshipDetailsTooLong(uint256 length);

    /// @notice The provider delegate `provider` created relationship `id` with `patient`;
    /// `providerDetails` is encrypted to the patient's agent key.
    event RelationshipCreated(bytes32 indexed id, address indexed patient, address indexed provider, bytes providerDetails);
    /// @notice The provider re-published its encrypted details.
    event ProviderDetailsUpdated(bytes32 indexed id, bytes providerDetails);
    /// @notice The provider published record root `root` as sequence `sequence`.
    event RootPublished(bytes32 indexed id, bytes32 root, uint64 sequence);
    /// @notice The patient granted (or replaced the grant of) `viewer`; `viewerDetails` is encrypted to the viewer.
    event ViewerGranted(bytes32 indexed id, address indexed viewer, uint16 scopes, uint64 expiresAt, bytes viewerDetails);
    /// @notice The patient revoked `viewer`'s grant.
    event ViewerRevoked(bytes32 indexed id, address indexed viewer);
    /// @notice `by` ended the relationship.
    event RelationshipEnded(bytes32 indexed id, address indexed by);

    /// @notice Provider delegate (the caller): create the relationship with the patient agent `patient`
    /// — or, when the pair's current relationship has ended, a new one (the pair linked again).
    /// @return id `relationshipId(patient, _msgSender())` after the call (`_msgSender()`: the caller, or
    /// the signer of a request relayed by the trusted forwarder).
    function create(address patient, bytes calldata providerDetails) external returns (bytes32 id);

    /// @notice Provider delegate: re-publish encrypted provider details.
    function updateProviderDetails(bytes32 id, bytes calldata providerDetails) external;

    /// @notice Provider delegate: publish a new record root. `sequence` must be the current sequence
    /// plus one, so that a stale or raced publication reverts instead of overwriting a newer root.
    function publishRoot(bytes32 id, bytes32 root, uint64 sequence) external;

    /// @notice Patient controller: grant `viewer` the `scopes` until `expiresAt` (replaces any grant).
    function grant(bytes32 id, address viewer, uint16 scopes, uint64 expiresAt, bytes calldata viewerDetails) external;

    /// @notice Patient controller: revoke `viewer`'s grant.
    function revoke(bytes32 id, address viewer) external;

    /// @notice The provider delegate or the patient agent's owner (not a custodian): end the relationship for good.
    function end(bytes32 id) external;

    /// @notice The Agent contract whose controllers act for patients.
    function agent() external view returns (IAgent);

    /// @notice Scope bits docs/protocol.md defines (bits 0–9, 14 `sensitive`, 15 `other`).
    function KNOWN_SCOPES() external view returns (uint16);

    /// @notice Maximum length of an encrypted details blob.
    function MAX_DETAILS_LENGTH() external view returns (uint256);

    /// @notice The id of the current (latest) relationship between patient agent `patient` and delegate
    /// `provider`, or of the one `create` would make first: `relationshipIdAt(patient, provider, n)`
    /// where `n` is how many times the pair was linked again.
    function relationshipId(address patient, address provider) external view returns (bytes32);

    /// @notice The id of the pair's relationship after `relink` re-links: `keccak256(abi.encode(patient,
    /// provider))` for the first (`relink` 0), `keccak256(abi.encode(patient, provider, relink))` after.
    function relationshipIdAt(address patient, address provider, uint256 relink) external pure returns (bytes32);

    /// @notice The relationship `id` (patient zero when unknown).
    function relationshipOf(bytes32 id) external view returns (RelationshipInfo memory);

    /// @notice The current record-root sequence of `id` (0 before the first publication).
    function sequenceOf(bytes32 id) external view returns (uint64);

    /// @notice `viewer`'s grant as stored, expired or not.
    function grantOf(bytes32 id, address viewer) external view returns (Grant memory);

    /// @notice `viewer`'s scopes that are in force now: the granted scopes while the relationship has
    /// not ended and `block.timestamp < expiresAt`, else 0.
    function activeScopes(bytes32 id, address viewer) external view returns (uint16);

    /// @notice Whether `account` may read records of `scopes` now: a controller of the patient agent
    /// always (even after the relationship ended: patients keep the right to their own data), a viewer
    /// when its active scopes include every bit of `scopes` (and `scopes` is non-zero).
    function isAuthorized(bytes32 id, address account, uint16 scopes) external view returns (bool);
}
