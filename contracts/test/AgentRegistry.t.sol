// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TestBase} from "./utils/Vm.sol";
import {AgentRegistry} from "../contracts/AgentRegistry.sol";
import {IAgentRegistry} from "../contracts/interfaces/IAgentRegistry.sol";

/// @notice Property tests of AgentRegistry's governance against an independent in-memory model.
contract AgentRegistryTest is TestBase {
    /// @dev The trusted forwarder the contracts are built with. These properties are about direct
    /// calls (the relayed path runs the node suites twice); never the zero address, which would make
    /// a zero-address caller "the forwarder".
    address private constant FORWARDER = address(0xF0F0);
    uint256 private constant ACTORS = 8;
    /// @dev Fewer names than actors, so that proposals collide on names. Index NAMES is the empty name.
    uint256 private constant NAMES = 6;
    uint256 private constant MAX_STEPS = 64;
    uint256 private constant MAX_INITIAL = 6;
    string private constant URL = "https://gatekeeper.example.org";

    uint8 private constant ADD = 1;
    uint8 private constant KICK = 2;

    struct ModelProposal {
        uint8 kind;
        bool open;
        uint256 subject;
        uint256 proposer;
        uint256 nameIndex;
        /// @dev The voter's membership generation at the time of its vote (0: no vote).
        uint256[ACTORS] voteGeneration;
    }

    /// @dev What the registry should be, derived only from the initial set and the passed proposals.
    struct Model {
        AgentRegistry registry;
        uint256 initialSize;
        uint256 size;
        bool[ACTORS] inSet;
        uint256[ACTORS] generation;
        uint256[ACTORS] nameOf;
        /// @dev Holder actor + 1 of each name (0: free).
        uint256[NAMES] nameHolder;
        uint256[ACTORS] openAdd;
        uint256[ACTORS] openKick;
        uint256 count;
        ModelProposal[] proposals;
    }

    // ---------------------------------------------------------------- properties

    /// @dev The signer set always equals the initial set plus the passed Add proposals minus the passed
    /// Kicks; every call succeeds exactly when the model says it should; the set never drops below two.
    function testFuzz_signerSetFollowsPassedProposals(uint256 seed, uint256 initialSize, uint256 steps) public {
        Model memory m = _deploy(seed, bound(initialSize, 1, MAX_INITIAL));
        steps = bound(steps, 1, MAX_STEPS);
        for (uint256 i = 0; i < steps; ++i) {
            _step(m, uint256(keccak256(abi.encode(seed, i))));
            _checkAgainstModel(m);
        }
    }

    /// @dev threshold(n) == floor(n / 2) + 1, a strict majority.
    function testFuzz_thresholdIsStrictMajority(uint256 n) public {
        n = bound(n, 1, 24);
        AgentRegistry registry = new AgentRegistry(_initialSigners(0, n), FORWARDER);
        uint256 t = registry.threshold();
        assertEq(t, n / 2 + 1, "threshold");
        assertTrue(t * 2 > n, "threshold is a majority");
        assertTrue((t - 1) * 2 <= n, "threshold - 1 is not a majority");
    }

    /// @dev k votes of n signers add a provider exactly when 2k > n.
    function testFuzz_addPassesExactlyOnStrictMajority(uint256 n, uint256 k) public {
        n = bound(n, 1, 12);
        k = bound(k, 0, n);
        AgentRegistry registry = new AgentRegistry(_initialSigners(0, n), FORWARDER);
        address newcomer = _actor(100);
        vm.prank(newcomer);
        uint256 id = registry.proposeProvider("Newcomer", URL);
        for (uint256 i = 0; i < k && registry.proposal(id).open; ++i) {
            vm.prank(_actor(i));
            registry.vote(id);
        }
        assertTrue(registry.isSigner(newcomer) == (2 * k > n), "passes iff strict majority");
    }

    /// @dev A kick of one of n signers, with the proposer and k - 1 others voting, passes exactly when
    /// 2k > n: the subject counts in n but never votes.
    function testFuzz_kickPassesExactlyOnStrictMajority(uint256 n, uint256 k) public {
        n = bound(n, 3, 12);
        k = bound(k, 1, n - 1);
        AgentRegistry registry = new AgentRegistry(_initialSigners(0, n), FORWARDER);
        address subject = _actor(n - 1);
        vm.prank(_actor(0));
        uint256 id = registry.proposeKick(subject);
        for (uint256 i = 1; i < k && registry.proposal(id).open; ++i) {
            vm.prank(_actor(i));
            registry.vote(id);
        }
        assertTrue(registry.isSigner(subject) == (2 * k <= n), "passes iff strict majority");
        bool open = registry.proposal(id).open;
        vm.prank(subject);
        if (open) {
            vm.expectRevert(abi.encodeWithSelector(IAgentRegistry.AgentRegistrySelfKickVote.selector, id, subject));
        } else {
            vm.expectRevert(abi.encodeWithSelector(IAgentRegistry.AgentRegistryProposalClosed.selector, id));
        }
        registry.vote(id);
    }

    /// @dev A non-signer can never vote, on an Add (even its own) or on a Kick, and its attempt changes nothing.
    function testFuzz_nonSignerCannotVote(address voter, uint256 n, bool onKick) public {
        n = bound(n, 3, 8);
        AgentRegistry registry = new AgentRegistry(_initialSigners(0, n), FORWARDER);
        vm.assume(!registry.isSigner(voter) && voter != address(vm) && voter != FORWARDER);
        uint256 id;
        if (onKick) {
            vm.prank(_actor(0));
            id = registry.proposeKick(_actor(1));
        } else {
            vm.prank(voter);
            id = registry.proposeProvider("Voter", URL);
        }
        uint256 before = registry.votes(id);
        vm.prank(voter);
        vm.expectRevert(abi.encodeWithSelector(IAgentRegistry.AgentRegistryNotSigner.selector, voter));
        registry.vote(id);
        assertEq(registry.votes(id), before, "votes unchanged");
        assertTrue(!registry.hasVoted(id, voter), "no vote recorded");
    }

    /// @dev A signer's vote stops counting when it is kicked and does not revive when it is added again;
    /// in its new membership it may vote once more.
    function testFuzz_readdedSignerOldVoteDoesNotCount(uint256 n, uint256 v, uint256 rounds) public {
        n = bound(n, 4, 9);
        v = bound(v, 1, n - 1);
        rounds = bound(rounds, 1, 3);
        AgentRegistry registry = new AgentRegistry(_initialSigners(0, n), FORWARDER);
        address voter = _actor(v);
        vm.prank(_actor(100));
        uint256 id = registry.proposeProvider("Newcomer", URL);
        vm.prank(voter);
        registry.vote(id);
        assertEq(registry.votes(id), 1, "vote counted");
        for (uint256 round = 0; round < rounds; ++round) {
            // Everyone but the voter kicks it; the proposer is signer 0.
            vm.prank(_actor(0));
            uint256 kickId = registry.proposeKick(voter);
            for (uint256 i = 1; i < n && registry.proposal(kickId).open; ++i) {
                if (i == v) continue;
                vm.prank(_actor(i));
                registry.vote(kickId);
            }
            assertTrue(!registry.isSigner(voter), "kicked");
            assertEq(registry.votes(id), 0, "a kicked signer's vote does not count");
            vm.prank(voter);
            uint256 addId = registry.proposeProvider(string(abi.encodePacked("Back ", bytes1(uint8(65 + round)))), URL);
            for (uint256 i = 0; i < n && registry.proposal(addId).open; ++i) {
                if (i == v) continue;
                vm.prank(_actor(i));
                registry.vote(addId);
            }
            assertTrue(registry.isSigner(voter), "re-added");
            assertEq(registry.votes(id), 0, "the old vote does not revive");
            assertTrue(!registry.hasVoted(id, voter), "hasVoted: old vote");
        }
        vm.prank(voter);
        registry.vote(id);
        assertEq(registry.votes(id), 1, "a vote in the new membership counts");
    }

    /// @dev Names of 1..64 bytes and URLs of 1..256 bytes are accepted, all others refused.
    function testFuzz_nameAndUrlLengths(uint256 nameLength, uint256 urlLength) public {
        nameLength = bound(nameLength, 0, 100);
        urlLength = bound(urlLength, 0, 300);
        IAgentRegistry.InitialSigner[] memory initial = _initialSigners(0, 2);
        AgentRegistry registry = new AgentRegistry(initial, FORWARDER);
        string memory name = string(new bytes(nameLength));
        string memory url = string(new bytes(urlLength));
        bool nameOk = nameLength >= 1 && nameLength <= 64;
        bool urlOk = urlLength >= 1 && urlLength <= 256;
        vm.prank(_actor(50));
        if (!nameOk) {
            vm.expectRevert(abi.encodeWithSelector(IAgentRegistry.AgentRegistryInvalidName.selector, name));
        } else if (!urlOk) {
            vm.expectRevert(abi.encodeWithSelector(IAgentRegistry.AgentRegistryInvalidGatekeeperUrl.selector, url));
        }
        registry.proposeProvider(name, url);
        vm.prank(_actor(0));
        if (!urlOk) {
            vm.expectRevert(abi.encodeWithSelector(IAgentRegistry.AgentRegistryInvalidGatekeeperUrl.selector, url));
        }
        registry.updateProvider(url, address(0));
    }

    // ---------------------------------------------------------------- random actions

    /// @dev Actors and ids are mostly drawn to make things happen (signers vote on open proposals), and
    /// sometimes at random, so that every refusal is exercised too.
    function _step(Model memory m, uint256 r) private {
        uint256 action = r % 10;
        bool aimed = (r >> 8) % 5 != 0;
        uint256 member = _pick(m, r >> 16, true, aimed);
        uint256 outsider = _pick(m, r >> 24, false, aimed);
        uint256 id = _pickProposal(m, r >> 32, aimed);
        if (action < 2) _proposeProvider(m, outsider, (r >> 48) % (NAMES + 1));
        else if (action == 2) _proposeKick(m, member, _pick(m, r >> 56, true, aimed));
        else if (action < 7) _vote(m, member, id);
        else if (action == 7) _withdraw(m, (r >> 64) % 2 == 0 && _isOpen(m, id) ? m.proposals[id - 1].proposer : member, id);
        else if (action == 8) _execute(m, outsider, id);
        else _updateProvider(m, member);
    }

    /// @dev A random signer (`signer`) or non-signer when `aimed` and one exists, else any actor.
    function _pick(Model memory m, uint256 r, bool signer, bool aimed) private pure returns (uint256) {
        uint256 start = r % ACTORS;
        if (aimed) {
            for (uint256 k = 0; k < ACTORS; ++k) {
                uint256 a = (start + k) % ACTORS;
                if (m.inSet[a] == signer) return a;
            }
        }
        return start;
    }

    /// @dev A random open proposal when `aimed` and one exists, else any id up to one past the last.
    function _pickProposal(Model memory m, uint256 r, bool aimed) private pure returns (uint256) {
        uint256 total = m.count + 2;
        uint256 start = r % total;
        if (aimed) {
            for (uint256 k = 0; k < total; ++k) {
                uint256 id = (start + k) % total;
                if (_isOpen(m, id)) return id;
            }
        }
        return start;
    }

    function _proposeProvider(Model memory m, uint256 a, uint256 nameIndex) private {
        bool expected = !m.inSet[a] && m.openAdd[a] == 0 && nameIndex < NAMES && m.nameHolder[nameIndex] == 0;
        vm.prank(_actor(a));
        try m.registry.proposeProvider(_name(nameIndex), URL) returns (uint256 id) {
            assertTrue(expected, "proposeProvider: accepted against the model");
            assertEq(id, m.count + 1, "proposeProvider: id");
            ModelProposal memory p = m.proposals[m.count++];
            p.kind = ADD;
            p.open = true;
            p.subject = a;
            p.proposer = a;
            p.nameIndex = nameIndex;
            m.openAdd[a] = id;
        } catch {
            assertTrue(!expected, "proposeProvider: refused against the model");
        }
    }

    function _proposeKick(Model memory m, uint256 a, uint256 b) private {
        bool expected = m.inSet[a] && m.inSet[b] && m.size > 2 && m.openKick[b] == 0;
        vm.prank(_actor(a));
        try m.registry.proposeKick(_actor(b)) returns (uint256 id) {
            assertTrue(expected, "proposeKick: accepted against the model");
            assertEq(id, m.count + 1, "proposeKick: id");
            ModelProposal memory p = m.proposals[m.count++];
            p.kind = KICK;
            p.open = true;
            p.subject = b;
            p.proposer = a;
            if (a != b) p.voteGeneration[a] = m.generation[a];
            m.openKick[b] = id;
            // One vote never passes with more than two signers.
            assertTrue(_tally(m, p) * 2 <= m.size, "proposeKick: passed at once");
        } catch {
            assertTrue(!expected, "proposeKick: refused against the model");
        }
    }

    function _vote(Model memory m, uint256 a, uint256 id) private {
        bool expected = _isOpen(m, id) && m.inSet[a];
        bool passes;
        ModelProposal memory p;
        uint256 previous;
        if (expected) {
            p = m.proposals[id - 1];
            expected = !(p.kind == KICK && p.subject == a) && p.voteGeneration[a] != m.generation[a];
        }
        if (expected) {
            previous = p.voteGeneration[a];
            p.voteGeneration[a] = m.generation[a];
            passes = _tally(m, p) * 2 > m.size;
            // A passing vote executes at once; if the change is no longer valid the whole vote reverts.
            if (passes && !_stillValid(m, p)) {
                expected = false;
                p.voteGeneration[a] = previous;
            }
        }
        vm.prank(_actor(a));
        try m.registry.vote(id) {
            assertTrue(expected, "vote: accepted against the model");
            if (passes) _apply(m, p);
        } catch {
            assertTrue(!expected, "vote: refused against the model");
        }
    }

    function _withdraw(Model memory m, uint256 a, uint256 id) private {
        bool expected = _isOpen(m, id) && m.proposals[id - 1].proposer == a;
        vm.prank(_actor(a));
        try m.registry.withdraw(id) {
            assertTrue(expected, "withdraw: accepted against the model");
            _close(m, m.proposals[id - 1]);
        } catch {
            assertTrue(!expected, "withdraw: refused against the model");
        }
    }

    function _execute(Model memory m, uint256 a, uint256 id) private {
        bool expected = _isOpen(m, id);
        if (expected) {
            ModelProposal memory p = m.proposals[id - 1];
            expected = _tally(m, p) * 2 > m.size && _stillValid(m, p);
        }
        vm.prank(_actor(a));
        try m.registry.execute(id) {
            assertTrue(expected, "execute: accepted against the model");
            _apply(m, m.proposals[id - 1]);
        } catch {
            assertTrue(!expected, "execute: refused against the model");
        }
    }

    function _updateProvider(Model memory m, uint256 a) private {
        vm.prank(_actor(a));
        try m.registry.updateProvider("https://moved.example.org", _actor(a + 100)) {
            assertTrue(m.inSet[a], "updateProvider: accepted against the model");
            assertEq(m.registry.provider(_actor(a)).agent, _actor(a + 100), "updateProvider: agent");
        } catch {
            assertTrue(!m.inSet[a], "updateProvider: refused against the model");
        }
    }

    // ---------------------------------------------------------------- model

    function _deploy(uint256 seed, uint256 initialSize) private returns (Model memory m) {
        uint256 first = seed % ACTORS;
        IAgentRegistry.InitialSigner[] memory initial = new IAgentRegistry.InitialSigner[](initialSize);
        for (uint256 j = 0; j < initialSize; ++j) {
            uint256 a = (first + j) % ACTORS;
            initial[j] = IAgentRegistry.InitialSigner({account: _actor(a), name: _name(j), gatekeeperUrl: URL});
            m.inSet[a] = true;
            m.generation[a] = 1;
            m.nameOf[a] = j;
            m.nameHolder[j] = a + 1;
        }
        m.registry = new AgentRegistry(initial, FORWARDER);
        m.initialSize = initialSize;
        m.size = initialSize;
        m.proposals = new ModelProposal[](MAX_STEPS);
        _checkAgainstModel(m);
    }

    function _apply(Model memory m, ModelProposal memory p) private pure {
        _close(m, p);
        uint256 s = p.subject;
        if (p.kind == ADD) {
            m.inSet[s] = true;
            ++m.generation[s];
            ++m.size;
            m.nameOf[s] = p.nameIndex;
            m.nameHolder[p.nameIndex] = s + 1;
        } else {
            m.inSet[s] = false;
            --m.size;
            m.nameHolder[m.nameOf[s]] = 0;
        }
    }

    function _close(Model memory m, ModelProposal memory p) private pure {
        p.open = false;
        if (p.kind == ADD) m.openAdd[p.subject] = 0;
        else m.openKick[p.subject] = 0;
    }

    function _stillValid(Model memory m, ModelProposal memory p) private pure returns (bool) {
        if (p.kind == ADD) return !m.inSet[p.subject] && m.nameHolder[p.nameIndex] == 0;
        return m.inSet[p.subject] && m.size > 2;
    }

    function _tally(Model memory m, ModelProposal memory p) private pure returns (uint256 count) {
        for (uint256 a = 0; a < ACTORS; ++a) {
            if (m.inSet[a] && p.voteGeneration[a] == m.generation[a]) ++count;
        }
    }

    function _isOpen(Model memory m, uint256 id) private pure returns (bool) {
        return id != 0 && id <= m.count && m.proposals[id - 1].open;
    }

    function _checkAgainstModel(Model memory m) private view {
        AgentRegistry registry = m.registry;
        address[] memory current = registry.signers();
        assertEq(current.length, m.size, "signer count");
        bool[ACTORS] memory seen;
        for (uint256 i = 0; i < current.length; ++i) {
            uint256 a = uint160(current[i]) - uint160(_actor(0));
            assertTrue(a < ACTORS && m.inSet[a] && !seen[a], "signers() equals the model set");
            seen[a] = true;
        }
        for (uint256 a = 0; a < ACTORS; ++a) {
            assertTrue(registry.isSigner(_actor(a)) == m.inSet[a], "isSigner equals the model");
        }
        for (uint256 j = 0; j < NAMES; ++j) {
            uint256 holder = m.nameHolder[j];
            assertEq(registry.providerByName(_name(j)), holder == 0 ? address(0) : _actor(holder - 1), "name holder");
        }
        assertEq(registry.threshold(), m.size / 2 + 1, "threshold");
        assertEq(registry.proposalCount(), m.count, "proposal count");
        for (uint256 id = 1; id <= m.count; ++id) {
            ModelProposal memory p = m.proposals[id - 1];
            if (!p.open) continue;
            assertEq(registry.votes(id), _tally(m, p), "live tally");
            for (uint256 a = 0; a < ACTORS; ++a) {
                bool counts = m.inSet[a] && p.voteGeneration[a] == m.generation[a];
                assertTrue(registry.hasVoted(id, _actor(a)) == counts, "hasVoted");
            }
        }
        if (m.initialSize >= 2) assertTrue(current.length >= 2, "never fewer than two signers");
    }

    // ---------------------------------------------------------------- fixtures

    function _actor(uint256 i) private pure returns (address) {
        return address(uint160(0xA11CE000 + i));
    }

    function _name(uint256 index) private pure returns (string memory) {
        if (index >= NAMES) return "";
        return string(abi.encodePacked("Provider ", bytes1(uint8(65 + index))));
    }

    function _initialSigners(uint256 from, uint256 n) private pure returns (IAgentRegistry.InitialSigner[] memory s) {
        s = new IAgentRegistry.InitialSigner[](n);
        for (uint256 i = 0; i < n; ++i) {
            s[i] = IAgentRegistry.InitialSigner({
                account: _actor(from + i),
                name: string(abi.encodePacked("Initial ", bytes1(uint8(65 + i)))),
                gatekeeperUrl: URL
            });
        }
    }
}
