// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAgent} from "./interfaces/IAgent.sol";
import {IRelationship} from "./interfaces/IRelationship.sol";
import {Relationship} from "./Relationship.sol";

/// @title MedRec patient agents
/// @notice See {IAgent}. Deploys and binds its {Relationship} contract.
/// @dev Accepts meta-transactions (ERC-2771): every authority check reads `_msgSender()`, which is the
/// caller, or — when the caller is the trusted forwarder fixed at construction — the signer of the
/// relayed request (the last 20 bytes of the calldata, appended by the forwarder after checking the
/// signature). The bound {Relationship} trusts the same forwarder.
contract Agent is IAgent, ERC2771Context {
    /// @dev One storage slot per address. An address is either an agent id (`isOwnerRecord` false,
    /// `owner` set), the owner of another agent (`isOwnerRecord` true, `owner` = that agent's id), or
    /// nothing. The roles cannot overlap: an agent never becomes the owner of another one and an owner
    /// cannot register. Sharing one slot keeps `register` at a single storage write and read.
    struct Account {
        address owner;
        uint32 relationshipCount;
        uint8 custodianCount;
        uint8 threshold;
        uint32 recoveryRound;
        bool isOwnerRecord;
    }

    /// @dev A custodian's approval counts only in the round it was given; cancelling bumps the round.
    struct Approval {
        address newOwner;
        uint32 round;
    }

    /// @inheritdoc IAgent
    uint64 public constant RECOVERY_DELAY = 2 days;
    /// @inheritdoc IAgent
    uint256 public constant MAX_CUSTODIANS = 8;
    /// @inheritdoc IAgent
    uint256 public constant MAX_PAGE = 500;

    /// @inheritdoc IAgent
    IRelationship public immutable relationships;

    mapping(address account => Account) private _accounts;
    mapping(address agent => mapping(uint256 index => address)) private _custodianAt;
    /// @dev Index + 1 in `_custodianAt`; 0 when not a custodian.
    mapping(address agent => mapping(address custodian => uint256)) private _custodianPosition;
    mapping(address agent => mapping(address custodian => Approval)) private _approvals;
    mapping(address agent => PendingRecovery) private _pending;
    mapping(address agent => mapping(uint256 index => bytes32)) private _relationshipAt;
    mapping(address agent => mapping(bytes32 relationship => uint64)) private _seen;

    /// @param trustedForwarder_ The MedRecForwarder whose relayed requests act for their signer
    /// (`address(0)`: direct calls only).
    constructor(address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        relationships = new Relationship(IAgent(address(this)), trustedForwarder_);
    }

    /// @inheritdoc IAgent
    function register(bytes32 encryptionKey, address[] calldata custodians_, uint8 recoveryThreshold_) external {
        address sender = _msgSender();
        Account storage account = _accounts[sender];
        if (account.owner != address(0)) {
            revert AgentAlreadyRegistered(account.isOwnerRecord ? account.owner : sender);
        }
        uint256 count = custodians_.length;
        if (count > MAX_CUSTODIANS) revert AgentTooManyCustodians(sender);
        if (recoveryThreshold_ > count) revert AgentInvalidThreshold(recoveryThreshold_, count);

        account.owner = sender;
        if (count != 0) {
            account.custodianCount = uint8(count);
            account.threshold = recoveryThreshold_;
        }
        emit AgentRegistered(sender, sender, encryptionKey);

        for (uint256 i; i < count; ++i) {
            address custodian = custodians_[i];
            if (custodian == address(0) || custodian == sender || _custodianPosition[sender][custodian] != 0) {
                revert AgentInvalidCustodian(sender, custodian);
            }
            _custodianAt[sender][i] = custodian;
            _custodianPosition[sender][custodian] = i + 1;
            emit CustodianAdded(sender, custodian);
        }
        if (recoveryThreshold_ != 0) emit RecoveryThresholdChanged(sender, recoveryThreshold_);
    }

    /// @inheritdoc IAgent
    function setEncryptionKey(address agent, bytes32 encryptionKey) external {
        _requireOwner(agent);
        emit EncryptionKeyChanged(agent, encryptionKey);
    }

    /// @inheritdoc IAgent
    function addCustodian(address agent, address custodian) external {
        Account storage account = _requireOwner(agent);
        if (custodian == address(0) || custodian == account.owner || _custodianPosition[agent][custodian] != 0) {
            revert AgentInvalidCustodian(agent, custodian);
        }
        uint8 count = account.custodianCount;
        if (count >= MAX_CUSTODIANS) revert AgentTooManyCustodians(agent);

        _custodianAt[agent][count] = custodian;
        _custodianPosition[agent][custodian] = uint256(count) + 1;
        account.custodianCount = count + 1;
        emit CustodianAdded(agent, custodian);
    }

    /// @inheritdoc IAgent
    function removeCustodian(address agent, address custodian) external {
        Account storage account = _requireOwner(agent);
        uint256 position = _custodianPosition[agent][custodian];
        if (position == 0) revert AgentNotCustodian(agent, custodian);
        uint8 remaining = account.custodianCount - 1;
        if (account.threshold > remaining) revert AgentInvalidThreshold(account.threshold, remaining);

        // Swap-and-pop: the list stays dense for `custodians` and approval counting.
        if (position - 1 != remaining) {
            address last = _custodianAt[agent][remaining];
            _custodianAt[agent][position - 1] = last;
            _custodianPosition[agent][last] = position;
        }
        delete _custodianAt[agent][remaining];
        delete _custodianPosition[agent][custodian];
        // Cleared so that the approval does not count again if the custodian is re-added.
        delete _approvals[agent][custodian];
        account.custodianCount = remaining;
        emit CustodianRemoved(agent, custodian);
    }

    /// @inheritdoc IAgent
    function setRecoveryThreshold(address agent, uint8 threshold) external {
        Account storage account = _requireOwner(agent);
        if (threshold > account.custodianCount) revert AgentInvalidThreshold(threshold, account.custodianCount);
        account.threshold = threshold;
        emit RecoveryThresholdChanged(agent, threshold);
        // Switching recovery off voids it: re-enabling later must not revive stale approvals or a
        // schedule whose delay has already run.
        if (threshold == 0) {
            _clearRecovery(agent, account);
            emit RecoveryCancelled(agent);
        }
    }

    /// @inheritdoc IAgent
    function transferOwnership(address agent, address newOwner) external {
        Account storage account = _requireOwner(agent);
        _requireValidOwner(newOwner);
        _moveOwnership(agent, account, newOwner);
    }

    /// @inheritdoc IAgent
    function approveRecovery(address agent, address newOwner) external {
        Account storage account = _requireAgent(agent);
        address custodian = _msgSender();
        if (_custodianPosition[agent][custodian] == 0) revert AgentNotCustodian(agent, custodian);
        _requireValidOwner(newOwner);

        uint32 round = account.recoveryRound;
        _approvals[agent][custodian] = Approval(newOwner, round);
        uint256 approvals = _countApprovals(agent, account.custodianCount, round, newOwner);
        emit RecoveryApproved(agent, custodian, newOwner, approvals);

        uint8 threshold = account.threshold;
        if (threshold == 0 || approvals < threshold) return;
        PendingRecovery storage pending = _pending[agent];
        address scheduled = pending.newOwner;
        if (scheduled == newOwner) return;
        // A scheduled candidate blocks another only while it still reaches the threshold; otherwise
        // custodians who moved their approvals (the owner being unreachable) could never recover.
        if (scheduled != address(0) && _countApprovals(agent, account.custodianCount, round, scheduled) >= threshold) {
            revert AgentRecoveryPending(agent, scheduled);
        }
        uint64 readyAt = uint64(block.timestamp) + RECOVERY_DELAY;
        pending.newOwner = newOwner;
        pending.readyAt = readyAt;
        emit RecoveryScheduled(agent, newOwner, readyAt);
    }

    /// @inheritdoc IAgent
    function cancelRecovery(address agent) external {
        Account storage account = _requireOwner(agent);
        _clearRecovery(agent, account);
        emit RecoveryCancelled(agent);
    }

    /// @inheritdoc IAgent
    function executeRecovery(address agent) external {
        Account storage account = _requireAgent(agent);
        PendingRecovery memory pending = _pending[agent];
        if (pending.newOwner == address(0)) revert AgentNoRecovery(agent);
        if (block.timestamp < pending.readyAt) revert AgentRecoveryNotReady(agent, pending.readyAt);
        uint8 threshold = account.threshold;
        uint256 approvals = _countApprovals(agent, account.custodianCount, account.recoveryRound, pending.newOwner);
        if (threshold == 0 || approvals < threshold) revert AgentRecoveryBelowThreshold(agent, approvals, threshold);
        // The candidate may have registered or acquired an agent during the delay.
        _requireValidOwner(pending.newOwner);
        _moveOwnership(agent, account, pending.newOwner);
    }

    /// @inheritdoc IAgent
    function acknowledge(address agent, bytes32 relationship, uint64 seq) external {
        Account storage account = _requireAgent(agent);
        address sender = _msgSender();
        if (sender != account.owner && _custodianPosition[agent][sender] == 0) {
            revert AgentNotController(agent, sender);
        }
        IRelationship.RelationshipInfo memory info = relationships.relationshipOf(relationship);
        if (info.patient != agent) revert AgentNotPatientOf(agent, relationship);
        if (seq > info.sequence) revert AgentSequenceAhead(relationship, seq, info.sequence);
        _seen[agent][relationship] = seq;
        emit RelationshipAcknowledged(agent, relationship, seq);
    }

    /// @inheritdoc IAgent
    function attachRelationship(address agent, bytes32 relationship) external {
        address sender = _msgSender();
        if (sender != address(relationships)) revert AgentOnlyRelationship(sender);
        Account storage account = _requireAgent(agent);
        uint32 index = account.relationshipCount;
        _relationshipAt[agent][index] = relationship;
        account.relationshipCount = index + 1;
        emit RelationshipAttached(agent, relationship);
    }

    /// @inheritdoc IAgent
    function exists(address agent) public view returns (bool) {
        Account storage account = _accounts[agent];
        return account.owner != address(0) && !account.isOwnerRecord;
    }

    /// @inheritdoc IAgent
    function ownerOf(address agent) public view returns (address) {
        Account storage account = _accounts[agent];
        return account.isOwnerRecord ? address(0) : account.owner;
    }

    /// @inheritdoc IAgent
    function agentOf(address account) external view returns (address) {
        Account storage entry = _accounts[account];
        if (entry.isOwnerRecord) return entry.owner;
        return entry.owner == account ? account : address(0);
    }

    /// @inheritdoc IAgent
    function isController(address agent, address account) external view returns (bool) {
        address owner = ownerOf(agent);
        if (owner == address(0)) return false;
        return account == owner || _custodianPosition[agent][account] != 0;
    }

    /// @inheritdoc IAgent
    function isCustodian(address agent, address account) external view returns (bool) {
        return _custodianPosition[agent][account] != 0;
    }

    /// @inheritdoc IAgent
    function custodians(address agent) external view returns (address[] memory list) {
        uint256 count = exists(agent) ? _accounts[agent].custodianCount : 0;
        list = new address[](count);
        for (uint256 i; i < count; ++i) {
            list[i] = _custodianAt[agent][i];
        }
    }

    /// @inheritdoc IAgent
    function recoveryThreshold(address agent) external view returns (uint8) {
        return exists(agent) ? _accounts[agent].threshold : 0;
    }

    /// @inheritdoc IAgent
    function recoveryApprovals(address agent, address newOwner) external view returns (uint256) {
        if (!exists(agent) || newOwner == address(0)) return 0;
        Account storage account = _accounts[agent];
        return _countApprovals(agent, account.custodianCount, account.recoveryRound, newOwner);
    }

    /// @inheritdoc IAgent
    function pendingRecovery(address agent) external view returns (PendingRecovery memory) {
        return _pending[agent];
    }

    /// @inheritdoc IAgent
    function relationshipsOf(address agent) external view returns (bytes32[] memory list) {
        uint256 count = relationshipCount(agent);
        list = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            list[i] = _relationshipAt[agent][i];
        }
    }

    /// @inheritdoc IAgent
    function relationshipCount(address agent) public view returns (uint256) {
        return exists(agent) ? _accounts[agent].relationshipCount : 0;
    }

    /// @inheritdoc IAgent
    function relationshipsPage(address agent, uint256 offset, uint256 limit)
        external
        view
        returns (RelationshipSummary[] memory page, uint256 total)
    {
        total = relationshipCount(agent);
        if (offset >= total) return (page, total);
        uint256 count = total - offset;
        if (limit < count) count = limit;
        if (MAX_PAGE < count) count = MAX_PAGE;
        page = new RelationshipSummary[](count);
        for (uint256 i; i < count; ++i) {
            bytes32 id = _relationshipAt[agent][offset + i];
            IRelationship.RelationshipInfo memory info = relationships.relationshipOf(id);
            page[i] = RelationshipSummary({
                id: id,
                provider: info.provider,
                recordRoot: info.recordRoot,
                sequence: info.sequence,
                seenSequence: _seen[agent][id],
                ended: info.ended
            });
        }
    }

    /// @inheritdoc IAgent
    function seenSequence(address agent, bytes32 relationship) external view returns (uint64) {
        return _seen[agent][relationship];
    }

    /// @inheritdoc IAgent
    function hasNewContent(address agent, bytes32 relationship) external view returns (bool) {
        IRelationship.RelationshipInfo memory info = relationships.relationshipOf(relationship);
        return info.patient == agent && agent != address(0) && info.sequence > _seen[agent][relationship];
    }

    function _requireAgent(address agent) private view returns (Account storage account) {
        account = _accounts[agent];
        if (account.owner == address(0) || account.isOwnerRecord) revert AgentUnknown(agent);
    }

    function _requireOwner(address agent) private view returns (Account storage account) {
        account = _requireAgent(agent);
        address sender = _msgSender();
        if (sender != account.owner) revert AgentNotOwner(agent, sender);
    }

    /// @dev An owner must be free to take the reverse-lookup entry: not an agent, not owning one.
    function _requireValidOwner(address newOwner) private view {
        if (newOwner == address(0) || _accounts[newOwner].owner != address(0)) revert AgentInvalidOwner(newOwner);
    }

    function _countApprovals(address agent, uint256 custodianCount, uint32 round, address newOwner)
        private
        view
        returns (uint256 approvals)
    {
        for (uint256 i; i < custodianCount; ++i) {
            Approval storage approval = _approvals[agent][_custodianAt[agent][i]];
            if (approval.newOwner == newOwner && approval.round == round) ++approvals;
        }
    }

    function _clearRecovery(address agent, Account storage account) private {
        ++account.recoveryRound;
        delete _pending[agent];
    }

    function _moveOwnership(address agent, Account storage account, address newOwner) private {
        address previousOwner = account.owner;
        if (previousOwner != agent) delete _accounts[previousOwner];
        _accounts[newOwner] = Account({
            owner: agent,
            relationshipCount: 0,
            custodianCount: 0,
            threshold: 0,
            recoveryRound: 0,
            isOwnerRecord: true
        });
        account.owner = newOwner;
        _clearRecovery(agent, account);
        emit OwnershipTransferred(agent, previousOwner, newOwner);
    }
}
