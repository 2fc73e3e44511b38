// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/Vm.sol";
import {AuditAnchor} from "../contracts/AuditAnchor.sol";

contract AuditAnchorPropertiesTest is TestBase {
    address private constant FORWARDER = address(0xF0F0);
    address private constant REGISTRY = address(0xBEEF);
    address private constant LOG = address(0x106);
    AuditAnchor private anchor;

    function setUp() public {
        anchor = new AuditAnchor(REGISTRY, FORWARDER);
    }

    /// Whatever sizes a log key sends, an anchor is accepted iff it grows the head by 1 to
    /// MAX_ANCHOR_GROWTH, so no sequence of anchors reaches a size the log cannot follow.
    function testFuzz_anchorGrowsByAtMostTheBound(uint64[8] memory sizes) public {
        uint64 max = anchor.MAX_ANCHOR_GROWTH();
        uint64 current;
        for (uint256 i; i < sizes.length; ++i) {
            // Half the tries near the bound, half anywhere.
            uint64 size = i % 2 == 0 ? uint64(bound(sizes[i], current, uint256(current) + max + 2)) : sizes[i];
            bool allowed = size > current && size - current <= max;
            vm.prank(LOG);
            (bool ok, ) = address(anchor).call(abi.encodeCall(AuditAnchor.anchor, (size, bytes32(uint256(i)))));
            assertTrue(ok == allowed, "accepted iff 0 < growth <= MAX_ANCHOR_GROWTH");
            if (ok) current = size;
            assertEq(anchor.headOf(LOG).size, current, "head");
        }
        assertTrue(current <= uint256(sizes.length) * max, "bounded by anchors x MAX_ANCHOR_GROWTH");
    }
}
