import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { type Address, getAddress, type Hash, parseEventLogs, zeroAddress } from "viem";
import { deployForwarder, MODES, type Mode, RELAY_OVERHEAD, via } from "./via.ts";

const { viem, networkHelpers } = await network.create();
const publicClient = await viem.getPublicClient();
const wallets = await viem.getWalletClients();

// Accounts 0..6 are (up to seven) genesis signers; accounts from OUTSIDER on never are unless a test adds them.
const OUTSIDER = 10;
const MAX_SIGNERS = 7;

/** `items[i]`, which the test knows to exist. */
function at<T>(items: readonly T[], i: number): T {
  const item = items[i];
  assert.ok(item !== undefined, `no item ${i}`);
  return item;
}

const addr = (i: number): Address => getAddress(at(wallets, i).account.address);
const by = (i: number) => ({ account: at(wallets, i).account });
const nameOf = (i: number) => `Provider ${i}`;
const urlOf = (i: number) => `https://gatekeeper-${i}.example.org`;
const initialSigner = (i: number) => ({ account: addr(i), name: nameOf(i), gatekeeperUrl: urlOf(i) });
const range = (n: number, from = 0) => Array.from({ length: n }, (_, k) => from + k);

const Kind = { None: 0, Add: 1, Kick: 2, RotateLog: 3 } as const;

