import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { type Address, getAddress, keccak256, toHex, zeroAddress } from "viem";
import { addressOf, deployAgentPair, walletAt } from "./helpers.ts";
import { MODES, type Mode } from "./via.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const KEY = keccak256(toHex("patient x25519 key"));
const KEY2 = keccak256(toHex("rotated x25519 key"));
const DELAY = 2n * 24n * 60n * 60n;

/** Every rule of Agent, called `mode` (direct or through the trusted forwarder). */
function shouldBehaveLikeAgent(mode: Mode) {
  async function deployFixture() {
    const wallets = await viem.getWalletClients();
    const at = (i: number) => walletAt(wallets, i);
    const deployer = at(0);
    const patient = at(1);
    const c1 = at(2);
    const c2 = at(3);
    const c3 = at(4);
    const heir = at(5);
    const stranger = at(6);
    const provider = at(7);
    const provider2 = at(8);
    const other = at(9);
    const { agent, rel } = await deployAgentPair(viem, mode);
    const a = addressOf;
    return {
      agent,
      rel,
      wallets,
      deployer,
      patient,
      c1,
      c2,
      c3,
      heir,
      stranger,
      provider,
      provider2,
      other,
      a,
    };
  }

  /** Patient registered with custodians c1, c2, c3 and threshold 2. */
  async function guardedFixture() {
    const f = await deployFixture();
    const { agent, patient, c1, c2, c3, a } = f;
    await agent.write.register([KEY, [a(c1), a(c2), a(c3)], 2], { account: patient.account });
    return { ...f, id: a(patient) };
  }

  /** Guarded patient with a relationship created by `provider`. */
  async function relationshipFixture() {
    const f = await guardedFixture();
    const { rel, provider, id, a } = f;
    await rel.write.create([id, "0x"], { account: provider.account });
    const relId = await rel.read.relationshipId([id, a(provider)]);
    return { ...f, relId };
  }

  type Guarded = Awaited<ReturnType<typeof guardedFixture>>;

  /** An owner-only write of the guarded patient `id`: a custodian (c1) and a stranger get AgentNotOwner. */
  function itRevertsForNonOwners(write: (f: Guarded, w: Guarded["stranger"]) => Promise<unknown>) {
    it("reverts AgentNotOwner for a custodian or a stranger", async () => {
      const f = await loadFixture(guardedFixture);
      for (const w of [f.c1, f.stranger])
        await viem.assertions.revertWithCustomErrorWithArgs(write(f, w), f.agent, "AgentNotOwner", [
          f.id,
          f.a(w),
        ]);
    });
  }

  /** A write naming the stranger, who never registered: AgentUnknown. */
  function itRevertsForUnknownAgents<F extends Guarded>(
    write: (f: F) => Promise<unknown>,
    fixture: () => Promise<F> = guardedFixture as () => Promise<F>,
  ) {
    it("reverts AgentUnknown for an unregistered agent", async () => {
      const f = await loadFixture(fixture);
      await viem.assertions.revertWithCustomErrorWithArgs(write(f), f.agent, "AgentUnknown", [
        f.a(f.stranger),
      ]);
    });
  }

  describe(`Agent (${mode})`, () => {
    describe("deployment", () => {
      it("deploys and binds its Relationship contract", async () => {
        const { agent, rel } = await loadFixture(deployFixture);
        assert.equal(getAddress(await rel.read.agent()), getAddress(agent.address));
      });

      it("exposes the recovery delay and custodian limit", async () => {
        const { agent } = await loadFixture(deployFixture);
        assert.equal(await agent.read.RECOVERY_DELAY(), DELAY);
        assert.equal(await agent.read.MAX_CUSTODIANS(), 8n);
      });
    });

    describe("register", () => {
      it("registers the caller as agent id and owner", async () => {
        const { agent, patient, a } = await loadFixture(deployFixture);
        await viem.assertions.emitWithArgs(
          agent.write.register([KEY, [], 0], { account: patient.account }),
          agent,
          "AgentRegistered",
          [a(patient), a(patient), KEY],
        );
        assert.equal(await agent.read.exists([a(patient)]), true);
        assert.equal(await agent.read.ownerOf([a(patient)]), a(patient));
        assert.equal(await agent.read.agentOf([a(patient)]), a(patient));
        assert.deepEqual(await agent.read.custodians([a(patient)]), []);
        assert.equal(await agent.read.recoveryThreshold([a(patient)]), 0);
        assert.equal(await agent.read.relationshipCount([a(patient)]), 0n);
        assert.deepEqual(await agent.read.pendingRecovery([a(patient)]), {
          newOwner: zeroAddress,
          readyAt: 0n,
        });
      });

      it("registers custodians and threshold", async () => {
        const { agent, patient, c1, c2, a } = await loadFixture(deployFixture);
        const hash = await agent.write.register([KEY, [a(c1), a(c2)], 2], { account: patient.account });
        await viem.assertions.emitWithArgs(hash, agent, "CustodianAdded", [a(patient), a(c1)]);
        await viem.assertions.emitWithArgs(hash, agent, "CustodianAdded", [a(patient), a(c2)]);
        await viem.assertions.emitWithArgs(hash, agent, "RecoveryThresholdChanged", [a(patient), 2]);
        assert.deepEqual(await agent.read.custodians([a(patient)]), [a(c1), a(c2)]);
        assert.equal(await agent.read.recoveryThreshold([a(patient)]), 2);
        assert.equal(await agent.read.isCustodian([a(patient), a(c1)]), true);
        assert.equal(await agent.read.isController([a(patient), a(c2)]), true);
        assert.equal(await agent.read.isController([a(patient), a(patient)]), true);
      });

      it("accepts MAX_CUSTODIANS custodians", async () => {
        const { agent, patient, wallets, a } = await loadFixture(deployFixture);
        const eight = wallets.slice(10, 18).map(a);
        await agent.write.register([KEY, eight, 8], { account: patient.account });
        assert.deepEqual(await agent.read.custodians([a(patient)]), eight);
      });

      it("reverts AgentTooManyCustodians above MAX_CUSTODIANS", async () => {
        const { agent, patient, wallets, a } = await loadFixture(deployFixture);
        const nine = wallets.slice(10, 19).map(a);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.register([KEY, nine, 1], { account: patient.account }),
          agent,
          "AgentTooManyCustodians",
          [a(patient)],
        );
      });

      it("reverts AgentAlreadyRegistered when registering twice", async () => {
        const { agent, patient, a } = await loadFixture(deployFixture);
        await agent.write.register([KEY, [], 0], { account: patient.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.register([KEY2, [], 0], { account: patient.account }),
          agent,
          "AgentAlreadyRegistered",
          [a(patient)],
        );
      });

      it("reverts AgentAlreadyRegistered when the caller owns an agent", async () => {
        const { agent, patient, heir, a } = await loadFixture(deployFixture);
        await agent.write.register([KEY, [], 0], { account: patient.account });
        await agent.write.transferOwnership([a(patient), a(heir)], { account: patient.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.register([KEY2, [], 0], { account: heir.account }),
          agent,
          "AgentAlreadyRegistered",
          [a(patient)],
        );
      });

      it("reverts AgentInvalidThreshold when the threshold exceeds the custodians", async () => {
        const { agent, patient, c1, c2, a } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.register([KEY, [], 1], { account: patient.account }),
          agent,
          "AgentInvalidThreshold",
          [1, 0n],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.register([KEY, [a(c1), a(c2)], 3], { account: patient.account }),
          agent,
          "AgentInvalidThreshold",
          [3, 2n],
        );
      });

      it("reverts AgentInvalidCustodian for zero, self, or duplicate custodians", async () => {
        const { agent, patient, c1, a } = await loadFixture(deployFixture);
        const cases: Array<[Address[], Address]> = [
          [[zeroAddress], zeroAddress],
          [[a(patient)], a(patient)],
          [[a(c1), a(c1)], a(c1)],
        ];
        for (const [list, invalid] of cases) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.register([KEY, list, 0], { account: patient.account }),
            agent,
            "AgentInvalidCustodian",
            [a(patient), invalid],
          );
        }
      });
    });

    describe("setEncryptionKey", () => {
      it("lets the owner publish a new key", async () => {
        const { agent, patient, id } = await loadFixture(guardedFixture);
        await viem.assertions.emitWithArgs(
          agent.write.setEncryptionKey([id, KEY2], { account: patient.account }),
          agent,
          "EncryptionKeyChanged",
          [id, KEY2],
        );
      });

      itRevertsForNonOwners(({ agent, id }, w) =>
        agent.write.setEncryptionKey([id, KEY2], { account: w.account }),
      );

      itRevertsForUnknownAgents(({ agent, stranger, a }) =>
        agent.write.setEncryptionKey([a(stranger), KEY2], { account: stranger.account }),
      );
    });

    describe("addCustodian", () => {
      it("lets the owner add a custodian", async () => {
        const { agent, patient, other, id, a } = await loadFixture(guardedFixture);
        await viem.assertions.emitWithArgs(
          agent.write.addCustodian([id, a(other)], { account: patient.account }),
          agent,
          "CustodianAdded",
          [id, a(other)],
        );
        assert.equal(await agent.read.isCustodian([id, a(other)]), true);
        assert.equal((await agent.read.custodians([id])).length, 4);
      });

      it("defect(v2): Agent.enableCustodian was open — only the owner adds custodians", async () => {
        const { agent, c1, stranger, provider, id, a } = await loadFixture(relationshipFixture);
        for (const w of [stranger, c1, provider]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.addCustodian([id, a(w)], { account: w.account }),
            agent,
            "AgentNotOwner",
            [id, a(w)],
          );
        }
        assert.equal(await agent.read.isCustodian([id, a(stranger)]), false);
        assert.equal(await agent.read.isController([id, a(stranger)]), false);
        assert.equal(await agent.read.isController([id, a(provider)]), false);
      });

      it("reverts AgentInvalidCustodian for zero, the owner, or an existing custodian", async () => {
        const { agent, patient, c1, id, a } = await loadFixture(guardedFixture);
        for (const c of [zeroAddress, id, a(c1)]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.addCustodian([id, c], { account: patient.account }),
            agent,
            "AgentInvalidCustodian",
            [id, c],
          );
        }
      });

      it("reverts AgentTooManyCustodians beyond MAX_CUSTODIANS", async () => {
        const { agent, patient, wallets, id, a } = await loadFixture(guardedFixture);
        const more = wallets.slice(10, 16).map(a);
        const ninth = more.pop();
        assert.ok(ninth);
        for (const c of more) await agent.write.addCustodian([id, c], { account: patient.account });
        assert.equal((await agent.read.custodians([id])).length, 8);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.addCustodian([id, ninth], { account: patient.account }),
          agent,
          "AgentTooManyCustodians",
          [id],
        );
      });

      itRevertsForUnknownAgents(({ agent, stranger, other, a }) =>
        agent.write.addCustodian([a(stranger), a(other)], { account: stranger.account }),
      );
    });

    describe("removeCustodian", () => {
      it("lets the owner remove a custodian, keeping the list dense", async () => {
        const { agent, patient, c1, c2, c3, id, a } = await loadFixture(guardedFixture);
        await viem.assertions.emitWithArgs(
          agent.write.removeCustodian([id, a(c1)], { account: patient.account }),
          agent,
          "CustodianRemoved",
          [id, a(c1)],
        );
        assert.deepEqual(await agent.read.custodians([id]), [a(c3), a(c2)]);
        assert.equal(await agent.read.isCustodian([id, a(c1)]), false);
        assert.equal(await agent.read.isController([id, a(c1)]), false);
        await agent.write.setRecoveryThreshold([id, 1], { account: patient.account });
        await agent.write.removeCustodian([id, a(c2)], { account: patient.account });
        assert.deepEqual(await agent.read.custodians([id]), [a(c3)]);
      });

      it("reverts AgentNotCustodian for a non-custodian", async () => {
        const { agent, patient, stranger, id, a } = await loadFixture(guardedFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.removeCustodian([id, a(stranger)], { account: patient.account }),
          agent,
          "AgentNotCustodian",
          [id, a(stranger)],
        );
      });

      it("reverts AgentInvalidThreshold when the threshold would become unreachable", async () => {
        const { agent, patient, c1, c2, id, a } = await loadFixture(guardedFixture);
        await agent.write.removeCustodian([id, a(c1)], { account: patient.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.removeCustodian([id, a(c2)], { account: patient.account }),
          agent,
          "AgentInvalidThreshold",
          [2, 1n],
        );
        await agent.write.setRecoveryThreshold([id, 1], { account: patient.account });
        await agent.write.removeCustodian([id, a(c2)], { account: patient.account });
      });

      itRevertsForNonOwners(({ agent, c2, id, a }, w) =>
        agent.write.removeCustodian([id, a(c2)], { account: w.account }),
      );

      itRevertsForUnknownAgents(({ agent, stranger, c1, a }) =>
        agent.write.removeCustodian([a(stranger), a(c1)], { account: stranger.account }),
      );
    });

    describe("setRecoveryThreshold", () => {
      it("lets the owner set the threshold, including 0 (off) and the custodian count", async () => {
        const { agent, patient, id } = await loadFixture(guardedFixture);
        for (const t of [3, 0, 1]) {
          await viem.assertions.emitWithArgs(
            agent.write.setRecoveryThreshold([id, t], { account: patient.account }),
            agent,
            "RecoveryThresholdChanged",
            [id, t],
          );
          assert.equal(await agent.read.recoveryThreshold([id]), t);
        }
      });

      it("reverts AgentInvalidThreshold above the custodian count", async () => {
        const { agent, patient, id } = await loadFixture(guardedFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.setRecoveryThreshold([id, 4], { account: patient.account }),
          agent,
          "AgentInvalidThreshold",
          [4, 3n],
        );
      });

      itRevertsForNonOwners(({ agent, id }, w) =>
        agent.write.setRecoveryThreshold([id, 1], { account: w.account }),
      );

      itRevertsForUnknownAgents(({ agent, stranger, a }) =>
        agent.write.setRecoveryThreshold([a(stranger), 0], { account: stranger.account }),
      );
    });

    describe("transferOwnership", () => {
      it("moves ownership and the reverse lookup", async () => {
        const { agent, patient, heir, id, a } = await loadFixture(guardedFixture);
        await viem.assertions.emitWithArgs(
          agent.write.transferOwnership([id, a(heir)], { account: patient.account }),
          agent,
          "OwnershipTransferred",
          [id, id, a(heir)],
        );
        assert.equal(await agent.read.ownerOf([id]), a(heir));
        assert.equal(await agent.read.agentOf([a(heir)]), id);
        assert.equal(await agent.read.agentOf([id]), zeroAddress);
        assert.equal(await agent.read.exists([id]), true);
        assert.equal(await agent.read.exists([a(heir)]), false);
        assert.equal(await agent.read.isController([id, a(heir)]), true);
        assert.equal(await agent.read.isController([id, id]), false);
        // The new owner acts, the previous one no longer can.
        await agent.write.setEncryptionKey([id, KEY2], { account: heir.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.setEncryptionKey([id, KEY2], { account: patient.account }),
          agent,
          "AgentNotOwner",
          [id, id],
        );
      });

      it("releases the previous owner's reverse entry on a second transfer", async () => {
        const { agent, patient, heir, other, id, a } = await loadFixture(guardedFixture);
        await agent.write.transferOwnership([id, a(heir)], { account: patient.account });
        await agent.write.transferOwnership([id, a(other)], { account: heir.account });
        assert.equal(await agent.read.agentOf([a(heir)]), zeroAddress);
        assert.equal(await agent.read.agentOf([a(other)]), id);
        // The released account is free again.
        await agent.write.register([KEY, [], 0], { account: heir.account });
        assert.equal(await agent.read.agentOf([a(heir)]), a(heir));
      });

      it("clears a scheduled recovery and its approvals", async () => {
        const { agent, patient, c1, c2, heir, other, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        assert.equal((await agent.read.pendingRecovery([id])).newOwner, a(heir));
        await agent.write.transferOwnership([id, a(other)], { account: patient.account });
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 0n);
      });

      it("reverts AgentInvalidOwner for zero, an agent, an agent's owner, or the current owner", async () => {
        const f = await loadFixture(guardedFixture);
        const { agent, patient, stranger, other, provider, id, a } = f;
        await agent.write.register([KEY, [], 0], { account: stranger.account });
        await agent.write.register([KEY, [], 0], { account: other.account });
        await agent.write.transferOwnership([a(other), a(provider)], { account: other.account });
        for (const candidate of [zeroAddress, a(stranger), a(provider), a(other), id]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.transferOwnership([id, candidate], { account: patient.account }),
            agent,
            "AgentInvalidOwner",
            [candidate],
          );
        }
      });

      itRevertsForNonOwners(({ agent, id, a }, w) =>
        agent.write.transferOwnership([id, a(w)], { account: w.account }),
      );

      itRevertsForUnknownAgents(({ agent, stranger, heir, a }) =>
        agent.write.transferOwnership([a(stranger), a(heir)], { account: stranger.account }),
      );
    });

    describe("approveRecovery", () => {
      it("records approvals and schedules at the threshold", async () => {
        const { agent, c1, c2, heir, id, a } = await loadFixture(guardedFixture);
        await viem.assertions.emitWithArgs(
          agent.write.approveRecovery([id, a(heir)], { account: c1.account }),
          agent,
          "RecoveryApproved",
          [id, a(c1), a(heir), 1n],
        );
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 1n);
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });

        const hash = await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        await viem.assertions.emitWithArgs(hash, agent, "RecoveryApproved", [id, a(c2), a(heir), 2n]);
        const readyAt = BigInt(await time.latest()) + DELAY;
        await viem.assertions.emitWithArgs(hash, agent, "RecoveryScheduled", [id, a(heir), readyAt]);
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: a(heir), readyAt });
      });

      it("does not reschedule when a further custodian approves the scheduled candidate", async () => {
        const { agent, c1, c2, c3, heir, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        const before = await agent.read.pendingRecovery([id]);
        await time.increase(3600);
        const hash = await agent.write.approveRecovery([id, a(heir)], { account: c3.account });
        const receipt = await (await viem.getPublicClient()).waitForTransactionReceipt({ hash });
        const agentLogs = receipt.logs.filter((log) => getAddress(log.address) === getAddress(agent.address));
        assert.equal(agentLogs.length, 1, "only RecoveryApproved");
        assert.deepEqual(await agent.read.pendingRecovery([id]), before);
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 3n);
      });

      it("moves a custodian's approval to its new candidate", async () => {
        const { agent, c1, heir, other, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(other)], { account: c1.account });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 0n);
        assert.equal(await agent.read.recoveryApprovals([id, a(other)]), 1n);
      });

      it("reverts AgentRecoveryPending when another candidate reaches the threshold", async () => {
        const { agent, patient, c1, c2, heir, other, id, a } = await loadFixture(guardedFixture);
        await agent.write.setRecoveryThreshold([id, 1], { account: patient.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.approveRecovery([id, a(other)], { account: c2.account }),
          agent,
          "AgentRecoveryPending",
          [id, a(heir)],
        );
      });

      it("replaces a scheduled candidate that no longer reaches the threshold", async () => {
        const { agent, c1, c2, c3, heir, other, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        // c2 changes its mind: heir drops to 1 approval, other reaches 2.
        await agent.write.approveRecovery([id, a(other)], { account: c2.account });
        const tx = agent.write.approveRecovery([id, a(other)], { account: c3.account });
        await viem.assertions.emitWithArgs(tx, agent, "RecoveryScheduled", [
          id,
          a(other),
          (v: bigint) => v > 0n,
        ]);
        assert.equal((await agent.read.pendingRecovery([id])).newOwner, a(other));
      });

      it("records but never schedules while recovery is off (threshold 0)", async () => {
        const { agent, patient, c1, heir, id, a } = await loadFixture(guardedFixture);
        await agent.write.setRecoveryThreshold([id, 0], { account: patient.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 1n);
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });
      });

      it("reverts AgentNotCustodian for the owner, a stranger, or a provider", async () => {
        const { agent, patient, stranger, provider, heir, id, a } = await loadFixture(relationshipFixture);
        for (const w of [patient, stranger, provider]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.approveRecovery([id, a(heir)], { account: w.account }),
            agent,
            "AgentNotCustodian",
            [id, a(w)],
          );
        }
      });

      it("reverts AgentInvalidOwner for zero, the current owner, an agent, or an agent's owner", async () => {
        const { agent, c1, stranger, other, provider, id, a } = await loadFixture(guardedFixture);
        await agent.write.register([KEY, [], 0], { account: stranger.account });
        await agent.write.register([KEY, [], 0], { account: other.account });
        await agent.write.transferOwnership([a(other), a(provider)], { account: other.account });
        for (const candidate of [zeroAddress, id, a(stranger), a(provider)]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.approveRecovery([id, candidate], { account: c1.account }),
            agent,
            "AgentInvalidOwner",
            [candidate],
          );
        }
      });

      itRevertsForUnknownAgents(({ agent, c1, stranger, heir, a }) =>
        agent.write.approveRecovery([a(stranger), a(heir)], { account: c1.account }),
      );
    });

    describe("cancelRecovery", () => {
      it("lets the owner void every approval and the scheduled recovery", async () => {
        const { agent, patient, c1, c2, c3, heir, other, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        await agent.write.approveRecovery([id, a(other)], { account: c3.account });
        await viem.assertions.emitWithArgs(
          agent.write.cancelRecovery([id], { account: patient.account }),
          agent,
          "RecoveryCancelled",
          [id],
        );
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 0n);
        assert.equal(await agent.read.recoveryApprovals([id, a(other)]), 0n);
        // Approvals start again from zero.
        await viem.assertions.emitWithArgs(
          agent.write.approveRecovery([id, a(heir)], { account: c1.account }),
          agent,
          "RecoveryApproved",
          [id, a(c1), a(heir), 1n],
        );
      });

      itRevertsForNonOwners(({ agent, id }, w) => agent.write.cancelRecovery([id], { account: w.account }));

      itRevertsForUnknownAgents(({ agent, stranger, a }) =>
        agent.write.cancelRecovery([a(stranger)], { account: stranger.account }),
      );
    });

    describe("executeRecovery", () => {
      async function scheduledFixture() {
        const f = await guardedFixture();
        const { agent, c1, c2, heir, id, a } = f;
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        const { readyAt } = await agent.read.pendingRecovery([id]);
        return { ...f, readyAt };
      }

      it("lets anyone execute after the delay", async () => {
        const { agent, stranger, heir, id, readyAt, a } = await loadFixture(scheduledFixture);
        await time.increaseTo(readyAt);
        await viem.assertions.emitWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "OwnershipTransferred",
          [id, id, a(heir)],
        );
        assert.equal(await agent.read.ownerOf([id]), a(heir));
        assert.equal(await agent.read.agentOf([a(heir)]), id);
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 0n);
      });

      it("reverts AgentRecoveryNotReady before the delay", async () => {
        const { agent, stranger, id, readyAt } = await loadFixture(scheduledFixture);
        await time.setNextBlockTimestamp(readyAt - 1n);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentRecoveryNotReady",
          [id, readyAt],
        );
      });

      it("reverts AgentNoRecovery when nothing is scheduled", async () => {
        const { agent, c1, stranger, heir, id, a } = await loadFixture(guardedFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentNoRecovery",
          [id],
        );
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentNoRecovery",
          [id],
        );
      });

      it("reverts AgentRecoveryBelowThreshold when the threshold was raised", async () => {
        const { agent, patient, stranger, id, readyAt } = await loadFixture(scheduledFixture);
        await agent.write.setRecoveryThreshold([id, 3], { account: patient.account });
        await time.increaseTo(readyAt);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentRecoveryBelowThreshold",
          [id, 2n, 3],
        );
      });

      it("switching recovery off (threshold 0) voids the scheduled recovery and its approvals", async () => {
        const { agent, patient, stranger, heir, id, readyAt, a } = await loadFixture(scheduledFixture);
        await viem.assertions.emitWithArgs(
          agent.write.setRecoveryThreshold([id, 0], { account: patient.account }),
          agent,
          "RecoveryCancelled",
          [id],
        );
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 0n);
        // Re-enabling later does not revive the old schedule, whose delay has meanwhile run.
        await time.increaseTo(readyAt);
        await agent.write.setRecoveryThreshold([id, 2], { account: patient.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentNoRecovery",
          [id],
        );
      });

      it("reverts AgentInvalidOwner when the candidate became an agent during the delay", async () => {
        const { agent, stranger, heir, id, readyAt, a } = await loadFixture(scheduledFixture);
        await agent.write.register([KEY, [], 0], { account: heir.account });
        await time.increaseTo(readyAt);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentInvalidOwner",
          [a(heir)],
        );
      });

      itRevertsForUnknownAgents(({ agent, stranger, a }) =>
        agent.write.executeRecovery([a(stranger)], { account: stranger.account }),
      );
    });

    describe("recovery threat model", () => {
      it("lost seed: k custodians recover the agent after the delay, and the heir controls it", async () => {
        const { agent, rel, c1, c3, heir, viewer, relId, id, a } = await loadFixture(
          async function lostSeed() {
            const f = await relationshipFixture();
            return { ...f, viewer: f.other };
          },
        );
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c3.account });
        await time.increase(DELAY);
        await agent.write.executeRecovery([id], { account: heir.account });
        assert.equal(await agent.read.ownerOf([id]), a(heir));
        // The recovered owner runs the agent and the patient's relationships.
        await agent.write.setEncryptionKey([id, KEY2], { account: heir.account });
        const expiry = BigInt(await time.latest()) + 3600n;
        await rel.write.grant([relId, a(viewer), 1, expiry, "0x"], { account: heir.account });
        assert.equal(await rel.read.activeScopes([relId, a(viewer)]), 1);
        assert.deepEqual(await agent.read.relationshipsOf([id]), [relId]);
      });

      it("the owner cancels a hostile recovery within the delay", async () => {
        const { agent, patient, c1, c2, stranger, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(stranger)], { account: c1.account });
        await agent.write.approveRecovery([id, a(stranger)], { account: c2.account });
        await time.increase(DELAY - 60n);
        await agent.write.cancelRecovery([id], { account: patient.account });
        await time.increase(120);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentNoRecovery",
          [id],
        );
        assert.equal(await agent.read.ownerOf([id]), id);
        // The voided approvals do not come back: the next attempt starts from zero.
        await viem.assertions.emitWithArgs(
          agent.write.approveRecovery([id, a(stranger)], { account: c1.account }),
          agent,
          "RecoveryApproved",
          [id, a(c1), a(stranger), 1n],
        );
      });

      it("one custodian alone cannot take over when the threshold is 2 or more", async () => {
        const { agent, c1, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(c1)], { account: c1.account });
        // Approving several candidates, or repeating, never adds a second approval.
        await agent.write.approveRecovery([id, a(c1)], { account: c1.account });
        assert.equal(await agent.read.recoveryApprovals([id, a(c1)]), 1n);
        assert.deepEqual(await agent.read.pendingRecovery([id]), { newOwner: zeroAddress, readyAt: 0n });
        await time.increase(DELAY * 10n);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: c1.account }),
          agent,
          "AgentNoRecovery",
          [id],
        );
        assert.equal(await agent.read.ownerOf([id]), id);
      });

      it("a removed custodian's approval stops counting", async () => {
        const { agent, patient, c1, c2, heir, stranger, id, a } = await loadFixture(guardedFixture);
        await agent.write.approveRecovery([id, a(heir)], { account: c1.account });
        await agent.write.approveRecovery([id, a(heir)], { account: c2.account });
        await agent.write.removeCustodian([id, a(c1)], { account: patient.account });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 1n);
        await time.increase(DELAY);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.executeRecovery([id], { account: stranger.account }),
          agent,
          "AgentRecoveryBelowThreshold",
          [id, 1n, 2],
        );
        // Re-adding the custodian does not revive its old approval.
        await agent.write.addCustodian([id, a(c1)], { account: patient.account });
        assert.equal(await agent.read.recoveryApprovals([id, a(heir)]), 1n);
      });
    });

    describe("acknowledge and hasNewContent", () => {
      it("lets the owner and custodians acknowledge up to the current sequence", async () => {
        const { agent, rel, patient, c2, provider, relId, id } = await loadFixture(relationshipFixture);
        assert.equal(await agent.read.hasNewContent([id, relId]), false);
        await rel.write.publishRoot([relId, keccak256("0x01"), 1n], { account: provider.account });
        await rel.write.publishRoot([relId, keccak256("0x02"), 2n], { account: provider.account });
        assert.equal(await agent.read.hasNewContent([id, relId]), true);
        await viem.assertions.emitWithArgs(
          agent.write.acknowledge([id, relId, 1n], { account: c2.account }),
          agent,
          "RelationshipAcknowledged",
          [id, relId, 1n],
        );
        assert.equal(await agent.read.seenSequence([id, relId]), 1n);
        assert.equal(await agent.read.hasNewContent([id, relId]), true);
        await agent.write.acknowledge([id, relId, 2n], { account: patient.account });
        assert.equal(await agent.read.seenSequence([id, relId]), 2n);
        assert.equal(await agent.read.hasNewContent([id, relId]), false);
      });

      it("reverts AgentSequenceAhead beyond the current sequence", async () => {
        const { agent, rel, patient, provider, relId, id } = await loadFixture(relationshipFixture);
        await rel.write.publishRoot([relId, keccak256("0x01"), 1n], { account: provider.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.acknowledge([id, relId, 2n], { account: patient.account }),
          agent,
          "AgentSequenceAhead",
          [relId, 2n, 1n],
        );
      });

      it("reverts AgentNotPatientOf for another patient's or an unknown relationship", async () => {
        const { agent, rel, patient, stranger, provider, relId, id, a } =
          await loadFixture(relationshipFixture);
        await agent.write.register([KEY, [], 0], { account: stranger.account });
        await rel.write.create([a(stranger), "0x"], { account: provider.account });
        const foreign = await rel.read.relationshipId([a(stranger), a(provider)]);
        for (const r of [foreign, keccak256("0xdead")]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.acknowledge([id, r, 0n], { account: patient.account }),
            agent,
            "AgentNotPatientOf",
            [id, r],
          );
        }
        // A patient cannot acknowledge someone else's relationship through its own agent either.
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.acknowledge([a(stranger), relId, 0n], { account: stranger.account }),
          agent,
          "AgentNotPatientOf",
          [a(stranger), relId],
        );
      });

      it("reverts AgentNotController for a stranger, the provider, or a viewer", async () => {
        const { agent, rel, patient, stranger, provider, other, relId, id, a } =
          await loadFixture(relationshipFixture);
        const expiry = BigInt(await time.latest()) + 3600n;
        await rel.write.grant([relId, a(other), 1, expiry, "0x"], { account: patient.account });
        for (const w of [stranger, provider, other]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.acknowledge([id, relId, 0n], { account: w.account }),
            agent,
            "AgentNotController",
            [id, a(w)],
          );
        }
      });

      itRevertsForUnknownAgents(
        ({ agent, stranger, relId, a }) =>
          agent.write.acknowledge([a(stranger), relId, 0n], { account: stranger.account }),
        relationshipFixture,
      );

      it("hasNewContent is false for a relationship of another agent", async () => {
        const { agent, rel, provider, stranger, relId, a } = await loadFixture(relationshipFixture);
        await rel.write.publishRoot([relId, keccak256("0x01"), 1n], { account: provider.account });
        assert.equal(await agent.read.hasNewContent([a(stranger), relId]), false);
        assert.equal(await agent.read.hasNewContent([zeroAddress, keccak256("0xdead")]), false);
      });
    });

    describe("attachRelationship", () => {
      it("lists relationships in creation order", async () => {
        const { agent, rel, provider2, relId, id, a } = await loadFixture(relationshipFixture);
        const second = await rel.read.relationshipId([id, a(provider2)]);
        await viem.assertions.emitWithArgs(
          rel.write.create([id, "0x"], { account: provider2.account }),
          agent,
          "RelationshipAttached",
          [id, second],
        );
        assert.deepEqual(await agent.read.relationshipsOf([id]), [relId, second]);
        assert.equal(await agent.read.relationshipCount([id]), 2n);
      });

      it("relationshipsPage returns each relationship once, with its state, capped at MAX_PAGE", async () => {
        const { agent, rel, patient, provider, provider2, other, relId, id, a } =
          await loadFixture(relationshipFixture);
        const second = await rel.read.relationshipId([id, a(provider2)]);
        await rel.write.create([id, "0x"], { account: provider2.account });
        const third = await rel.read.relationshipId([id, a(other)]);
        await rel.write.create([id, "0x"], { account: other.account });
        const root = keccak256("0x01");
        await rel.write.publishRoot([relId, root, 1n], { account: provider.account });
        await rel.write.publishRoot([relId, keccak256("0x02"), 2n], { account: provider.account });
        await agent.write.acknowledge([id, relId, 1n], { account: patient.account });
        await rel.write.end([second], { account: provider2.account });

        const pages = [];
        for (let offset = 0n; offset < 3n; offset += 2n) {
          const [page, total] = await agent.read.relationshipsPage([id, offset, 2n]);
          assert.equal(total, 3n);
          pages.push(...page);
        }
        assert.deepEqual(
          pages.map((r) => r.id),
          [relId, second, third],
        );
        assert.deepEqual(pages[0], {
          id: relId,
          provider: a(provider),
          recordRoot: keccak256("0x02"),
          sequence: 2n,
          seenSequence: 1n,
          ended: false,
        });
        assert.equal(pages[1]?.ended, true);
        assert.equal(pages[2]?.provider, a(other));
        assert.deepEqual(await agent.read.relationshipsPage([id, 3n, 2n]), [[], 3n]);
        assert.equal(await agent.read.MAX_PAGE(), 500n);
        const [capped] = await agent.read.relationshipsPage([id, 0n, 2n ** 256n - 1n]);
        assert.equal(capped.length, 3);
      });

      it("reverts AgentOnlyRelationship for any direct caller", async () => {
        const { agent, patient, stranger, deployer, id, a } = await loadFixture(guardedFixture);
        for (const w of [stranger, patient, deployer]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            agent.write.attachRelationship([id, keccak256("0x01")], { account: w.account }),
            agent,
            "AgentOnlyRelationship",
            [a(w)],
          );
        }
      });

      it("reverts AgentOnlyRelationship for a rogue Relationship contract pointing at this Agent", async () => {
        const { agent, stranger, id } = await loadFixture(guardedFixture);
        const rogue = await viem.deployContract("Relationship", [agent.address, zeroAddress], {
          client: { wallet: stranger },
        });
        await viem.assertions.revertWithCustomErrorWithArgs(
          rogue.write.create([id, "0x"], { account: stranger.account }),
          agent,
          "AgentOnlyRelationship",
          [getAddress(rogue.address)],
        );
        assert.equal(await agent.read.relationshipCount([id]), 0n);
      });
    });

    describe("views of unknown agents", () => {
      it("report nothing", async () => {
        const { agent, stranger, heir, a } = await loadFixture(guardedFixture);
        const s = a(stranger);
        assert.equal(await agent.read.exists([s]), false);
        assert.equal(await agent.read.ownerOf([s]), zeroAddress);
        assert.equal(await agent.read.agentOf([s]), zeroAddress);
        assert.equal(await agent.read.isController([s, s]), false);
        assert.equal(await agent.read.isController([zeroAddress, zeroAddress]), false);
        assert.equal(await agent.read.isCustodian([s, a(heir)]), false);
        assert.deepEqual(await agent.read.custodians([s]), []);
        assert.equal(await agent.read.recoveryThreshold([s]), 0);
        assert.equal(await agent.read.recoveryApprovals([s, a(heir)]), 0n);
        assert.deepEqual(await agent.read.relationshipsOf([s]), []);
        assert.equal(await agent.read.relationshipCount([s]), 0n);
      });

      it("an owner's reverse entry is not an agent", async () => {
        const { agent, patient, heir, id, a } = await loadFixture(guardedFixture);
        await agent.write.transferOwnership([id, a(heir)], { account: patient.account });
        assert.equal(await agent.read.exists([a(heir)]), false);
        assert.equal(await agent.read.ownerOf([a(heir)]), zeroAddress);
        assert.equal(await agent.read.isController([a(heir), a(heir)]), false);
        assert.deepEqual(await agent.read.custodians([a(heir)]), []);
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.setEncryptionKey([a(heir), KEY2], { account: heir.account }),
          agent,
          "AgentUnknown",
          [a(heir)],
        );
      });
    });
  });
}

for (const mode of MODES) shouldBehaveLikeAgent(mode);
