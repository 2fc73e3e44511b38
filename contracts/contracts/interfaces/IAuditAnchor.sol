// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MedRec audit-log anchors
/// @notice Each gatekeeper keeps its audit log as a Certificate-Transparency-style Merkle tree
/// (RFC 9162) and anchors its tree head here: (size, root) from a *log account* that is used for
/// nothing else — not a relationship delegate, not the sponsor that funds patients — so an anchor
/// reveals nothing about patients. Sizes only grow, by at most `MAX_ANCHOR_GROWTH` entries per
/// anchor, so a log cannot be anchored shorter than it was, nor pushed by a leaked key to a size
/// nothing can follow; whether each head extends the previous one is checked off chain with
/// consistency proofs.
///
/// A provider (an AgentRegistry signer) binds one log account to itself, once, with that account's
/// consent (its EIP-712 signature of `BindLog(provider, log)`), so that its gatekeeper cannot start
/// over under a fresh log account and nobody can claim a log account it does not hold (see adr/0005
/// and adr/0016). Only governance moves a binding: a rotation the AgentRegistry's signers approved
/// (`approvedLogRotation`) is applied by `rotateLog` with the new account's consent; the new account
/// continues the old one's head and the old account can never anchor again.
interface IAuditAnchor {
    /// @notice A log's latest anchored head.
    struct TreeHead {
        uint64 size;
        bytes32 root;
    }

    /// @notice `size` does not exceed the log's latest anchored size `current`.
    error AuditAnchorSizeNotGrowing(address log, uint64 current, uint64 size);
    /// @notice `size` grows the log by more than `MAX_ANCHOR_GROWTH` entries past `current`.
    error AuditAnchorGrowthTooLarge(address log, uint64 current, uint64 size);
    /// @notice `log` was rotated away from by governance and can no longer anchor or be bound.
    error AuditAnchorLogRetired(address log);
    /// @notice `account` is not a current AgentRegistry signer (provider).
    error AuditAnchorNotProvider(address account);
    /// @notice The provider already bound a log account (bindings move only by governance).
    error AuditAnchorProviderBound(address provider, address log);
    /// @notice `log` is zero or already bound to a provider.
    error AuditAnchorInvalidLog(address log);
    /// @notice `signature` is not `log`'s EIP-712 signature of `BindLog(provider, log)`.
    error AuditAnchorInvalidConsent(address provider, address log);
    /// @notice Governance approved no rotation of `provider`'s log that is not already applied.
    error AuditAnchorNoRotation(address provider);

    /// @notice The log account `log` anchored the tree head (`size`, `root`).
    event TreeHeadAnchored(address indexed log, uint64 size, bytes32 root);
    /// @notice `provider` bound `log` as its only audit log account.
    event LogBound(address indexed provider, address indexed log);
    /// @notice Governance moved `provider`'s audit log from `oldLog` (retired) to `newLog`, which
    /// continues the old log's head (`size`, `root`); `TreeHeadAnchored(newLog, size, root)` follows.
    event LogRotated(address indexed provider, address indexed oldLog, address indexed newLog, uint64 size, bytes32 root);

    /// @notice Most entries one anchor may add to a log's anchored size.
    function MAX_ANCHOR_GROWTH() external view returns (uint64);

    /// @notice Anchors the caller's tree head; `size` must exceed its latest anchored size by 1 to
    /// `MAX_ANCHOR_GROWTH`. A retired log account cannot anchor.
    function anchor(uint64 size, bytes32 root) external;

    /// @notice Binds `log` as the calling provider's audit log account, once. `signature` is `log`'s
    /// consent: its signature of the EIP-712 digest `bindLogDigest(provider, log)`.
    function bindLog(address log, bytes calldata signature) external;

    /// @notice Anyone: applies the rotation of `provider`'s log that governance approved
    /// (`AgentRegistry.approvedLogRotation`); `signature` is the new log account's consent, as for
    /// `bindLog`. The new log takes over the old one's head (emitted again as its first
    /// `TreeHeadAnchored`); the old one is retired.
    function rotateLog(address provider, bytes calldata signature) external;

    /// @notice The EIP-712 digest a log account signs to consent to be `provider`'s log: the typed
    /// data `BindLog(address provider,address log)` in the domain ("MedRec AuditAnchor", "1", chain
    /// id, this contract).
    function bindLogDigest(address provider, address log) external view returns (bytes32);

    /// @notice The latest head anchored by `log` (size 0 when none).
    function headOf(address log) external view returns (TreeHead memory);

    /// @notice The log account bound by `provider` (zero when none).
    function logOf(address provider) external view returns (address);

    /// @notice The provider that bound `log` (zero when none); still named after `log` was retired.
    function providerOf(address log) external view returns (address);

    /// @notice Whether governance rotated `provider` away from `log`.
    function isRetired(address log) external view returns (bool);

    /// @notice The AgentRegistry whose signers are the providers.
    function registry() external view returns (address);
}
