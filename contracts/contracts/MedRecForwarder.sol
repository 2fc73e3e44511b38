// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title MedRec's trusted forwarder (ERC-2771)
/// @notice OpenZeppelin 5.4's {ERC2771Forwarder} with MedRec's EIP-712 domain: name "MedRecForwarder",
/// version "1", this chain's id, this contract's address. A relayer (any account with gas: in
/// practice a provider's gatekeeper) submits a `ForwardRequest` signed by `from`; the forwarder
/// checks the signature, the deadline and `from`'s nonce, and calls `to` with `from` appended to the
/// calldata. Only the MedRec contracts that were constructed with this forwarder's address read that
/// appended sender (`_msgSender()`); for any other target the request is refused.
/// @dev No state or logic of its own: the name is fixed so that every deployment has the domain
/// the clients sign for (packages/protocol/src/relay.ts).
contract MedRecForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("MedRecForwarder") {}
}
