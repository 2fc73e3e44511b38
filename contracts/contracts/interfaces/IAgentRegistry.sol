// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MedRec provider directory and sealer governance
/// @notice One AgentRegistry per network. The providers are the chain's Proof-of-Authority sealers:
/// the directory holds exactly the current signer set, each with a unique name, the URL of its
/// gatekeeper and (optionally) its own Agent id. Signers change only by a strict majority vote of the
/// current signers; each change emits `SignerAdded` / `SignerRemoved`, on which every provider's
/// governance daemon casts the matching `clique_propose` on its own geth node.
/// @dev The constructor's initial signers must equal the chain's genesis sealers (Clique `extraData`).
/// A contract cannot read the genesis header, so the deployment tooling checks this against
/// `clique_getSigners` before and after deployment.
interface IAgentRegistry {
    /// @notice What a proposal would change.
    enum ProposalKind {
        None,
        Add,
        Kick,
        RotateLog
    }

    /// @notice A provider entry of the directory.
    struct Provider {
        string name;
        string gatekeeperUrl;
        address agent;
    }

    /// @notice A genesis sealer, given at deployment.
    struct InitialSigner {
        address account;
        string name;
        string gatekeeperUrl;
    }

    /// @notice A governance proposal. Votes are counted live over the current signer set.
    struct Proposal {
        ProposalKind kind;
        bool open;
        address subject;
        address proposer;
        string name;
        string gatekeeperUrl;
        /// @dev `RotateLog` only: the audit log account the provider `subject` is to move to.
        address log;
    }

    /// @notice The deployment gave no initial signer.
    error AgentRegistryNoInitialSigners();
    /// @notice `account` is the zero address.
    error AgentRegistryInvalidAccount(address account);
    /// @notice `account` appears twice among the initial signers.
    error AgentRegistryDuplicateSigner(address account);
    /// @notice `name` is empty or longer than 64 bytes.
    error AgentRegistryInvalidName(string name);
    /// @notice `name` is already held by the provider `holder`.
    error AgentRegistryNameTaken(string name, address holder);
    /// @notice `url` is empty or longer than 256 bytes.
    error AgentRegistryInvalidGatekeeperUrl(string url);
    /// @notice `account` is not a current signer (provider).
    error AgentRegistryNotSigner(address account);
    /// @notice `account` is already a signer.
    error AgentRegistryAlreadySigner(address account);
    /// @notice `subject` already has the open proposal `proposalId` of the same kind.
    error AgentRegistryProposalPending(address subject, uint256 proposalId);
    /// @notice No proposal has id `proposalId`.
    error AgentRegistryUnknownProposal(uint256 proposalId);
    /// @notice The proposal was already executed or withdrawn.
    error AgentRegistryProposalClosed(uint256 proposalId);
    /// @notice Only the proposer may withdraw a proposal.
    error AgentRegistryNotProposer(uint256 proposalId, address account);
    /// @notice `signer` already voted for the proposal (in its current membership).
    error AgentRegistryAlreadyVoted(uint256 proposalId, address signer);
    /// @notice A signer cannot vote on its own removal.
    error AgentRegistrySelfKickVote(uint256 proposalId, address signer);
    /// @notice A kick would leave fewer than two signers (`signerCount` is the current count).
    error AgentRegistryMinimumSigners(uint256 signerCount);
    /// @notice The proposal has `votes` of the `needed` votes.
    error AgentRegistryNotPassed(uint256 proposalId, uint256 votes, uint256 needed);
    /// @notice `log` is the zero address or the provider's own account.
    error AgentRegistryInvalidLog(address log);