/** Every rule of AgentRegistry, called `mode` (direct or through the trusted forwarder). */
function shouldBehaveLikeAgentRegistry(mode: Mode) {
  async function deployWith(n: number) {
    const forwarder = await deployForwarder(viem);
    const registry = await viem.deployContract("AgentRegistry", [
      range(n).map(initialSigner),
      forwarder.address,
    ]);
    return via(mode, viem, forwarder, registry);
  }

  type Registry = Awaited<ReturnType<typeof deployWith>>;

  // One named fixture per signer count: loadFixture snapshots by function identity.
  const fixtures = new Map<number, () => Promise<Registry>>();
  for (let n = 1; n <= MAX_SIGNERS; n++) {
    fixtures.set(n, async function deployRegistry() {
      return deployWith(n);
    });
  }
  const withSigners = (n: number) => {
    const fixture = fixtures.get(n);
    if (!fixture) throw new Error(`no fixture for ${n} signers`);
    return networkHelpers.loadFixture(fixture);
  };

  /** The events `registry` emitted in the transaction, in log order. */
  async function eventsOf(registry: Registry, hash: Hash | Promise<Hash>) {
    const receipt = await publicClient.waitForTransactionReceipt({ hash: await hash });
    assert.equal(receipt.status, "success");
    return parseEventLogs({ abi: registry.abi, logs: receipt.logs }).map((log) => ({
      name: log.eventName,
      args: log.args as Record<string, unknown>,
    }));
  }

  async function gasOf(hash: Hash | Promise<Hash>) {
    return (await publicClient.waitForTransactionReceipt({ hash: await hash })).gasUsed;
  }

  async function signerSet(registry: Registry) {
    return [...(await registry.read.signers())].sort();
  }

  const sorted = (accounts: Address[]) => [...accounts].sort();

  async function proposeAdd(registry: Registry, i: number, name = nameOf(i), url = urlOf(i)) {
    await registry.write.proposeProvider([name, url], by(i));
    return registry.read.proposalCount();
  }

  async function proposeKick(registry: Registry, proposer: number, subject: number) {
    await registry.write.proposeKick([addr(subject)], by(proposer));
    return registry.read.proposalCount();
  }

  async function voteAll(registry: Registry, id: bigint, voters: number[]) {
    for (const voter of voters) await registry.write.vote([id], by(voter));
  }

  /** `execute` of proposal `id`, called by `caller`, refuses: it has `votes` of the `needed`. */
  const expectNotPassed = (registry: Registry, id: bigint, votes: bigint, needed: bigint, caller = 0) =>
    viem.assertions.revertWithCustomErrorWithArgs(
      registry.write.execute([id], by(caller)),
      registry,
      "AgentRegistryNotPassed",
      [id, votes, needed],
    );

  /** Adds `subject` with the votes of `voters` (who must make it pass). */
  async function add(registry: Registry, subject: number, voters: number[]) {
    const id = await proposeAdd(registry, subject);
    await voteAll(registry, id, voters);
    assert.equal(await registry.read.isSigner([addr(subject)]), true);
    return id;
  }

  /** Kicks `subject`: `proposer` proposes (its vote counts), `voters` make it pass. */
  async function kick(registry: Registry, proposer: number, subject: number, voters: number[]) {
    const id = await proposeKick(registry, proposer, subject);
    await voteAll(registry, id, voters);
    assert.equal(await registry.read.isSigner([addr(subject)]), false);
    return id;
  }

  describe(`AgentRegistry (${mode})`, () => {
    describe("constructor", () => {
      it("registers every initial signer as signer and provider", async () => {
        const registry = await withSigners(3);
        assert.deepEqual(await signerSet(registry), sorted(range(3).map(addr)));
        for (const i of range(3)) {
          assert.equal(await registry.read.isSigner([addr(i)]), true);
          assert.deepEqual(await registry.read.provider([addr(i)]), {
            name: nameOf(i),
            gatekeeperUrl: urlOf(i),
            agent: zeroAddress,
          });
          assert.equal(await registry.read.providerByName([nameOf(i)]), addr(i));
        }
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), false);
        assert.equal(await registry.read.threshold(), 2n);
        assert.equal(await registry.read.proposalCount(), 0n);
      });

      it("emits SignerAdded then ProviderRegistered for each initial signer, in order", async () => {
        const { deploymentTransaction } = await viem.sendDeploymentTransaction("AgentRegistry", [
          range(3).map(initialSigner),
          zeroAddress,
        ]);
        const registry = await deployWith(1); // only for its ABI
        const events = await eventsOf(registry, deploymentTransaction.hash);
        assert.deepEqual(
          events,
          range(3).flatMap((i) => [
            { name: "SignerAdded", args: { signer: addr(i) } },
            {
              name: "ProviderRegistered",
              args: { account: addr(i), name: nameOf(i), gatekeeperUrl: urlOf(i) },
            },
          ]),
        );
      });

      it("accepts a single signer (a development chain)", async () => {
        const registry = await withSigners(1);
        assert.deepEqual(await registry.read.signers(), [addr(0)]);
        assert.equal(await registry.read.threshold(), 1n);
      });

      it("accepts a 64-byte name and a 256-byte URL", async () => {
        const registry = await viem.deployContract("AgentRegistry", [
          [{ account: addr(0), name: "n".repeat(64), gatekeeperUrl: "u".repeat(256) }],
          zeroAddress,
        ]);
        assert.equal(await registry.read.providerByName(["n".repeat(64)]), addr(0));
      });

      it("reverts with AgentRegistryNoInitialSigners on an empty set", async () => {
        const abiHolder = await withSigners(1);
        await viem.assertions.revertWithCustomError(
          viem.deployContract("AgentRegistry", [[], zeroAddress]),
          abiHolder,
          "AgentRegistryNoInitialSigners",
        );
      });

      it("reverts with AgentRegistryInvalidAccount on the zero address", async () => {
        const abiHolder = await withSigners(1);
        await viem.assertions.revertWithCustomErrorWithArgs(
          viem.deployContract("AgentRegistry", [
            [initialSigner(0), { account: zeroAddress, name: "Zero", gatekeeperUrl: urlOf(1) }],
            zeroAddress,
          ]),
          abiHolder,
          "AgentRegistryInvalidAccount",
          [zeroAddress],
        );
      });

      it("reverts with AgentRegistryDuplicateSigner on a repeated account", async () => {
        const abiHolder = await withSigners(1);
        await viem.assertions.revertWithCustomErrorWithArgs(
          viem.deployContract("AgentRegistry", [
            [
              initialSigner(0),
              initialSigner(1),
              { account: addr(0), name: "Again", gatekeeperUrl: urlOf(2) },
            ],
            zeroAddress,
          ]),
          abiHolder,
          "AgentRegistryDuplicateSigner",
          [addr(0)],
        );
      });

      for (const name of ["", "n".repeat(65)]) {
        it(`reverts with AgentRegistryInvalidName on a ${name.length}-byte name`, async () => {
          const abiHolder = await withSigners(1);
          await viem.assertions.revertWithCustomErrorWithArgs(
            viem.deployContract("AgentRegistry", [
              [{ account: addr(0), name, gatekeeperUrl: urlOf(0) }],
              zeroAddress,
            ]),
            abiHolder,
            "AgentRegistryInvalidName",
            [name],
          );
        });
      }

      for (const url of ["", "u".repeat(257)]) {
        it(`reverts with AgentRegistryInvalidGatekeeperUrl on a ${url.length}-byte URL`, async () => {
          const abiHolder = await withSigners(1);
          await viem.assertions.revertWithCustomErrorWithArgs(
            viem.deployContract("AgentRegistry", [
              [{ account: addr(0), name: nameOf(0), gatekeeperUrl: url }],
              zeroAddress,
            ]),
            abiHolder,
            "AgentRegistryInvalidGatekeeperUrl",
            [url],
          );
        });
      }

      it("reverts with AgentRegistryNameTaken when two initial signers share a name", async () => {
        const abiHolder = await withSigners(1);
        await viem.assertions.revertWithCustomErrorWithArgs(
          viem.deployContract("AgentRegistry", [
            [initialSigner(0), { account: addr(1), name: nameOf(0), gatekeeperUrl: urlOf(1) }],
            zeroAddress,
          ]),
          abiHolder,
          "AgentRegistryNameTaken",
          [nameOf(0), addr(0)],
        );
      });
    });

    describe("proposeProvider", () => {
      it("records an open Add proposal of the caller, ids starting at 1, and emits ProviderProposed", async () => {
        const registry = await withSigners(3);
        const x = OUTSIDER;
        const { result } = await registry.simulate.proposeProvider([nameOf(x), urlOf(x)], {
          account: addr(x),
        });
        assert.equal(result, 1n);
        await viem.assertions.emitWithArgs(
          registry.write.proposeProvider([nameOf(x), urlOf(x)], by(x)),
          registry,
          "ProviderProposed",
          [1n, addr(x), nameOf(x), urlOf(x)],
        );
        assert.equal(await registry.read.proposalCount(), 1n);
        assert.deepEqual(await registry.read.proposal([1n]), {
          kind: Kind.Add,
          open: true,
          subject: addr(x),
          proposer: addr(x),
          name: nameOf(x),
          gatekeeperUrl: urlOf(x),
          log: zeroAddress,
        });
        assert.equal(await registry.read.votes([1n]), 0n);
        assert.equal(await registry.read.isSigner([addr(x)]), false);
        assert.equal(await registry.read.providerByName([nameOf(x)]), zeroAddress);

        await registry.write.proposeProvider([nameOf(x + 1), urlOf(x + 1)], by(x + 1));
        assert.equal(await registry.read.proposalCount(), 2n);
      });

      it("accepts a 64-byte name and a 256-byte URL", async () => {
        const registry = await withSigners(3);
        await registry.write.proposeProvider(["n".repeat(64), "u".repeat(256)], by(OUTSIDER));
        assert.equal((await registry.read.proposal([1n])).name, "n".repeat(64));
      });

      it("reverts with AgentRegistryAlreadySigner when a signer proposes itself", async () => {
        const registry = await withSigners(3);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeProvider(["Another name", urlOf(0)], by(0)),
          registry,
          "AgentRegistryAlreadySigner",
          [addr(0)],
        );
      });

      it("reverts with AgentRegistryProposalPending on a second open Add of the same account", async () => {
        const registry = await withSigners(3);
        const id = await proposeAdd(registry, OUTSIDER);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeProvider(["Other name", urlOf(OUTSIDER)], by(OUTSIDER)),
          registry,
          "AgentRegistryProposalPending",
          [addr(OUTSIDER), id],
        );
        await registry.write.withdraw([id], by(OUTSIDER));
        assert.equal(await proposeAdd(registry, OUTSIDER, "Other name"), 2n);
      });

      for (const name of ["", "n".repeat(65)]) {
        it(`reverts with AgentRegistryInvalidName on a ${name.length}-byte name`, async () => {
          const registry = await withSigners(3);
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.proposeProvider([name, urlOf(OUTSIDER)], by(OUTSIDER)),
            registry,
            "AgentRegistryInvalidName",
            [name],
          );
        });
      }

      for (const url of ["", "u".repeat(257)]) {
        it(`reverts with AgentRegistryInvalidGatekeeperUrl on a ${url.length}-byte URL`, async () => {
          const registry = await withSigners(3);
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.proposeProvider([nameOf(OUTSIDER), url], by(OUTSIDER)),
            registry,
            "AgentRegistryInvalidGatekeeperUrl",
            [url],
          );
        });
      }

      it("reverts with AgentRegistryNameTaken on a name a provider holds", async () => {
        const registry = await withSigners(3);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeProvider([nameOf(1), urlOf(OUTSIDER)], by(OUTSIDER)),
          registry,
          "AgentRegistryNameTaken",
          [nameOf(1), addr(1)],
        );
      });

      it("checks the name again at execution: the second of two proposals for one name cannot pass", async () => {
        const registry = await withSigners(4);
        const [x, y] = [OUTSIDER, OUTSIDER + 1];
        const first = await proposeAdd(registry, x, "Mercy");
        const second = await proposeAdd(registry, y, "Mercy");
        await voteAll(registry, second, [0, 1]); // 2 of 3
        await voteAll(registry, first, [2, 3, 0]); // passes: n = 5
        assert.equal(await registry.read.providerByName(["Mercy"]), addr(x));

        // The vote that would pass the second proposal is refused with the reason.
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([second], by(2)),
          registry,
          "AgentRegistryNameTaken",
          ["Mercy", addr(x)],
        );
        // Shrinking the set makes it pass by arithmetic (2 of 2 at n = 3); execution still refuses the name.
        await kick(registry, 2, 3, [x, 1]);
        await kick(registry, x, 2, [0, 1]);
        assert.equal(await registry.read.votes([second]), 2n);
        assert.equal(await registry.read.threshold(), 2n);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.execute([second], by(OUTSIDER + 2)),
          registry,
          "AgentRegistryNameTaken",
          ["Mercy", addr(x)],
        );
        assert.equal(await registry.read.isSigner([addr(y)]), false);
        assert.equal((await registry.read.proposal([second])).open, true);
      });

      it("a name freed by a kick can be proposed again", async () => {
        const registry = await withSigners(3);
        await kick(registry, 0, 2, [1]);
        assert.equal(await registry.read.providerByName([nameOf(2)]), zeroAddress);
        const id = await proposeAdd(registry, OUTSIDER, nameOf(2));
        await voteAll(registry, id, [0, 1]);
        assert.equal(await registry.read.providerByName([nameOf(2)]), addr(OUTSIDER));
      });
    });

    describe("proposeKick", () => {
      it("records an open Kick, counts the proposer's vote and emits KickProposed then ProposalVoted", async () => {
        const registry = await withSigners(4);
        const { result } = await registry.simulate.proposeKick([addr(3)], { account: addr(0) });
        assert.equal(result, 1n);
        const events = await eventsOf(registry, registry.write.proposeKick([addr(3)], by(0)));
        assert.deepEqual(events, [
          { name: "KickProposed", args: { proposalId: 1n, signer: addr(3), proposer: addr(0) } },
          { name: "ProposalVoted", args: { proposalId: 1n, signer: addr(0), votes: 1n, needed: 3n } },
        ]);
        assert.deepEqual(await registry.read.proposal([1n]), {
          kind: Kind.Kick,
          open: true,
          subject: addr(3),
          proposer: addr(0),
          name: "",
          gatekeeperUrl: "",
          log: zeroAddress,
        });
        assert.equal(await registry.read.votes([1n]), 1n);
        assert.equal(await registry.read.hasVoted([1n, addr(0)]), true);
        assert.equal(await registry.read.isSigner([addr(3)]), true);
      });

      it("a signer may ask to leave: its own proposal carries no vote", async () => {
        const registry = await withSigners(3);
        const events = await eventsOf(registry, registry.write.proposeKick([addr(2)], by(2)));
        assert.deepEqual(events, [
          { name: "KickProposed", args: { proposalId: 1n, signer: addr(2), proposer: addr(2) } },
        ]);
        assert.equal(await registry.read.votes([1n]), 0n);
        assert.equal(await registry.read.hasVoted([1n, addr(2)]), false);
        await registry.write.vote([1n], by(0));
        assert.equal(await registry.read.isSigner([addr(2)]), true);
        await registry.write.vote([1n], by(1));
        assert.equal(await registry.read.isSigner([addr(2)]), false);
      });

      it("reverts with AgentRegistryNotSigner when a non-signer proposes", async () => {
        const registry = await withSigners(3);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeKick([addr(1)], by(OUTSIDER)),
          registry,
          "AgentRegistryNotSigner",
          [addr(OUTSIDER)],
        );
      });

      it("defect(v2): kicking a non-signer is refused and never evicts a signer", async () => {
        const registry = await withSigners(3);
        const before = await signerSet(registry);
        for (const subject of [addr(OUTSIDER), zeroAddress]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.proposeKick([subject], by(0)),
            registry,
            "AgentRegistryNotSigner",
            [subject],
          );
        }
        assert.deepEqual(await signerSet(registry), before);
        assert.equal(await registry.read.proposalCount(), 0n);

        // Nor can a former signer be kicked a second time (which, in v2, would evict the last signer).
        await kick(registry, 0, 2, [1]);
        const after = await signerSet(registry);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeKick([addr(2)], by(0)),
          registry,
          "AgentRegistryNotSigner",
          [addr(2)],
        );
        assert.deepEqual(await signerSet(registry), after);
      });

      it("defect(v2): the signer set never drops below two — a kick is refused with two signers left", async () => {
        const registry = await withSigners(2);
        for (const subject of [0, 1]) {
          for (const proposer of [0, 1]) {
            await viem.assertions.revertWithCustomErrorWithArgs(
              registry.write.proposeKick([addr(subject)], by(proposer)),
              registry,
              "AgentRegistryMinimumSigners",
              [2n],
            );
          }
        }
        assert.deepEqual(await signerSet(registry), sorted([addr(0), addr(1)]));
      });

      it("reverts with AgentRegistryMinimumSigners on a single-signer chain", async () => {
        const registry = await withSigners(1);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeKick([addr(0)], by(0)),
          registry,
          "AgentRegistryMinimumSigners",
          [1n],
        );
      });

      it("reverts with AgentRegistryProposalPending on a second open Kick of the same signer", async () => {
        const registry = await withSigners(4);
        const id = await proposeKick(registry, 0, 3);
        for (const proposer of [0, 1, 3]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.proposeKick([addr(3)], by(proposer)),
            registry,
            "AgentRegistryProposalPending",
            [addr(3), id],
          );
        }
        // Kicks of different subjects may be open side by side; a withdrawn kick frees its subject.
        await proposeKick(registry, 0, 2);
        await registry.write.withdraw([id], by(0));
        assert.equal(await proposeKick(registry, 1, 3), 3n);
      });
    });

    describe("vote", () => {
      it("records the vote and emits ProposalVoted with the live tally and the threshold", async () => {
        const registry = await withSigners(5);
        const id = await proposeAdd(registry, OUTSIDER);
        await viem.assertions.emitWithArgs(registry.write.vote([id], by(2)), registry, "ProposalVoted", [
          id,
          addr(2),
          1n,
          3n,
        ]);
        assert.equal(await registry.read.hasVoted([id, addr(2)]), true);
        assert.equal(await registry.read.hasVoted([id, addr(1)]), false);
        await viem.assertions.emitWithArgs(registry.write.vote([id], by(4)), registry, "ProposalVoted", [
          id,
          addr(4),
          2n,
          3n,
        ]);
        assert.equal(await registry.read.votes([id]), 2n);
        assert.equal((await registry.read.proposal([id])).open, true);
      });

      it("the passing vote adds the provider: ProposalVoted, SignerAdded, ProviderRegistered, ProposalExecuted", async () => {
        const registry = await withSigners(3);
        const x = OUTSIDER;
        const id = await proposeAdd(registry, x);
        await registry.write.vote([id], by(0));
        const events = await eventsOf(registry, registry.write.vote([id], by(1)));
        assert.deepEqual(events, [
          { name: "ProposalVoted", args: { proposalId: id, signer: addr(1), votes: 2n, needed: 2n } },
          { name: "SignerAdded", args: { signer: addr(x) } },
          {
            name: "ProviderRegistered",
            args: { account: addr(x), name: nameOf(x), gatekeeperUrl: urlOf(x) },
          },
          { name: "ProposalExecuted", args: { proposalId: id } },
        ]);
        assert.deepEqual(await signerSet(registry), sorted([addr(0), addr(1), addr(2), addr(x)]));
        assert.equal(await registry.read.isSigner([addr(x)]), true);
        assert.deepEqual(await registry.read.provider([addr(x)]), {
          name: nameOf(x),
          gatekeeperUrl: urlOf(x),
          agent: zeroAddress,
        });
        assert.equal(await registry.read.providerByName([nameOf(x)]), addr(x));
        assert.equal((await registry.read.proposal([id])).open, false);
        assert.equal(await registry.read.threshold(), 3n);
        // The new signer can take part at once.
        await registry.write.updateProvider(["https://new.example.org", addr(x + 1)], by(x));
        await proposeKick(registry, x, 2);
      });

      it("the passing vote kicks the signer: ProposalVoted, SignerRemoved, ProviderRemoved, ProposalExecuted", async () => {
        const registry = await withSigners(4);
        const id = await proposeKick(registry, 0, 2);
        await registry.write.vote([id], by(1));
        const events = await eventsOf(registry, registry.write.vote([id], by(3)));
        assert.deepEqual(events, [
          { name: "ProposalVoted", args: { proposalId: id, signer: addr(3), votes: 3n, needed: 3n } },
          { name: "SignerRemoved", args: { signer: addr(2) } },
          { name: "ProviderRemoved", args: { account: addr(2), name: nameOf(2) } },
          { name: "ProposalExecuted", args: { proposalId: id } },
        ]);
        assert.deepEqual(await signerSet(registry), sorted([addr(0), addr(1), addr(3)]));
        assert.equal(await registry.read.isSigner([addr(2)]), false);
        assert.deepEqual(await registry.read.provider([addr(2)]), {
          name: "",
          gatekeeperUrl: "",
          agent: zeroAddress,
        });
        assert.equal(await registry.read.providerByName([nameOf(2)]), zeroAddress);
        assert.equal((await registry.read.proposal([id])).open, false);
        assert.equal(await registry.read.threshold(), 2n);
        // The others keep their entries after the swap-and-pop.
        for (const i of [0, 1, 3]) assert.equal(await registry.read.providerByName([nameOf(i)]), addr(i));
      });

      it("kicking the last-listed and the first-listed signer keeps the set consistent", async () => {
        const registry = await withSigners(5);
        await kick(registry, 0, 4, [1, 2]);
        await kick(registry, 1, 0, [2, 3]);
        assert.deepEqual(await signerSet(registry), sorted([addr(1), addr(2), addr(3)]));
        for (const i of [1, 2, 3]) assert.equal(await registry.read.isSigner([addr(i)]), true);
        await kick(registry, 1, 3, [2]);
        assert.deepEqual(await signerSet(registry), sorted([addr(1), addr(2)]));
      });

      it("reverts with AgentRegistryUnknownProposal on id 0 and on an id never used", async () => {
        const registry = await withSigners(3);
        await proposeAdd(registry, OUTSIDER);
        for (const id of [0n, 2n, 2n ** 256n - 1n]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.vote([id], by(0)),
            registry,
            "AgentRegistryUnknownProposal",
            [id],
          );
        }
      });

      it("reverts with AgentRegistryProposalClosed after execution and after withdrawal", async () => {
        const registry = await withSigners(3);
        const executed = await add(registry, OUTSIDER, [0, 1]);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([executed], by(2)),
          registry,
          "AgentRegistryProposalClosed",
          [executed],
        );
        const withdrawn = await proposeAdd(registry, OUTSIDER + 1);
        await registry.write.withdraw([withdrawn], by(OUTSIDER + 1));
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([withdrawn], by(0)),
          registry,
          "AgentRegistryProposalClosed",
          [withdrawn],
        );
      });

      it("reverts with AgentRegistryNotSigner for a non-signer, the Add subject itself and a kicked signer", async () => {
        const registry = await withSigners(4);
        const id = await proposeAdd(registry, OUTSIDER);
        for (const voter of [OUTSIDER + 1, OUTSIDER]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.vote([id], by(voter)),
            registry,
            "AgentRegistryNotSigner",
            [addr(voter)],
          );
        }
        await kick(registry, 0, 3, [1, 2]);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([id], by(3)),
          registry,
          "AgentRegistryNotSigner",
          [addr(3)],
        );
        assert.equal(await registry.read.votes([id]), 0n);
      });

      it("reverts with AgentRegistrySelfKickVote when the subject votes on its own kick (or leave request)", async () => {
        const registry = await withSigners(3);
        const kickId = await proposeKick(registry, 0, 2);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([kickId], by(2)),
          registry,
          "AgentRegistrySelfKickVote",
          [kickId, addr(2)],
        );
        const leaveId = await proposeKick(registry, 1, 1);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([leaveId], by(1)),
          registry,
          "AgentRegistrySelfKickVote",
          [leaveId, addr(1)],
        );
      });

      it("reverts with AgentRegistryAlreadyVoted on a second vote, including the kick proposer's", async () => {
        const registry = await withSigners(5);
        const addId = await proposeAdd(registry, OUTSIDER);
        await registry.write.vote([addId], by(3));
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([addId], by(3)),
          registry,
          "AgentRegistryAlreadyVoted",
          [addId, addr(3)],
        );
        const kickId = await proposeKick(registry, 0, 4);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([kickId], by(0)),
          registry,
          "AgentRegistryAlreadyVoted",
          [kickId, addr(0)],
        );
      });
    });

    describe("withdraw", () => {
      it("closes the proposal, emits ProposalWithdrawn, and frees the subject for a new proposal", async () => {
        const registry = await withSigners(3);
        const addId = await proposeAdd(registry, OUTSIDER);
        await registry.write.vote([addId], by(0));
        await viem.assertions.emitWithArgs(
          registry.write.withdraw([addId], by(OUTSIDER)),
          registry,
          "ProposalWithdrawn",
          [addId],
        );
        assert.equal((await registry.read.proposal([addId])).open, false);
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), false);

        const kickId = await proposeKick(registry, 0, 2);
        const events = await eventsOf(registry, registry.write.withdraw([kickId], by(0)));
        assert.deepEqual(events, [{ name: "ProposalWithdrawn", args: { proposalId: kickId } }]);
        assert.equal(await registry.read.isSigner([addr(2)]), true);

        // Both subjects may be proposed afresh; the earlier votes do not carry over.
        const again = await proposeAdd(registry, OUTSIDER);
        assert.equal(await registry.read.votes([again]), 0n);
        await proposeKick(registry, 1, 2);
      });

      it("a withdrawn proposal can neither be voted on nor executed", async () => {
        const registry = await withSigners(3);
        const id = await proposeAdd(registry, OUTSIDER);
        await registry.write.vote([id], by(0));
        await registry.write.withdraw([id], by(OUTSIDER));
        for (const write of [registry.write.vote([id], by(1)), registry.write.execute([id], by(1))]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            write,
            registry,
            "AgentRegistryProposalClosed",
            [id],
          );
        }
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), false);
      });

      it("reverts with AgentRegistryNotProposer for anyone but the proposer", async () => {
        const registry = await withSigners(3);
        const addId = await proposeAdd(registry, OUTSIDER);
        for (const caller of [0, OUTSIDER + 1]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.withdraw([addId], by(caller)),
            registry,
            "AgentRegistryNotProposer",
            [addId, addr(caller)],
          );
        }
        const kickId = await proposeKick(registry, 0, 2);
        for (const caller of [1, 2]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.withdraw([kickId], by(caller)),
            registry,
            "AgentRegistryNotProposer",
            [kickId, addr(caller)],
          );
        }
      });

      it("reverts with AgentRegistryUnknownProposal and AgentRegistryProposalClosed", async () => {
        const registry = await withSigners(3);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.withdraw([1n], by(0)),
          registry,
          "AgentRegistryUnknownProposal",
          [1n],
        );
        const id = await proposeAdd(registry, OUTSIDER);
        await registry.write.withdraw([id], by(OUTSIDER));
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.withdraw([id], by(OUTSIDER)),
          registry,
          "AgentRegistryProposalClosed",
          [id],
        );
        const executed = await add(registry, OUTSIDER + 1, [0, 1]);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.withdraw([executed], by(OUTSIDER + 1)),
          registry,
          "AgentRegistryProposalClosed",
          [executed],
        );
      });

      it("a kicked proposer may still withdraw its open proposal", async () => {
        const registry = await withSigners(4);
        const id = await proposeKick(registry, 3, 2);
        await kick(registry, 0, 3, [1, 2]);
        await registry.write.withdraw([id], by(3));
        assert.equal((await registry.read.proposal([id])).open, false);
      });
    });

    describe("execute", () => {
      it("anyone executes a proposal that passes because the signer set shrank", async () => {
        const registry = await withSigners(4);
        const id = await proposeAdd(registry, OUTSIDER);
        await voteAll(registry, id, [0, 1]); // 2 of 3
        await expectNotPassed(registry, id, 2n, 3n, OUTSIDER + 1);
        await kick(registry, 0, 3, [1, 2]); // n = 3: 2 of 2
        assert.equal(await registry.read.votes([id]), 2n);
        const events = await eventsOf(registry, registry.write.execute([id], by(OUTSIDER + 1)));
        assert.deepEqual(events, [
          { name: "SignerAdded", args: { signer: addr(OUTSIDER) } },
          {
            name: "ProviderRegistered",
            args: { account: addr(OUTSIDER), name: nameOf(OUTSIDER), gatekeeperUrl: urlOf(OUTSIDER) },
          },
          { name: "ProposalExecuted", args: { proposalId: id } },
        ]);
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), true);
      });

      it("executes a kick that passes because the signer set shrank", async () => {
        const registry = await withSigners(5);
        const id = await proposeKick(registry, 0, 4);
        await registry.write.vote([id], by(1)); // 2 of 3
        await kick(registry, 2, 3, [0, 1]); // n = 4: still 2 of 3
        assert.equal(await registry.read.votes([id]), 2n);
        await kick(registry, 0, 2, [1, 4]); // n = 3: 2 of 2
        const events = await eventsOf(registry, registry.write.execute([id], by(OUTSIDER)));
        assert.deepEqual(events, [
          { name: "SignerRemoved", args: { signer: addr(4) } },
          { name: "ProviderRemoved", args: { account: addr(4), name: nameOf(4) } },
          { name: "ProposalExecuted", args: { proposalId: id } },
        ]);
        assert.deepEqual(await signerSet(registry), sorted([addr(0), addr(1)]));
      });

      it("reverts with AgentRegistryNotPassed, giving votes and needed", async () => {
        const registry = await withSigners(5);
        const id = await proposeAdd(registry, OUTSIDER);
        await expectNotPassed(registry, id, 0n, 3n);
        await voteAll(registry, id, [0, 1]);
        await expectNotPassed(registry, id, 2n, 3n);
      });

      it("reverts with AgentRegistryUnknownProposal and AgentRegistryProposalClosed", async () => {
        const registry = await withSigners(3);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.execute([7n], by(0)),
          registry,
          "AgentRegistryUnknownProposal",
          [7n],
        );
        const id = await add(registry, OUTSIDER, [0, 1]);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.execute([id], by(0)),
          registry,
          "AgentRegistryProposalClosed",
          [id],
        );
      });

      it("with two signers left a pending kick can never pass (subject excluded, both needed)", async () => {
        const registry = await withSigners(3);
        const kick2 = await proposeKick(registry, 0, 2); // S0's vote: 1 of 2
        await kick(registry, 0, 1, [2]); // n = 2
        assert.deepEqual(await signerSet(registry), sorted([addr(0), addr(2)]));
        await expectNotPassed(registry, kick2, 1n, 2n);
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.vote([kick2], by(2)),
          registry,
          "AgentRegistrySelfKickVote",
          [kick2, addr(2)],
        );
        assert.equal(await registry.read.isSigner([addr(2)]), true);
      });
    });

    describe("updateProvider", () => {
      it("updates the caller's URL and Agent id and emits ProviderUpdated; the name stays", async () => {
        const registry = await withSigners(3);
        const url = "https://moved.example.org/api";
        const agent = addr(OUTSIDER + 5);
        await viem.assertions.emitWithArgs(
          registry.write.updateProvider([url, agent], by(1)),
          registry,
          "ProviderUpdated",
          [addr(1), url, agent],
        );
        assert.deepEqual(await registry.read.provider([addr(1)]), {
          name: nameOf(1),
          gatekeeperUrl: url,
          agent,
        });
        assert.equal(await registry.read.providerByName([nameOf(1)]), addr(1));
        assert.deepEqual(await registry.read.provider([addr(0)]), {
          name: nameOf(0),
          gatekeeperUrl: urlOf(0),
          agent: zeroAddress,
        });
        // The Agent id may be cleared again; a 256-byte URL is accepted.
        await registry.write.updateProvider(["u".repeat(256), zeroAddress], by(1));
        assert.deepEqual(await registry.read.provider([addr(1)]), {
          name: nameOf(1),
          gatekeeperUrl: "u".repeat(256),
          agent: zeroAddress,
        });
      });

      it("reverts with AgentRegistryNotSigner for a non-signer, a proposed provider and a kicked provider", async () => {
        const registry = await withSigners(4);
        await proposeAdd(registry, OUTSIDER);
        await kick(registry, 0, 3, [1, 2]);
        for (const caller of [OUTSIDER + 1, OUTSIDER, 3]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.updateProvider([urlOf(caller), zeroAddress], by(caller)),
            registry,
            "AgentRegistryNotSigner",
            [addr(caller)],
          );
        }
      });

      for (const url of ["", "u".repeat(257)]) {
        it(`reverts with AgentRegistryInvalidGatekeeperUrl on a ${url.length}-byte URL`, async () => {
          const registry = await withSigners(3);
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.updateProvider([url, zeroAddress], by(0)),
            registry,
            "AgentRegistryInvalidGatekeeperUrl",
            [url],
          );
        });
      }

      it("a kicked and re-added provider starts with a fresh entry", async () => {
        const registry = await withSigners(4);
        await registry.write.updateProvider(["https://old.example.org", addr(OUTSIDER)], by(3));
        await kick(registry, 0, 3, [1, 2]);
        const id = await proposeAdd(registry, 3, "Renamed", "https://new.example.org");
        await voteAll(registry, id, [0, 1]);
        assert.deepEqual(await registry.read.provider([addr(3)]), {
          name: "Renamed",
          gatekeeperUrl: "https://new.example.org",
          agent: zeroAddress,
        });
      });
    });

    describe("proposeLogRotation", () => {
      it("records the proposer's vote; the passing vote approves the log: LogRotationApproved, ProposalExecuted", async () => {
        const registry = await withSigners(3);
        const log = addr(OUTSIDER);
        const proposed = await eventsOf(registry, registry.write.proposeLogRotation([addr(1), log], by(0)));
        assert.deepEqual(proposed, [
          {
            name: "LogRotationProposed",
            args: { proposalId: 1n, provider: addr(1), proposer: addr(0), log },
          },
          { name: "ProposalVoted", args: { proposalId: 1n, signer: addr(0), votes: 1n, needed: 2n } },
        ]);
        assert.deepEqual(await registry.read.proposal([1n]), {
          kind: Kind.RotateLog,
          open: true,
          subject: addr(1),
          proposer: addr(0),
          name: "",
          gatekeeperUrl: "",
          log,
        });
        assert.equal(await registry.read.approvedLogRotation([addr(1)]), zeroAddress);
        assert.deepEqual(await eventsOf(registry, registry.write.vote([1n], by(2))), [
          { name: "ProposalVoted", args: { proposalId: 1n, signer: addr(2), votes: 2n, needed: 2n } },
          { name: "LogRotationApproved", args: { provider: addr(1), log } },
          { name: "ProposalExecuted", args: { proposalId: 1n } },
        ]);
        assert.equal(await registry.read.approvedLogRotation([addr(1)]), log);
        // A kicked provider's approval goes with its entry.
        await kick(registry, 0, 1, [2]);
        assert.equal(await registry.read.approvedLogRotation([addr(1)]), zeroAddress);
      });

      it("a single signer decides alone", async () => {
        const registry = await withSigners(1);
        await registry.write.proposeLogRotation([addr(0), addr(OUTSIDER)], by(0));
        assert.equal(await registry.read.approvedLogRotation([addr(0)]), addr(OUTSIDER));
        assert.equal((await registry.read.proposal([1n])).open, false);
      });
    });

    describe("views of unknown things", () => {
      it("return empty values", async () => {
        const registry = await withSigners(3);
        assert.deepEqual(await registry.read.provider([addr(OUTSIDER)]), {
          name: "",
          gatekeeperUrl: "",
          agent: zeroAddress,
        });
        assert.equal(await registry.read.providerByName(["Nobody"]), zeroAddress);
        assert.equal(await registry.read.providerByName([""]), zeroAddress);
        assert.deepEqual(await registry.read.proposal([1n]), {
          kind: Kind.None,
          open: false,
          subject: zeroAddress,
          proposer: zeroAddress,
          name: "",
          gatekeeperUrl: "",
          log: zeroAddress,
        });
        assert.equal(await registry.read.votes([1n]), 0n);
        assert.equal(await registry.read.hasVoted([1n, addr(0)]), false);
        assert.equal(await registry.read.hasVoted([1n, addr(OUTSIDER)]), false);
      });
    });

    describe("governance arithmetic: strict majority of the current signers", () => {
      const expectedThreshold = [0, 1, 2, 2, 3, 3, 4, 4, 5];

      for (let n = 1; n <= MAX_SIGNERS; n++) {
        const t = at(expectedThreshold, n);

        it(`${n} signer(s): threshold ${t} — ${t - 1} vote(s) do not add a provider, ${t} do`, async () => {
          const registry = await withSigners(n);
          assert.equal(await registry.read.threshold(), BigInt(t));
          const id = await proposeAdd(registry, OUTSIDER);
          // Vote from the highest index down, so the set's ordering plays no part.
          const voters = range(n).reverse();
          await voteAll(registry, id, voters.slice(0, t - 1));
          assert.equal(await registry.read.votes([id]), BigInt(t - 1));
          assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), false);
          await expectNotPassed(registry, id, BigInt(t - 1), BigInt(t), OUTSIDER);
          await viem.assertions.emitWithArgs(
            registry.write.vote([id], by(at(voters, t - 1))),
            registry,
            "ProposalExecuted",
            [id],
          );
          assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), true);
          assert.equal(await registry.read.threshold(), BigInt(at(expectedThreshold, n + 1)));
        });

        if (n >= 3) {
          it(`${n} signers: a kick needs ${t} of the ${n - 1} others — the subject counts in n but cannot vote`, async () => {
            const registry = await withSigners(n);
            const subject = n - 1;
            const id = await proposeKick(registry, 0, subject); // the proposer's vote: 1
            const others = range(n - 2, 1); // everyone but proposer and subject
            await voteAll(registry, id, others.slice(0, t - 2));
            assert.equal(await registry.read.votes([id]), BigInt(t - 1));
            assert.equal(await registry.read.isSigner([addr(subject)]), true);
            await expectNotPassed(registry, id, BigInt(t - 1), BigInt(t), OUTSIDER);
            await viem.assertions.emitWithArgs(
              registry.write.vote([id], by(at(others, t - 2))),
              registry,
              "SignerRemoved",
              [addr(subject)],
            );
            assert.equal((await registry.read.signers()).length, n - 1);
          });

          it(`${n} signers: a request to leave needs ${t} votes of the others`, async () => {
            const registry = await withSigners(n);
            const leaver = 1;
            const id = await proposeKick(registry, leaver, leaver);
            const others = range(n).filter((i) => i !== leaver);
            await voteAll(registry, id, others.slice(0, t - 1));
            assert.equal(await registry.read.isSigner([addr(leaver)]), true);
            await registry.write.vote([id], by(at(others, t - 1)));
            assert.equal(await registry.read.isSigner([addr(leaver)]), false);
          });
        }
      }

      it("defect(v2): ceil(n/2) is not a majority — 2 of 4 does not pass", async () => {
        const registry = await withSigners(4);
        const addId = await proposeAdd(registry, OUTSIDER);
        await voteAll(registry, addId, [0, 1]);
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), false);
        await expectNotPassed(registry, addId, 2n, 3n);
        const kickId = await proposeKick(registry, 0, 3);
        await registry.write.vote([kickId], by(1));
        assert.equal(await registry.read.isSigner([addr(3)]), true);
        await expectNotPassed(registry, kickId, 2n, 3n);
      });

      it("defect(v2): ceil(n/2) is not a majority — 1 of 2 and 3 of 6 do not pass", async () => {
        const two = await withSigners(2);
        const id2 = await proposeAdd(two, OUTSIDER);
        await two.write.vote([id2], by(0));
        assert.equal(await two.read.isSigner([addr(OUTSIDER)]), false);
        await expectNotPassed(two, id2, 1n, 2n);

        const six = await withSigners(6);
        const id6 = await proposeAdd(six, OUTSIDER);
        await voteAll(six, id6, [0, 1, 2]);
        assert.equal(await six.read.isSigner([addr(OUTSIDER)]), false);
        await expectNotPassed(six, id6, 3n, 4n);
      });

      it("the threshold follows the live signer count through adds and kicks", async () => {
        const registry = await withSigners(2);
        const counts: bigint[] = [await registry.read.threshold()];
        await add(registry, OUTSIDER, [0, 1]); // 3
        counts.push(await registry.read.threshold());
        await add(registry, OUTSIDER + 1, [0, 1]); // 4
        counts.push(await registry.read.threshold());
        await kick(registry, 0, OUTSIDER, [1, OUTSIDER + 1]); // 3
        counts.push(await registry.read.threshold());
        assert.deepEqual(counts, [2n, 2n, 3n, 2n]);
      });
    });

    describe("live vote counting", () => {
      it("a removed signer's votes stop counting", async () => {
        const registry = await withSigners(5);
        const addId = await proposeAdd(registry, OUTSIDER);
        await voteAll(registry, addId, [0, 4]);
        const kickId = await proposeKick(registry, 4, 1); // S4's vote on a kick
        assert.equal(await registry.read.votes([kickId]), 1n);

        await kick(registry, 0, 4, [2, 3]);
        assert.equal(await registry.read.votes([addId]), 1n);
        assert.equal(await registry.read.hasVoted([addId, addr(4)]), false);
        assert.equal(await registry.read.votes([kickId]), 0n);
        assert.equal(await registry.read.hasVoted([kickId, addr(4)]), false);
        await expectNotPassed(registry, addId, 1n, 3n);
      });

      it("a re-added signer's old vote does not revive, and it may vote again in its new membership", async () => {
        const registry = await withSigners(5);
        const addId = await proposeAdd(registry, OUTSIDER);
        await voteAll(registry, addId, [0, 4]); // 2 of 3
        await kick(registry, 0, 4, [1, 2]); // n = 4; addId: 1 of 3
        await add(registry, 4, [0, 1, 2]); // n = 5 again, S4 back
        assert.equal(await registry.read.isSigner([addr(4)]), true);
        assert.equal(await registry.read.votes([addId]), 1n);
        assert.equal(await registry.read.hasVoted([addId, addr(4)]), false);

        await registry.write.vote([addId], by(1)); // 2 of 3: S4's old vote would have made it 3
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), false);
        await viem.assertions.emitWithArgs(registry.write.vote([addId], by(4)), registry, "ProposalVoted", [
          addId,
          addr(4),
          3n,
          3n,
        ]);
        assert.equal(await registry.read.isSigner([addr(OUTSIDER)]), true);
      });

      it("a signer re-added twice still has no stale vote (generations never repeat)", async () => {
        const registry = await withSigners(4);
        const addId = await proposeAdd(registry, OUTSIDER);
        await registry.write.vote([addId], by(3));
        for (let round = 0; round < 2; round++) {
          await kick(registry, 0, 3, [1, 2]);
          await add(registry, 3, [0, 1]);
          assert.equal(await registry.read.hasVoted([addId, addr(3)]), false);
          assert.equal(await registry.read.votes([addId]), 0n);
        }
      });
    });

    describe("gas", () => {
      it("proposeProvider, vote and proposeKick stay within budget", async () => {
        const registry = await withSigners(4);
        const proposeProviderGas = await gasOf(
          registry.write.proposeProvider([nameOf(OUTSIDER), urlOf(OUTSIDER)], by(OUTSIDER)),
        );
        const voteGas = await gasOf(registry.write.vote([1n], by(0)));
        await registry.write.vote([1n], by(1));
        const passingAddVoteGas = await gasOf(registry.write.vote([1n], by(2))); // n = 5 now
        const proposeKickGas = await gasOf(registry.write.proposeKick([addr(3)], by(0)));
        await registry.write.vote([2n], by(1));
        const passingKickVoteGas = await gasOf(registry.write.vote([2n], by(2)));
        console.log(
          `      gas: proposeProvider ${proposeProviderGas}, vote ${voteGas}, ` +
            `vote (passes, adds) ${passingAddVoteGas}, proposeKick ${proposeKickGas}, ` +
            `vote (passes, kicks) ${passingKickVoteGas}`,
        );
        // Mostly fresh storage: the proposal with its two strings; a vote re-reads the (small) signer set.
        // Relayed, each transaction also pays the forwarder (signature, nonce, event): RELAY_OVERHEAD.
        const extra = mode === "relayed" ? RELAY_OVERHEAD : 0n;
        assert.ok(proposeProviderGas < 230_000n + extra, `proposeProviderGas ${proposeProviderGas}`);
        assert.ok(voteGas < 90_000n + extra, `voteGas ${voteGas}`);
        assert.ok(passingAddVoteGas < 300_000n + extra, `passingAddVoteGas ${passingAddVoteGas}`);
        assert.ok(proposeKickGas < 150_000n + extra, `proposeKickGas ${proposeKickGas}`);
        assert.ok(passingKickVoteGas < 150_000n + extra, `passingKickVoteGas ${passingKickVoteGas}`);
      });
    });
  });
}

for (const mode of MODES) shouldBehaveLikeAgentRegistry(mode);
