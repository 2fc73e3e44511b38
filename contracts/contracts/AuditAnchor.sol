// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IAuditAnchor} from "./interfaces/IAuditAnchor.sol";

interface ISignerSet {
    function isSigner(address account) external view returns (bool);
}

/// @title MedRec audit-log anchors
/// @notice See {IAuditAnchor}.
/// @dev Accepts meta-transactions (ERC-2771): the log and provider checks read `_msgSender()` — the
/// caller, or the signer of a request relayed by the trusted forwarder.
contract AuditAnchor is IAuditAnchor, ERC2771Context {
    /// @inheritdoc IAuditAnchor
    address public immutable registry;

    mapping(address log => TreeHead) private _heads;
    mapping(address provider => address log) private _logs;
    mapping(address log => address provider) private _providers;

    /// @param trustedForwarder_ The MedRecForwarder whose relayed requests act for their signer.
    constructor(address registry_, address trustedForwarder_) ERC2771Context(trustedForwarder_) {
        registry = registry_;
    }

    /// @inheritdoc IAuditAnchor
    function anchor(uint64 size, bytes32 root) external {
        address log = _msgSender();
        TreeHead storage head = _heads[log];
        if (size <= head.size) revert AuditAnchorSizeNotGrowing(log, head.size, size);
        head.size = size;
        head.root = root;
        emit TreeHeadAnchored(log, size, root);
    }

    /// @inheritdoc IAuditAnchor
    function bindLog(address log) external {
        address provider = _msgSender();
        if (!ISignerSet(registry).isSigner(provider)) revert AuditAnchorNotProvider(provider);
        address bound = _logs[provider];
        if (bound != address(0)) revert AuditAnchorProviderBound(provider, bound);
        if (log == address(0) || _providers[log] != address(0)) revert AuditAnchorInvalidLog(log);
        _logs[provider] = log;
        _providers[log] = provider;
        emit LogBound(provider, log);
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
}
