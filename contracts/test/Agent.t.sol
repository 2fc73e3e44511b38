// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/Vm.sol";
import {Agent} from "../contracts/Agent.sol";
import {IAgent} from "../contracts/interfaces/IAgent.sol";
import {IRelationship} from "../contracts/interfaces/IRelationship.sol";

contract AgentRecoveryPropertiesTest is TestBase {
    uint256 private constant START = 1_700_000_000;
    address private constant PATIENT = address(0xA11CE);
    address private constant HEIR = address(0x4E14);

    /// @dev The trusted forwarder the contracts are built with. These properties are about direct
    /// calls (the relayed path runs the node suites twice); never the zero address, which would make
    /// a zero-address caller "the forwarder".
    address private constant FORWARDER = address(0xF0F0);
    Agent private agent;

    function setUp() public {
        vm.warp(START);
        agent = new Agent(FORWARDER);
    }

    function _custodian(uint256 i) private pure returns (address) {
        return address(uint160(0xC000 + i));
    }

    function _register(uint256 n, uint8 threshold) private {
        address[] memory custodians = new address[](n);
        for (uint256 i; i < n; ++i) custodians[i] = _custodian(i);
        vm.prank(PATIENT);
        agent.register(keccak256("key"), custodians, threshold);
    }

    function _execute() private returns (bool ok) {
        (ok, ) = address(agent).call(abi.encodeCall(IAgent.executeRecovery, (PATIENT)));
    }

    /// k custodians approving the heir recover the agent iff k reaches the threshold and the delay passed.
    function testFuzz_recoveryNeedsThresholdAndDelay(uint8 rawN, uint8 rawThreshold, uint8 rawK, uint256 wait) public {
        uint256 n = bound(rawN, 1, 8);
        uint8 threshold = uint8(bound(rawThreshold, 1, n));
        uint256 k = bound(rawK, 0, n);
        _register(n, threshold);

        for (uint256 i; i < k; ++i) {
            vm.prank(_custodian(i));
            agent.approveRecovery(PATIENT, HEIR);
        }
        uint256 elapsed = bound(wait, 0, 4 days);
        vm.warp(START + elapsed);

        bool expected = k >= threshold && elapsed >= agent.RECOVERY_DELAY();
        assertTrue(_execute() == expected, "execute iff threshold and delay");
        assertEq(agent.ownerOf(PATIENT), expected ? HEIR : PATIENT, "owner");
        assertEq(agent.agentOf(HEIR), expected ? PATIENT : address(0), "reverse lookup");
    }

    /// With a threshold of 2 or more, no sequence of approvals by one custodian ever moves ownership.
    function testFuzz_oneCustodianCannotTakeOver(
        uint8 rawN,
        uint8 rawThreshold,
        uint8 rawWho,
        uint256[6] calldata candidates,
        uint256 wait
    ) public {
        uint256 n = bound(rawN, 2, 8);
        uint8 threshold = uint8(bound(rawThreshold, 2, n));
        _register(n, threshold);
        address custodian = _custodian(bound(rawWho, 0, n - 1));

        for (uint256 i; i < candidates.length; ++i) {
            // Candidates include the custodian itself and a fixed heir, approved repeatedly.
            uint256 pick = candidates[i] % 3;
            address candidate = pick == 0 ? custodian : pick == 1 ? HEIR : address(uint160(candidates[i] | 1 << 150));
            vm.prank(custodian);
            agent.approveRecovery(PATIENT, candidate);
            assertEq(agent.recoveryApprovals(PATIENT, candidate), 1, "one custodian, one approval");
            vm.warp(block.timestamp + bound(wait >> (i * 16), 0, 3 days));
            assertTrue(!_execute(), "executed");
        }
        assertEq(agent.ownerOf(PATIENT), PATIENT, "owner kept");
        assertEq(agent.pendingRecovery(PATIENT).newOwner, address(0), "nothing scheduled");
    }

    /// An owner's cancel within the delay voids the recovery for good: the old approvals never come back.
    function testFuzz_cancelVoidsRecovery(uint8 rawN, uint256 cancelAfter, uint256 executeAfter) public {
        uint256 n = bound(rawN, 1, 8);
        _register(n, uint8(n));
        for (uint256 i; i < n; ++i) {
            vm.prank(_custodian(i));
            agent.approveRecovery(PATIENT, HEIR);
        }
        uint64 readyAt = agent.pendingRecovery(PATIENT).readyAt;
        assertEq(readyAt, START + agent.RECOVERY_DELAY(), "scheduled");

        vm.warp(START + bound(cancelAfter, 0, agent.RECOVERY_DELAY() - 1));
        vm.prank(PATIENT);
        agent.cancelRecovery(PATIENT);

        vm.warp(START + bound(executeAfter, 0, 365 days));
        assertTrue(!_execute(), "cancelled recovery executed");
        assertEq(agent.recoveryApprovals(PATIENT, HEIR), 0, "approvals voided");
        assertEq(agent.ownerOf(PATIENT), PATIENT, "owner kept");
    }

    /// Removing custodians drops their approvals: execution needs threshold approvals among current custodians.
    function testFuzz_removedCustodiansStopCounting(uint8 rawN, uint8 rawThreshold, uint8 rawRemoved) public {
        uint256 n = bound(rawN, 2, 8);
        uint8 threshold = uint8(bound(rawThreshold, 1, n - 1));
        _register(n, threshold);
        for (uint256 i; i < n; ++i) {
            vm.prank(_custodian(i));
            agent.approveRecovery(PATIENT, HEIR);
        }
        // Remove some approving custodians; the threshold must stay reachable.
        uint256 removed = bound(rawRemoved, 0, n - threshold);
        for (uint256 i; i < removed; ++i) {
            vm.prank(PATIENT);
            agent.removeCustodian(PATIENT, _custodian(i));
        }
        assertEq(agent.recoveryApprovals(PATIENT, HEIR), n - removed, "approvals of current custodians");
        // Raise the threshold above what remains approving when possible.
        uint256 remaining = n - removed;
        vm.prank(PATIENT);
        agent.setRecoveryThreshold(PATIENT, uint8(remaining));
        if (removed != 0) {
            // Re-adding a removed custodian does not bring its approval back.
            vm.prank(PATIENT);
            agent.addCustodian(PATIENT, _custodian(0));
            vm.prank(PATIENT);
            agent.setRecoveryThreshold(PATIENT, uint8(remaining + 1));
        }
        vm.warp(START + agent.RECOVERY_DELAY());
        assertTrue(_execute() == (removed == 0), "execute iff enough current approvals");
    }
}

