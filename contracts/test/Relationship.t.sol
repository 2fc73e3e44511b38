// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/Vm.sol";
import {Agent} from "../contracts/Agent.sol";
import {Relationship} from "../contracts/Relationship.sol";
import {IAgent} from "../contracts/interfaces/IAgent.sol";
import {IRelationship} from "../contracts/interfaces/IRelationship.sol";

contract RelationshipPropertiesTest is TestBase {
    uint16 private constant KNOWN_SCOPES = 0xC3FF;
    uint256 private constant START = 1_700_000_000;

    /// @dev The trusted forwarder the contracts are built with. These properties are about direct
    /// calls (the relayed path runs the node suites twice); never the zero address, which would make
    /// a zero-address caller "the forwarder".
    address private constant FORWARDER = address(0xF0F0);
    Agent private agent;
    Relationship private rel;

    address private constant PATIENT = address(0xA11CE);
    address private constant CUSTODIAN_1 = address(0xC1);
    address private constant CUSTODIAN_2 = address(0xC2);
    address private constant PROVIDER = address(0xD0C);
    address private constant VIEWER = address(0xB0B);
    address private constant HEIR = address(0x4E14);

    bytes32 private id;

    function setUp() public {
        vm.warp(START);
        agent = new Agent(FORWARDER);
        rel = Relationship(address(agent.relationships()));
        address[] memory custodians = new address[](2);
        custodians[0] = CUSTODIAN_1;
        custodians[1] = CUSTODIAN_2;
        vm.prank(PATIENT);
        agent.register(keccak256("patient key"), custodians, 2);
        vm.prank(PROVIDER);
        id = rel.create(PATIENT, "encrypted provider details");
    }

    // ---------------------------------------------------------------------------------------------
    // Property: a grant is visible exactly until it expires or is revoked (or the relationship ends).
    // ---------------------------------------------------------------------------------------------

    function testFuzz_grantVisibleExactlyUntilExpiryOrRevocation(
        uint256 grantDelay,
        uint256 duration,
        uint256 checkOffset,
        uint16 rawScopes,
        bool doRevoke,
        uint256 revokeOffset,
        bool doEnd,
        uint256 endOffset,
        bool endByProvider
    ) public {
        uint256 grantAt = START + bound(grantDelay, 0, 365 days);
        uint256 expiresAt = grantAt + bound(duration, 1, 3650 days);
        uint16 scopes = rawScopes & KNOWN_SCOPES;
        if (scopes == 0) scopes = 1;

        vm.warp(grantAt);
        vm.prank(PATIENT);
        rel.grant(id, VIEWER, scopes, uint64(expiresAt), "");

        // Up to two later actions (max: never) and one observation at t, applied in time order.
        uint256 horizon = expiresAt + 30 days;
        uint256 revokeAt = doRevoke ? bound(revokeOffset, grantAt, horizon) : type(uint256).max;
        uint256 endAt = doEnd ? bound(endOffset, grantAt, horizon) : type(uint256).max;
        uint256 t = _observationTime(checkOffset, grantAt, expiresAt, revokeAt, endAt);

        bool revoked;
        bool ended;
        if (revokeAt <= endAt) {
            revoked = _revokeIfDue(revokeAt, t, false);
            ended = _endIfDue(endAt, t, endByProvider);
        } else {
            ended = _endIfDue(endAt, t, endByProvider);
            revoked = _revokeIfDue(revokeAt, t, ended);
        }
        vm.warp(t);
        _assertVisibility(scopes, t < expiresAt && !revoked && !ended);
    }

    /// Half of the runs observe right at a boundary, where off-by-one errors live.
    function _observationTime(uint256 seed, uint256 grantAt, uint256 expiresAt, uint256 revokeAt, uint256 endAt)
        private
        pure
        returns (uint256)
    {
        uint256 mode = seed % 8;
        uint256 jitter = (seed >> 8) % 2;
        if (mode == 0) return expiresAt - 1 + jitter;
        if (mode == 1 && revokeAt != type(uint256).max) return revokeAt + jitter;
        if (mode == 2 && endAt != type(uint256).max) return endAt + jitter;
        if (mode == 3) return grantAt;
        return bound(seed, grantAt, expiresAt + 30 days);
    }

    function _assertVisibility(uint16 scopes, bool visible) private view {
        assertEq(rel.activeScopes(id, VIEWER), visible ? scopes : 0, "activeScopes");
        assertTrue(rel.isAuthorized(id, VIEWER, scopes) == visible, "isAuthorized(all scopes)");
        uint16 lowest = scopes & (~scopes + 1);
        assertTrue(rel.isAuthorized(id, VIEWER, lowest) == visible, "isAuthorized(one scope)");
        // Never more than granted, and the patient's own access never lapses.
        uint16 outside = ~scopes & KNOWN_SCOPES;
        if (outside != 0) assertTrue(!rel.isAuthorized(id, VIEWER, outside), "outside scopes");
        assertTrue(rel.isAuthorized(id, PATIENT, scopes), "patient");
        assertTrue(rel.isAuthorized(id, CUSTODIAN_1, scopes), "custodian");
    }

    function _revokeIfDue(uint256 at, uint256 t, bool ended) private returns (bool) {
        if (at > t) return false;
        vm.warp(at);
        if (ended) {
            vm.expectRevert(abi.encodeWithSelector(IRelationship.RelationshipAlreadyEnded.selector, id));
            vm.prank(CUSTODIAN_2);
            rel.revoke(id, VIEWER);
            return false;
        }
        vm.prank(CUSTODIAN_2);
        rel.revoke(id, VIEWER);
        return true;
    }

    function _endIfDue(uint256 at, uint256 t, bool byProvider) private returns (bool) {
        if (at > t) return false;
        vm.warp(at);
        vm.prank(byProvider ? PROVIDER : PATIENT);
        rel.end(id);
        return true;
    }

    /// A fresh grant always replaces the previous one entirely.
    function testFuzz_grantReplaces(uint16 first, uint16 second, uint256 d1, uint256 d2, uint256 checkOffset) public {
        first = first & KNOWN_SCOPES;
        second = second & KNOWN_SCOPES;
        if (first == 0) first = 0x0001;
        if (second == 0) second = 0x8000;
        uint256 e1 = START + bound(d1, 1, 1000 days);
        uint256 e2 = START + bound(d2, 1, 1000 days);
        vm.startPrank(PATIENT);
        rel.grant(id, VIEWER, first, uint64(e1), "");
        rel.grant(id, VIEWER, second, uint64(e2), "");
        vm.stopPrank();
        IRelationship.Grant memory g = rel.grantOf(id, VIEWER);
        assertEq(g.scopes, second, "scopes replaced");
        assertEq(g.expiresAt, e2, "expiry replaced");
        uint256 t = bound(checkOffset, START, START + 1001 days);
        vm.warp(t);
        assertEq(rel.activeScopes(id, VIEWER), t < e2 ? second : 0, "only the second grant counts");
    }

    /// Grants outside the known scopes, without scopes, or not in the future are always refused.
    function testFuzz_grantValidation(uint16 scopes, uint64 expiresAt) public {
        bool valid = scopes != 0 && scopes & ~KNOWN_SCOPES == 0 && expiresAt > block.timestamp;
        vm.prank(PATIENT);
        (bool ok, ) = address(rel).call(abi.encodeCall(IRelationship.grant, (id, VIEWER, scopes, expiresAt, "")));
        assertTrue(ok == valid, "grant accepted iff scopes known and non-empty and expiry in the future");
    }

    /// Roots publish only at current + 1.
    function testFuzz_publishRootSequence(uint64 given, uint8 published) public {
        uint256 n = bound(published, 0, 5);
        vm.startPrank(PROVIDER);
        for (uint256 i = 1; i <= n; ++i) rel.publishRoot(id, bytes32(i), uint64(i));
        (bool ok, ) = address(rel).call(abi.encodeCall(IRelationship.publishRoot, (id, keccak256("r"), given)));
        vm.stopPrank();
        assertTrue(ok == (given == n + 1), "only current + 1");
        assertEq(rel.sequenceOf(id), ok ? n + 1 : n, "sequence");
    }

    // ---------------------------------------------------------------------------------------------
    // Property: no sequence of calls by a non-party changes a relationship (or its patient's agent).
    // ---------------------------------------------------------------------------------------------

    uint256 private constant OPS = 17;

    function testFuzz_nonPartyCannotChangeRelationship(
        uint256 strangerSeed,
        uint256 seed,
        uint8 steps,
        bool scheduled
    ) public {
        address stranger = _pickStranger(strangerSeed);
        _richState(scheduled);

        bytes32 relBefore = _relationshipState(stranger);
        bytes32 agentBefore = _agentState(stranger);
        bytes32[] memory listBefore = agent.relationshipsOf(PATIENT);

        uint256 n = bound(steps, 1, 24);
        for (uint256 i; i < n; ++i) {
            _strangerCall(stranger, uint256(keccak256(abi.encode(seed, i))));
        }

        assertEq(_relationshipState(stranger), relBefore, "relationship changed");
        assertEq(_agentState(stranger), agentBefore, "agent changed");
        // The agent's list may only grow by relationships the stranger itself created as a provider.
        bytes32[] memory listAfter = agent.relationshipsOf(PATIENT);
        assertTrue(listAfter.length >= listBefore.length, "list shrank");
        for (uint256 i; i < listBefore.length; ++i) assertEq(listAfter[i], listBefore[i], "list rewritten");
        for (uint256 i = listBefore.length; i < listAfter.length; ++i) {
            assertEq(rel.relationshipOf(listAfter[i]).provider, stranger, "foreign relationship attached");
        }
    }

    function _pickStranger(uint256 strangerSeed) private returns (address stranger) {
        uint256 pick = strangerSeed % 4;
        // Viewers and recovery candidates are non-parties too, and the likeliest to try.
        if (pick == 0) return VIEWER;
        if (pick == 1) return HEIR;
        stranger = address(uint160(uint256(keccak256(abi.encode(strangerSeed)))));
        vm.assume(
            stranger != PATIENT && stranger != CUSTODIAN_1 && stranger != CUSTODIAN_2 && stranger != PROVIDER
                && stranger != address(0) && stranger != address(agent) && stranger != address(rel)
                && stranger != address(this) && stranger != address(vm)
        );
    }

    /// A root, a grant, an acknowledged sequence, and one (or two: scheduled) recovery approvals.
    function _richState(bool scheduled) private {
        vm.prank(PROVIDER);
        rel.publishRoot(id, keccak256("root 1"), 1);
        vm.prank(PROVIDER);
        rel.publishRoot(id, keccak256("root 2"), 2);
        vm.prank(PATIENT);
        rel.grant(id, VIEWER, 0x00C0, uint64(block.timestamp + 30 days), "");
        vm.prank(CUSTODIAN_1);
        agent.acknowledge(PATIENT, id, 1);
        vm.prank(CUSTODIAN_1);
        agent.approveRecovery(PATIENT, HEIR);
        if (scheduled) {
            vm.prank(CUSTODIAN_2);
            agent.approveRecovery(PATIENT, HEIR);
        }
    }

    function _strangerCall(address stranger, uint256 r) private {
        uint256 op = r % OPS;
        address who = _pickTarget(r >> 8, stranger);
        bytes32 target = (r >> 16) % 4 == 0 ? rel.relationshipId(PATIENT, stranger) : id;
        uint64 seq = uint64((r >> 24) % 4);
        uint16 scopes = uint16(r >> 32);
        if ((r >> 112) % 2 == 0) scopes &= KNOWN_SCOPES; // mostly well-formed, so that only authority is in question
        uint64 expiry = uint64(block.timestamp + ((r >> 48) % 1000 days));
        uint8 small = uint8((r >> 96) % 4);

        bytes memory data;
        address callee = address(rel);
        if (op == 0) data = abi.encodeCall(IRelationship.create, (PATIENT, "stranger's own relationship"));
        else if (op == 1) data = abi.encodeCall(IRelationship.updateProviderDetails, (target, "rewritten"));
        else if (op == 2) data = abi.encodeCall(IRelationship.publishRoot, (target, bytes32(r), seq));
        else if (op == 3) data = abi.encodeCall(IRelationship.grant, (target, who, scopes, expiry, ""));
        else if (op == 4) data = abi.encodeCall(IRelationship.revoke, (target, who));
        else if (op == 5) data = abi.encodeCall(IRelationship.end, (target));
        else {
            callee = address(agent);
            if (op == 6) data = abi.encodeCall(IAgent.register, (bytes32(r), new address[](0), 0));
            else if (op == 7) data = abi.encodeCall(IAgent.setEncryptionKey, (PATIENT, bytes32(r)));
            else if (op == 8) data = abi.encodeCall(IAgent.addCustodian, (PATIENT, who));
            else if (op == 9) data = abi.encodeCall(IAgent.removeCustodian, (PATIENT, who));
            else if (op == 10) data = abi.encodeCall(IAgent.setRecoveryThreshold, (PATIENT, small));
            else if (op == 11) data = abi.encodeCall(IAgent.transferOwnership, (PATIENT, who));
            else if (op == 12) data = abi.encodeCall(IAgent.approveRecovery, (PATIENT, who));
            else if (op == 13) data = abi.encodeCall(IAgent.cancelRecovery, (PATIENT));
            else if (op == 14) data = abi.encodeCall(IAgent.executeRecovery, (PATIENT));
            else if (op == 15) data = abi.encodeCall(IAgent.acknowledge, (PATIENT, target, seq));
            else data = abi.encodeCall(IAgent.attachRelationship, (PATIENT, bytes32(r)));
        }
        vm.prank(stranger);
        (bool ok, ) = callee.call(data);
        ok; // Reverts are expected; only the resulting state matters.
    }

    function _pickTarget(uint256 r, address stranger) private pure returns (address) {
        uint256 pick = r % 6;
        if (pick == 0) return stranger;
        if (pick == 1) return VIEWER;
        if (pick == 2) return HEIR;
        if (pick == 3) return CUSTODIAN_1;
        if (pick == 4) return PATIENT;
        return address(uint160(r));
    }

    function _relationshipState(address stranger) private view returns (bytes32) {
        return keccak256(
            abi.encode(
                rel.relationshipOf(id),
                rel.grantOf(id, VIEWER),
                rel.grantOf(id, stranger),
                rel.grantOf(id, HEIR),
                rel.activeScopes(id, VIEWER),
                rel.activeScopes(id, stranger),
                rel.isAuthorized(id, stranger, 1)
            )
        );
    }

    function _agentState(address stranger) private view returns (bytes32) {
        bytes32 recovery = keccak256(
            abi.encode(
                agent.recoveryThreshold(PATIENT),
                agent.pendingRecovery(PATIENT),
                agent.recoveryApprovals(PATIENT, HEIR),
                agent.recoveryApprovals(PATIENT, stranger)
            )
        );
        return keccak256(
            abi.encode(
                agent.exists(PATIENT),
                agent.ownerOf(PATIENT),
                agent.agentOf(PATIENT),
                agent.custodians(PATIENT),
                agent.isController(PATIENT, stranger),
                agent.seenSequence(PATIENT, id),
                agent.hasNewContent(PATIENT, id),
                recovery
            )
        );
    }

    // ---------------------------------------------------------------------------------------------
    // Property: a pair linked, ended and linked again n times has n + 1 distinct relationships,
    // listed in order; only the newest is open; a custodian can end none of them.
    // ---------------------------------------------------------------------------------------------

    function testFuzz_relinkAfterEnd(uint8 rawTimes, bool endByProvider) public {
        uint256 times = bound(rawTimes, 1, 12);
        bytes32 current = id;
        for (uint256 k = 1; k <= times; ++k) {
            vm.prank(CUSTODIAN_1);
            vm.expectRevert(abi.encodeWithSelector(IRelationship.RelationshipNotParty.selector, current, CUSTODIAN_1));
            rel.end(current);
            vm.prank(PROVIDER);
            vm.expectRevert(abi.encodeWithSelector(IRelationship.RelationshipExists.selector, current));
            rel.create(PATIENT, "");
            vm.prank(endByProvider ? PROVIDER : PATIENT);
            rel.end(current);
            vm.prank(PROVIDER);
            bytes32 next = rel.create(PATIENT, "again");
            assertEq(next, rel.relationshipIdAt(PATIENT, PROVIDER, k), "k-th re-link id");
            assertEq(next, rel.relationshipId(PATIENT, PROVIDER), "current id");
            assertTrue(next != current, "a new id");
            current = next;
        }
        bytes32[] memory listed = agent.relationshipsOf(PATIENT);
        assertEq(listed.length, times + 1, "every incarnation listed");
        for (uint256 k; k <= times; ++k) {
            assertEq(listed[k], rel.relationshipIdAt(PATIENT, PROVIDER, k), "in order");
            assertTrue(rel.relationshipOf(listed[k]).ended == (k != times), "only the newest is open");
        }
    }
}
