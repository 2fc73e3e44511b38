// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAgentRegistry} from "./interfaces/IAgentRegistry.sol";

/// @title MedRec provider directory and sealer governance
/// @notice See {IAgentRegistry}.
/// @dev Votes are never stored as counters: each vote records the voter's membership generation and the
/// tally walks the (small) current signer set. A vote therefore stops counting when its voter is kicked and
/// does not come back when that account is added again, since every admission starts a new generation.
/// Accepts meta-transactions (ERC-2771): every signer, proposer and provider check reads
/// `_msgSender()` — the caller, or the signer of a request relayed by the trusted forwarder.
contract AgentRegistry is IAgentRegistry, ERC2771Context {
    uint256 private constant _MAX_NAME_LENGTH = 64;
    uint256 private constant _MAX_URL_LENGTH = 256;
    uint256 private constant _MIN_SIGNERS = 2;

    /// @dev One storage slot per account: `position` is the 1-based index in `_signers` (0 when not a
    /// signer); `generation` counts the account's admissions, so the current membership is `generation`.
    struct Membership {
        uint128 position;
        uint128 generation;
    }

    address[] private _signers;
    mapping(address account => Membership) private _memberships;

    mapping(address account => Provider) private _providers;
    mapping(bytes32 nameHash => address account) private _nameHolders;

    uint256 private _proposalCount;
    mapping(uint256 proposalId => Proposal) private _proposals;
    /// @dev The membership generation in which the signer voted (0: never voted).
    mapping(uint256 proposalId => mapping(address signer => uint256 generation)) private _voteGenerations;
    mapping(address subject => uint256 proposalId) private _openAdds;
    mapping(address subject => uint256 proposalId) private _openKicks;
    mapping(address subject => uint256 proposalId) private _openRotations;
    mapping(address provider => address log) private _approvedLogs;

    /// @param trustedForwarder_ The MedRecForwarder whose relayed requests act for their signer.
    constructor(InitialSigner[] memory initialSigners, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        if (initialSigners.length == 0) revert AgentRegistryNoInitialSigners();
        for (uint256 i = 0; i < initialSigners.length; ++i) {
            InitialSigner memory signer = initialSigners[i];
            if (signer.account == address(0)) revert AgentRegistryInvalidAccount(signer.account);
            if (_memberships[signer.account].position != 0) revert AgentRegistryDuplicateSigner(signer.account);
            _validateName(signer.name);
            _validateUrl(signer.gatekeeperUrl);
            _requireNameFree(signer.name);
            _admit(signer.account, signer.name, signer.gatekeeperUrl);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IAgentRegistry
    function proposeProvider(string calldata name, string calldata gatekeeperUrl) external returns (uint256 proposalId) {
        address account = _msgSender();
        if (_memberships[account].position != 0) revert AgentRegistryAlreadySigner(account);
        _requireNoneOpen(_openAdds, account);
        _validateName(name);
        _validateUrl(gatekeeperUrl);
        _requireNameFree(name);

        Proposal storage p;
        (proposalId, p) = _newProposal(ProposalKind.Add, account, account, _openAdds);
        p.name = name;
        p.gatekeeperUrl = gatekeeperUrl;
        emit ProviderProposed(proposalId, account, name, gatekeeperUrl);
    }

    /// @inheritdoc IAgentRegistry
    function proposeKick(address signer) external returns (uint256 proposalId) {
        address proposer = _msgSender();
        _requireSigner(proposer);
        _requireSigner(signer);
        _requireAboveMinimum();
        _requireNoneOpen(_openKicks, signer);

        (proposalId, ) = _newProposal(ProposalKind.Kick, signer, proposer, _openKicks);
        emit KickProposed(proposalId, signer, proposer);

        // A request to leave carries no vote: nobody votes on its own removal. Otherwise the proposer's
        // vote counts at once; with at least three signers one vote never passes, so no execution here.
        if (proposer != signer) _voteAsProposer(proposalId, proposer);
    }

    /// @inheritdoc IAgentRegistry
    function proposeLogRotation(address provider_, address log) external returns (uint256 proposalId) {
        address proposer = _msgSender();
        _requireSigner(proposer);
        _requireSigner(provider_);
        if (log == address(0) || log == provider_) revert AgentRegistryInvalidLog(log);
        _requireNoneOpen(_openRotations, provider_);

        Proposal storage p;
        (proposalId, p) = _newProposal(ProposalKind.RotateLog, provider_, proposer, _openRotations);
        p.log = log;
        emit LogRotationProposed(proposalId, provider_, proposer, log);

        // A network of one signer decides alone.
        if (_voteAsProposer(proposalId, proposer) <= 1) _execute(proposalId, p);
    }

    /// @inheritdoc IAgentRegistry
    function vote(uint256 proposalId) external {
        Proposal storage p = _openProposal(proposalId);
        address signer = _msgSender();
        _requireSigner(signer);
        if (p.kind == ProposalKind.Kick && p.subject == signer) revert AgentRegistrySelfKickVote(proposalId, signer);
        uint256 generation = _memberships[signer].generation;
        if (_voteGenerations[proposalId][signer] == generation) revert AgentRegistryAlreadyVoted(proposalId, signer);

        _voteGenerations[proposalId][signer] = generation;
        uint256 count = _tally(proposalId);
        uint256 needed = threshold();
        emit ProposalVoted(proposalId, signer, count, needed);

        if (count >= needed) _execute(proposalId, p);
    }

    /// @inheritdoc IAgentRegistry
    function withdraw(uint256 proposalId) external {
        Proposal storage p = _openProposal(proposalId);
        address sender = _msgSender();
        if (p.proposer != sender) revert AgentRegistryNotProposer(proposalId, sender);
        _close(p);
        emit ProposalWithdrawn(proposalId);
    }

    /// @inheritdoc IAgentRegistry
    function execute(uint256 proposalId) external {
        Proposal storage p = _openProposal(proposalId);
        uint256 count = _tally(proposalId);
        uint256 needed = threshold();
        if (count < needed) revert AgentRegistryNotPassed(proposalId, count, needed);
        _execute(proposalId, p);
    }

    // ---------------------------------------------------------------- directory

    /// @inheritdoc IAgentRegistry
    function updateProvider(string calldata gatekeeperUrl, address agent) external {
        address account = _msgSender();
        _requireSigner(account);
        _validateUrl(gatekeeperUrl);
        Provider storage entry = _providers[account];
        entry.gatekeeperUrl = gatekeeperUrl;
        entry.agent = agent;
        emit ProviderUpdated(account, gatekeeperUrl, agent);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IAgentRegistry
    function approvedLogRotation(address provider_) external view returns (address) {
        return _approvedLogs[provider_];
    }

    /// @inheritdoc IAgentRegistry
    function isSigner(address account) public view returns (bool) {
        return _memberships[account].position != 0;
    }

    /// @inheritdoc IAgentRegistry
    function signers() external view returns (address[] memory) {
        return _signers;
    }

    /// @inheritdoc IAgentRegistry
    function threshold() public view returns (uint256) {
        return _signers.length / 2 + 1;
    }

    /// @inheritdoc IAgentRegistry
    function provider(address account) external view returns (Provider memory) {
        return _providers[account];
    }

    /// @inheritdoc IAgentRegistry
    function providerByName(string calldata name) external view returns (address) {
        return _nameHolders[keccak256(bytes(name))];
    }

    /// @inheritdoc IAgentRegistry
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        return _proposals[proposalId];
    }

    /// @inheritdoc IAgentRegistry
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IAgentRegistry
    function votes(uint256 proposalId) external view returns (uint256) {
        return _tally(proposalId);
    }

    /// @inheritdoc IAgentRegistry
    function hasVoted(uint256 proposalId, address signer) public view returns (bool) {
        Membership memory m = _memberships[signer];
        return m.position != 0 && _voteGenerations[proposalId][signer] == m.generation;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Applies a passed proposal after checking that it still makes sense for the current set: another
    /// Add may have taken the name meanwhile. The subject checks are defensive (one open proposal of each
    /// kind per subject), as is the minimum (with two signers a kick cannot reach two votes).
    function _execute(uint256 proposalId, Proposal storage p) private {
        address subject = p.subject;
        if (p.kind == ProposalKind.Add) {
            if (_memberships[subject].position != 0) revert AgentRegistryAlreadySigner(subject);
            string memory name = p.name;
            _requireNameFree(name);
            _close(p);
            _admit(subject, name, p.gatekeeperUrl);
        } else if (p.kind == ProposalKind.RotateLog) {
            _requireSigner(subject);
            _close(p);
            address log = p.log;
            _approvedLogs[subject] = log;
            emit LogRotationApproved(subject, log);
        } else {
            _requireSigner(subject);
            _requireAboveMinimum();
            _close(p);
            _remove(subject);
        }
        emit ProposalExecuted(proposalId);
    }

    function _admit(address account, string memory name, string memory gatekeeperUrl) private {
        _signers.push(account);
        Membership storage m = _memberships[account];
        m.position = uint128(_signers.length);
        ++m.generation;
        emit SignerAdded(account);

        _providers[account] = Provider({name: name, gatekeeperUrl: gatekeeperUrl, agent: address(0)});
        _nameHolders[keccak256(bytes(name))] = account;
        emit ProviderRegistered(account, name, gatekeeperUrl);
    }

    function _remove(address account) private {
        Membership storage m = _memberships[account];
        uint256 index = m.position - 1;
        uint256 last = _signers.length - 1;
        if (index != last) {
            address moved = _signers[last];
            _signers[index] = moved;
            _memberships[moved].position = uint128(index + 1);
        }
        _signers.pop();
        m.position = 0; // the generation stays: the next admission starts a new one
        emit SignerRemoved(account);

        string memory name = _providers[account].name;
        delete _nameHolders[keccak256(bytes(name))];
        delete _providers[account];
        delete _approvedLogs[account];
        emit ProviderRemoved(account, name);
    }

    /// @dev Opens proposal `proposalId` of `kind` on `subject`, recorded in `openOf` (one open per subject).
    function _newProposal(
        ProposalKind kind,
        address subject,
        address proposer,
        mapping(address => uint256) storage openOf
    ) private returns (uint256 proposalId, Proposal storage p) {
        proposalId = ++_proposalCount;
        p = _proposals[proposalId];
        p.kind = kind;
        p.open = true;
        p.subject = subject;
        p.proposer = proposer;
        openOf[subject] = proposalId;
    }

    /// @dev Counts the proposer's vote on its new proposal; returns the votes the proposal needs.
    function _voteAsProposer(uint256 proposalId, address proposer) private returns (uint256 needed) {
        _voteGenerations[proposalId][proposer] = _memberships[proposer].generation;
        needed = threshold();
        emit ProposalVoted(proposalId, proposer, 1, needed);
    }

    function _requireNoneOpen(mapping(address => uint256) storage openOf, address subject) private view {
        uint256 pending = openOf[subject];
        if (pending != 0) revert AgentRegistryProposalPending(subject, pending);
    }

    function _close(Proposal storage p) private {
        p.open = false;
        if (p.kind == ProposalKind.Add) {
            delete _openAdds[p.subject];
        } else if (p.kind == ProposalKind.RotateLog) {
            delete _openRotations[p.subject];
        } else {
            delete _openKicks[p.subject];
        }
    }

    function _tally(uint256 proposalId) private view returns (uint256 count) {
        uint256 n = _signers.length;
        for (uint256 i = 0; i < n; ++i) {
            address signer = _signers[i];
            if (_voteGenerations[proposalId][signer] == _memberships[signer].generation) ++count;
        }
    }

    function _openProposal(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.kind == ProposalKind.None) revert AgentRegistryUnknownProposal(proposalId);
        if (!p.open) revert AgentRegistryProposalClosed(proposalId);
    }

    function _requireSigner(address account) private view {
        if (_memberships[account].position == 0) revert AgentRegistryNotSigner(account);
    }

    function _requireAboveMinimum() private view {
        uint256 n = _signers.length;
        if (n <= _MIN_SIGNERS) revert AgentRegistryMinimumSigners(n);
    }

    function _requireNameFree(string memory name) private view {
        address holder = _nameHolders[keccak256(bytes(name))];
        if (holder != address(0)) revert AgentRegistryNameTaken(name, holder);
    }

    function _validateName(string memory name) private pure {
        uint256 length = bytes(name).length;
        if (length == 0 || length > _MAX_NAME_LENGTH) revert AgentRegistryInvalidName(name);
    }

    function _validateUrl(string memory url) private pure {
        uint256 length = bytes(url).length;
        if (length == 0 || length > _MAX_URL_LENGTH) revert AgentRegistryInvalidGatekeeperUrl(url);
    }
}
