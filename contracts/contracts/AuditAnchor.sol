// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IAuditAnchor} from "./interfaces/IAuditAnchor.sol";

/// @dev The two AgentRegistry views the anchors rely on.
interface ILogGovernance {
    function isSigner(address account) external view returns (bool);
    function approvedLogRotation(address provider) external view returns (address);
}

/// @title MedRec audit-log anchors
/// @notice See {IAuditAnchor}.
/// @dev Accepts meta-transactions (ERC-2771): the log and provider checks read `_msgSender()` — the
/// caller, or the signer of a request relayed by the trusted forwarder.
contract AuditAnchor is IAuditAnchor, ERC2771Context, EIP712 {
    /// @inheritdoc IAuditAnchor
    /// @dev A gatekeeper anchors every few seconds; a million entries is far more than one interval
    /// writes, and a gatekeeper that fell behind anchors in steps. 2^64 − 1 needs 18 trillion anchors.
    uint64 public constant MAX_ANCHOR_GROWTH = 1_000_000;

    bytes32 private constant _BIND_LOG_TYPEHASH = keccak256("BindLog(address provider,address log)");

    /// @inheritdoc IAuditAnchor
    address public immutable registry;

    mapping(address log => TreeHead) private _heads;
    mapping(address provider => address log) private _logs;
    mapping(address log => address provider) private _providers;
    mapping(address log => bool) private _retired;

    /// @param trustedForwarder_ The MedRecForwarder whose relayed requests act for their signer.
    constructor(address registry_, address trustedForwarder_)
        ERC2771Context(trustedForwarder_)
        EIP712("MedRec AuditAnchor", "1")
    {
        registry = registry_;
    }

    /// @inheritdoc IAuditAnchor
    function anchor(uint64 size, bytes32 root) external {
        address log = _msgSender();
        if (_retired[log]) revert AuditAnchorLogRetired(log);
        TreeHead storage head = _heads[log];
        uint64 current = head.size;
        if (size <= current) revert AuditAnchorSizeNotGrowing(log, current, size);
        if (size - current > MAX_ANCHOR_GROWTH) revert AuditAnchorGrowthTooLarge(log, current, size);
        head.size = size;
        head.root = root;
        emit TreeHeadAnchored(log, size, root);
    }

    /// @inheritdoc IAuditAnchor
    function bindLog(address log, bytes calldata signature) external {
        address provider = _msgSender();
        if (!ILogGovernance(registry).isSigner(provider)) revert AuditAnchorNotProvider(provider);
        address bound = _logs[provider];
        if (bound != address(0)) revert AuditAnchorProviderBound(provider, bound);
        _requireConsent(provider, log, signature);
        _logs[provider] = log;
        _providers[log] = provider;
        emit LogBound(provider, log);
    }

    /// @inheritdoc IAuditAnchor
    function rotateLog(address provider, bytes calldata signature) external {
        ILogGovernance governance = ILogGovernance(registry);
        if (!governance.isSigner(provider)) revert AuditAnchorNotProvider(provider);
        address newLog = governance.approvedLogRotation(provider);
        address oldLog = _logs[provider];
        if (newLog == address(0) || newLog == oldLog) revert AuditAnchorNoRotation(provider);
        _requireConsent(provider, newLog, signature);

        TreeHead memory head = _heads[oldLog];
        if (oldLog != address(0)) _retired[oldLog] = true;
        _heads[newLog] = head;
        _logs[provider] = newLog;
        _providers[newLog] = provider;
        emit LogRotated(provider, oldLog, newLog, head.size, head.root);
        // The new log's own event stream starts from the head it continues, so a reader that follows
        // `logOf(provider)` checks the next heads' consistency against it.
        if (head.size != 0) emit TreeHeadAnchored(newLog, head.size, head.root);
    }

    /// @inheritdoc IAuditAnchor
    function bindLogDigest(address provider, address log) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(_BIND_LOG_TYPEHASH, provider, log)));
    }

    /// @inheritdoc IAuditAnchor
    function headOf(address log) external view returns (TreeHead memory) {
        return _heads[log];
    }

    /// @inheritdoc IAuditAnchor
    function logOf(address provider) external view returns (address) {
        return _logs[provider];
    }

    /// @inheritdoc IAuditAnchor
    function providerOf(address log) external view returns (address) {
        return _providers[log];
    }

    /// @inheritdoc IAuditAnchor
    function isRetired(address log) external view returns (bool) {
        return _retired[log];
    }

    /// @dev `log` must be free (never bound — a retired log stays bound to its provider) and have signed `BindLog(provider, log)`.
    function _requireConsent(address provider, address log, bytes calldata signature) private view {
        if (log == address(0) || _providers[log] != address(0)) revert AuditAnchorInvalidLog(log);
        (address signer, ECDSA.RecoverError error, ) = ECDSA.tryRecover(bindLogDigest(provider, log), signature);
        if (error != ECDSA.RecoverError.NoError || signer != log) revert AuditAnchorInvalidConsent(provider, log);
    }
}
