// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAuditAnchor} from "./interfaces/IAuditAnchor.sol";

interface ISignerSet {
    function isSigner(address account) external view returns (bool);
}

/// @title MedRec audit-log anchors
/// @notice See {IAuditAnchor}.
contract AuditAnchor is IAuditAnchor {
    /// @inheritdoc IAuditAnchor
    address public immutable registry;

    mapping(address log => TreeHead) private _heads;
    mapping(address provider => address log) private _logs;
    mapping(address log => address provider) private _providers;

    constructor(address registry_) {
        registry = registry_;
    }

    /// @inheritdoc IAuditAnchor
    function anchor(uint64 size, bytes32 root) external {
        TreeHead storage head = _heads[msg.sender];
        if (size <= head.size) revert AuditAnchorSizeNotGrowing(msg.sender, head.size, size);
        head.size = size;
        head.root = root;
        emit TreeHeadAnchored(msg.sender, size, root);
    }

    /// @inheritdoc IAuditAnchor
    function bindLog(address log) external {
        if (!ISignerSet(registry).isSigner(msg.sender)) revert AuditAnchorNotProvider(msg.sender);
        address bound = _logs[msg.sender];
        if (bound != address(0)) revert AuditAnchorProviderBound(msg.sender, bound);
        if (log == address(0) || _providers[log] != address(0)) revert AuditAnchorInvalidLog(log);
        _logs[msg.sender] = log;
        _providers[log] = msg.sender;
        emit LogBound(msg.sender, log);
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