/// @notice A patient's agent flooded with relationships by strangers is still read, one bounded page
/// at a time (`relationshipsPage`), every relationship exactly once.
contract AgentPagingTest is TestBase {
    address private constant FORWARDER = address(0xF0F0);
    address private constant PATIENT = address(0xA11CE);
    uint256 private constant FLOOD = 1000;
    Agent private agent;
    IRelationship private rel;

    function setUp() public {
        agent = new Agent(FORWARDER);
        rel = agent.relationships();
        vm.prank(PATIENT);
        agent.register(keccak256("key"), new address[](0), 0);
        for (uint256 i; i < FLOOD; ++i) {
            vm.prank(_stranger(i));
            rel.create(PATIENT, "");
        }
    }

    function _stranger(uint256 i) private pure returns (address) {
        return address(uint160(0x5000_0000 + i));
    }

    function test_floodedAgentIsReadInPagesEachRelationshipOnce() public view {
        uint256 pageSize = 300;
        uint256 seen;
        for (uint256 offset; offset < FLOOD; offset += pageSize) {
            (IAgent.RelationshipSummary[] memory page, uint256 total) =
                agent.relationshipsPage(PATIENT, offset, pageSize);
            assertEq(total, FLOOD, "total");
            uint256 expected = FLOOD - offset < pageSize ? FLOOD - offset : pageSize;
            assertEq(page.length, expected, "page length");
            for (uint256 i; i < page.length; ++i) {
                // Creation order: position offset + i is the (offset + i)-th stranger's relationship.
                address provider = _stranger(offset + i);
                assertEq(page[i].id, rel.relationshipId(PATIENT, provider), "id at its position");
                assertEq(page[i].provider, provider, "delegate");
                ++seen;
            }
        }
        assertEq(seen, FLOOD, "every relationship read once");
        (IAgent.RelationshipSummary[] memory past, uint256 count) = agent.relationshipsPage(PATIENT, FLOOD, 10);
        assertEq(past.length, 0, "nothing past the end");
        assertEq(count, FLOOD, "total past the end");
    }

    function test_limitIsCappedAtMaxPage() public view {
        (IAgent.RelationshipSummary[] memory page, ) = agent.relationshipsPage(PATIENT, 0, type(uint256).max);
        assertEq(page.length, agent.MAX_PAGE(), "capped");
        assertEq(agent.MAX_PAGE(), 500, "MAX_PAGE");
        (page, ) = agent.relationshipsPage(PATIENT, type(uint256).max, type(uint256).max);
        assertEq(page.length, 0, "huge offset");
    }
}
