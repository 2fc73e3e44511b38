// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MedRec audit-log anchors
/// @notice Each gatekeeper keeps its audit log as a Certificate-Transparency-style Merkle tree
/// (RFC 9162) and anchors its tree head here: (size, root) from a *log account* that is used for
/// nothing else — not a relationship delegate, not the sponsor that funds patients — so an anchor
/// reveals nothing about patients. Sizes only grow, so a log cannot be anchored shorter than it
/// was; whether each head extends the previous one is checked off chain with consistency proofs.
///
/// A provider (an AgentRegistry signer) may bind one log account to itself, once and for good, so
/// that its gatekeeper cannot start over under a fresh log account (see adr/0005).
interface IAuditAnchor {
    /// @notice A log's latest anchored head.
    struct TreeHead {
        uint64 size;
        bytes32 root;
    }

    /// @notice `size` does not exceed the log's latest anchored size `current`.
    error AuditAnchorSizeNotGrowing(address log, uint64 current, uint64 size);
    /// @notice `account` is not a current AgentRegistry signer (provider).
    error AuditAnchorNotProvider(address account);
    /// @notice The provider already bound a log account (bindings are final).
    error AuditAnchorProviderBound(address provider, address log);
    /// @notice `log` is zero or already bound to a provider.
    error AuditAnchorInvalidLog(address log);

    /// @notice The log account `log` anchored the tree head (`size`, `root`).
    event TreeHeadAnchored(address indexed log, uint64 size, bytes32 root);
    /// @notice `provider` bound `log` as its only audit log account.
    event LogBound(address indexed provider, address indexed log);

    /// @notice Anchors the caller's tree head; `size` must exceed its latest anchored size.
    function anchor(uint64 size, bytes32 root) external;

    /// @notice Binds `log` as the calling provider's audit log account, once and for good.
    function bindLog(address log) external;

    /// @notice The latest head anchored by `log` (size 0 when none).
    function headOf(address log) external view returns (TreeHead memory);

    /// @notice The log account bound by `provider` (zero when none).
    function logOf(address provider) external view returns (address);

    /// @notice The provider that bound `log` (zero when none).
    function providerOf(address log) external view returns (address);

    /// @notice The AgentRegistry whose signers are the providers.
    function registry() external view returns (address);
}