    /// @notice `account` proposed itself as provider and signer.
    event ProviderProposed(uint256 indexed proposalId, address indexed account, string name, string gatekeeperUrl);
    /// @notice `proposer` proposed to remove `signer`.
    event KickProposed(uint256 indexed proposalId, address indexed signer, address indexed proposer);
    /// @notice `signer` voted for the proposal, which now has `votes` of the `needed` votes.
    event ProposalVoted(uint256 indexed proposalId, address indexed signer, uint256 votes, uint256 needed);
    /// @notice The proposer withdrew the proposal.
    event ProposalWithdrawn(uint256 indexed proposalId);
    /// @notice The proposal passed and its change was applied.
    event ProposalExecuted(uint256 indexed proposalId);
    /// @notice `signer` joined the signer set. Governance daemons cast `clique_propose(signer, true)`.
    event SignerAdded(address indexed signer);
    /// @notice `signer` left the signer set. Governance daemons cast `clique_propose(signer, false)`.
    event SignerRemoved(address indexed signer);
    /// @notice `account` entered the provider directory.
    event ProviderRegistered(address indexed account, string name, string gatekeeperUrl);
    /// @notice The provider changed its gatekeeper URL or Agent id.
    event ProviderUpdated(address indexed account, string gatekeeperUrl, address agent);
    /// @notice `account` left the provider directory; its name is free again.
    event ProviderRemoved(address indexed account, string name);
    /// @notice `proposer` proposed to move `provider`'s audit log (AuditAnchor) to the account `log`.
    event LogRotationProposed(uint256 indexed proposalId, address indexed provider, address indexed proposer, address log);
    /// @notice Governance approved moving `provider`'s audit log to `log`; `AuditAnchor.rotateLog`
    /// carries it out once `log` consents.
    event LogRotationApproved(address indexed provider, address indexed log);

    /// @notice Propose the caller as a new provider and signer.
    /// @dev Any account that is not a signer and has no open Add proposal may call. The name must be
    /// free now and is checked again at execution.
    /// @return proposalId The new proposal's id (ids start at 1).
    function proposeProvider(string calldata name, string calldata gatekeeperUrl) external returns (uint256 proposalId);

    /// @notice Propose to remove `signer`. Only a signer may call; the proposer's vote is counted at
    /// once unless it proposes its own removal (a request to leave).
    /// @dev The signer set never drops below two: with one signer left, that single key could seal
    /// and rewrite the chain alone and the network would have no authority to outvote it, and
    /// Clique would stop if it went offline. A kick is refused when only two signers remain.
    /// @return proposalId The new proposal's id.
    function proposeKick(address signer) external returns (uint256 proposalId);

    /// @notice Propose to move the audit log of `provider` (a signer) to the account `log` — when its
    /// log key leaked or was lost. Only a signer may call; the proposer's vote counts at once. Once
    /// passed, `approvedLogRotation(provider)` is `log` and `AuditAnchor.rotateLog` applies it.
    /// @return proposalId The new proposal's id.
    function proposeLogRotation(address provider, address log) external returns (uint256 proposalId);

    /// @notice Vote for an open proposal. Only a current signer may vote, once per membership; the
    /// subject of a kick may not vote on it. Executes the proposal as soon as it passes.
    function vote(uint256 proposalId) external;

    /// @notice Withdraw an open proposal. Only its proposer may.
    function withdraw(uint256 proposalId) external;

    /// @notice Execute an open proposal that has a strict majority of the current signers' votes.
    /// @dev Anyone may call: a proposal may come to pass without a new vote when the signer set shrinks.
    function execute(uint256 proposalId) external;

    /// @notice A provider updates its own gatekeeper URL and Agent id.
    function updateProvider(string calldata gatekeeperUrl, address agent) external;

    /// @notice The audit log account governance last approved for `provider` (zero when none).
    function approvedLogRotation(address provider) external view returns (address);

    /// @notice Whether `account` is a current signer.
    function isSigner(address account) external view returns (bool);

    /// @notice The current signer set, in no particular order.
    function signers() external view returns (address[] memory);

    /// @notice Votes a proposal needs now: more than half of the current signers, `floor(n / 2) + 1`.
    function threshold() external view returns (uint256);

    /// @notice The directory entry of `account` (empty when it is not a provider).
    function provider(address account) external view returns (Provider memory);

    /// @notice The provider holding `name`, or the zero address.
    function providerByName(string calldata name) external view returns (address);

    /// @notice The proposal `proposalId` (kind `None` when unknown).
    function proposal(uint256 proposalId) external view returns (Proposal memory);

    /// @notice The number of proposals ever made; ids run from 1 to this.
    function proposalCount() external view returns (uint256);

    /// @notice Votes that count now for the proposal: those of current signers cast in their current membership.
    function votes(uint256 proposalId) external view returns (uint256);

    /// @notice Whether `signer`'s vote for the proposal counts now.
    function hasVoted(uint256 proposalId, address signer) external view returns (bool);
}
