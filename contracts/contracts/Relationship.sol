// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAgent} from "./interfaces/IAgent.sol";
import {IRelationship} from "./interfaces/IRelationship.sol";

/// @title MedRec patient–provider relationships
/// @notice See {IRelationship}. Deployed by {Agent}, which accepts relationship attachments only from it.
/// @dev Accepts meta-transactions (ERC-2771): the provider, patient and party checks read
/// `_msgSender()` — the caller, or the signer of a request relayed by the trusted forwarder (the
/// one {Agent} was constructed with).
contract Relationship is IRelationship, ERC2771Context {
    /// @dev Slot 0: patient, sequence, ended (read by every call) and, in a pair's first entry only,
    /// how many times the pair was linked again. Slot 1: provider. Slot 2: root, first written by the
    /// first publication. The packing of slot 0 is read by the patient's light client
    /// (packages/protocol/src/light-client/layout.ts): new fields go after `ended`.
    struct Entry {
        address patient;
        uint64 sequence;
        bool ended;
        uint16 relinks;
        address provider;
        bytes32 recordRoot;
    }

    /// @inheritdoc IRelationship
    uint16 public constant KNOWN_SCOPES = 0xC3FF;
    /// @inheritdoc IRelationship
    uint256 public constant MAX_DETAILS_LENGTH = 1024;

    /// @inheritdoc IRelationship
    IAgent public immutable agent;

    mapping(bytes32 id => Entry) private _relationships;
    mapping(bytes32 id => mapping(address viewer => Grant)) private _grants;

    /// @param trustedForwarder_ The MedRecForwarder whose relayed requests act for their signer.
    constructor(IAgent agent_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        agent = agent_;
    }

    /// @inheritdoc IRelationship
    function create(address patient, bytes calldata providerDetails) external returns (bytes32 id) {
        _checkDetails(providerDetails);
        address provider = _msgSender();
        id = _firstId(patient, provider);
        Entry storage first = _relationships[id];
        if (first.patient != address(0)) {
            // Linked before: only once the current incarnation ended, as a new relationship.
            uint16 relinks = first.relinks;
            if (relinks != 0) id = relationshipIdAt(patient, provider, relinks);
            if (!_relationships[id].ended) revert RelationshipExists(id);
            ++relinks;
            first.relinks = relinks;
            id = relationshipIdAt(patient, provider, relinks);
        }
        Entry storage entry = _relationships[id];
        entry.patient = patient;
        entry.provider = provider;
        emit RelationshipCreated(id, patient, provider, providerDetails);
        // Reverts with AgentUnknown when `patient` is not a registered agent.
        agent.attachRelationship(patient, id);
    }

    /// @inheritdoc IRelationship
    function updateProviderDetails(bytes32 id, bytes calldata providerDetails) external {
        _checkDetails(providerDetails);
        _requireProvider(id, _requireOpen(id));
        emit ProviderDetailsUpdated(id, providerDetails);
    }

    /// @inheritdoc IRelationship
    function publishRoot(bytes32 id, bytes32 root, uint64 sequence) external {
        Entry storage entry = _requireOpen(id);
        _requireProvider(id, entry);
        uint64 expected = entry.sequence + 1;
        if (sequence != expected) revert RelationshipStaleSequence(id, expected, sequence);

        entry.sequence = sequence;
        entry.recordRoot = root;
        emit RootPublished(id, root, sequence);
    }

    /// @inheritdoc IRelationship
    function grant(bytes32 id, address viewer, uint16 scopes, uint64 expiresAt, bytes calldata viewerDetails)
        external
    {
        _checkDetails(viewerDetails);
        Entry storage entry = _requireOpen(id);
        address patient = _requirePatient(id, entry);
        if (scopes == 0 || scopes & ~KNOWN_SCOPES != 0) revert RelationshipInvalidScopes(scopes);
        if (expiresAt <= block.timestamp) revert RelationshipInvalidExpiry(expiresAt);
        if (viewer == address(0) || viewer == patient) revert RelationshipInvalidViewer(viewer);

        _grants[id][viewer] = Grant(scopes, expiresAt);
        emit ViewerGranted(id, viewer, scopes, expiresAt, viewerDetails);
    }

    /// @inheritdoc IRelationship
    function revoke(bytes32 id, address viewer) external {
        _requirePatient(id, _requireOpen(id));
        if (_grants[id][viewer].expiresAt == 0) revert RelationshipNoGrant(id, viewer);

        delete _grants[id][viewer];
        emit ViewerRevoked(id, viewer);
    }

    /// @inheritdoc IRelationship
    function end(bytes32 id) external {
        Entry storage entry = _requireOpen(id);
        address sender = _msgSender();
        // Custodians may not: ending is final for the patient's records (adr/0016).
        if (sender != entry.provider && agent.ownerOf(entry.patient) != sender) {
            revert RelationshipNotParty(id, sender);
        }
        entry.ended = true;
        emit RelationshipEnded(id, sender);
    }

    /// @inheritdoc IRelationship
    function relationshipId(address patient, address provider) external view returns (bytes32) {
        return relationshipIdAt(patient, provider, _relationships[_firstId(patient, provider)].relinks);
    }

    /// @inheritdoc IRelationship
    function relationshipIdAt(address patient, address provider, uint256 relink) public pure returns (bytes32) {
        return relink == 0 ? _firstId(patient, provider) : keccak256(abi.encode(patient, provider, relink));
    }

    /// @inheritdoc IRelationship
    function relationshipOf(bytes32 id) external view returns (RelationshipInfo memory) {
        Entry storage entry = _relationships[id];
        return RelationshipInfo(entry.patient, entry.sequence, entry.ended, entry.provider, entry.recordRoot);
    }

    /// @inheritdoc IRelationship
    function sequenceOf(bytes32 id) external view returns (uint64) {
        return _relationships[id].sequence;
    }

    /// @inheritdoc IRelationship
    function grantOf(bytes32 id, address viewer) external view returns (Grant memory) {
        return _grants[id][viewer];
    }

    /// @inheritdoc IRelationship
    function activeScopes(bytes32 id, address viewer) public view returns (uint16) {
        if (_relationships[id].ended) return 0;
        Grant memory viewerGrant = _grants[id][viewer];
        return block.timestamp < viewerGrant.expiresAt ? viewerGrant.scopes : 0;
    }

    /// @inheritdoc IRelationship
    function isAuthorized(bytes32 id, address account, uint16 scopes) external view returns (bool) {
        address patient = _relationships[id].patient;
        if (patient == address(0)) return false;
        if (agent.isController(patient, account)) return true;
        return scopes != 0 && activeScopes(id, account) & scopes == scopes;
    }

    function _firstId(address patient, address provider) private pure returns (bytes32) {
        return keccak256(abi.encode(patient, provider));
    }

    function _requireOpen(bytes32 id) private view returns (Entry storage entry) {
        entry = _relationships[id];
        if (entry.patient == address(0)) revert RelationshipUnknown(id);
        if (entry.ended) revert RelationshipAlreadyEnded(id);
    }

    function _requireProvider(bytes32 id, Entry storage entry) private view {
        address sender = _msgSender();
        if (sender != entry.provider) revert RelationshipNotProvider(id, sender);
    }

    function _requirePatient(bytes32 id, Entry storage entry) private view returns (address patient) {
        patient = entry.patient;
        address sender = _msgSender();
        if (!agent.isController(patient, sender)) revert RelationshipNotPatient(id, sender);
    }

    function _checkDetails(bytes calldata details) private pure {
        if (details.length > MAX_DETAILS_LENGTH) revert RelationshipDetailsTooLong(details.length);
    }
}
