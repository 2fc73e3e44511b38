import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { encodeAbiParameters, getAddress, type Hex, keccak256, toHex, zeroAddress, zeroHash } from "viem";
import { addressOf, deployAgentPair, walletAt } from "./helpers.ts";
import { MODES, type Mode } from "./via.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const KEY = keccak256(toHex("patient x25519 key"));
const DETAILS = toHex(new Uint8Array(160).fill(0xab));
const VIEWER_DETAILS = toHex(new Uint8Array(160).fill(0xcd));
const ROOT1 = keccak256(toHex("root 1"));
const ROOT2 = keccak256(toHex("root 2"));
const LABS = 1 << 6;
const VITALS = 1 << 7;
const SENSITIVE = 1 << 14;
const KNOWN = 0xc3ff;
const HOUR = 3600n;

/** Every rule of Relationship, called `mode` (direct or through the trusted forwarder). */
function shouldBehaveLikeRelationship(mode: Mode) {
  async function deployFixture() {
    const wallets = await viem.getWalletClients();
    const at = (i: number) => walletAt(wallets, i);
    const deployer = at(0);
    const patient = at(1);
    const custodian = at(2);
    const provider = at(3);
    const provider2 = at(4);
    const viewer = at(5);
    const viewer2 = at(6);
    const stranger = at(7);
    const heir = at(8);
    const { agent, rel } = await deployAgentPair(viem, mode);
    const a = addressOf;
    await agent.write.register([KEY, [a(custodian)], 1], { account: patient.account });
    const patientId = a(patient);
    return {
      agent,
      rel,
      deployer,
      patient,
      custodian,
      provider,
      provider2,
      viewer,
      viewer2,
      stranger,
      heir,
      a,
      patientId,
    };
  }

  /** Patient (with one custodian) and a relationship created by `provider`. */
  async function relationshipFixture() {
    const f = await deployFixture();
    const { rel, provider, patientId, a } = f;
    await rel.write.create([patientId, DETAILS], { account: provider.account });
    const id = await rel.read.relationshipId([patientId, a(provider)]);
    return { ...f, id };
  }

  /** As above, with a root published and `viewer` granted labs + vitals for an hour. */
  async function grantedFixture() {
    const f = await relationshipFixture();
    const { rel, patient, provider, viewer, id, a } = f;
    await rel.write.publishRoot([id, ROOT1, 1n], { account: provider.account });
    const expiresAt = BigInt(await time.latest()) + HOUR;
    await rel.write.grant([id, a(viewer), LABS | VITALS, expiresAt, VIEWER_DETAILS], {
      account: patient.account,
    });
    return { ...f, expiresAt };
  }

  /** The granted relationship, ended by the patient. */
  async function endedFixture() {
    const f = await grantedFixture();
    await f.rel.write.end([f.id], { account: f.patient.account });
    return f;
  }

  async function futureExpiry() {
    return BigInt(await time.latest()) + HOUR;
  }

  type Ended = Awaited<ReturnType<typeof endedFixture>>;

  /** A write naming an unknown id reverts RelationshipUnknown; naming the ended one, RelationshipAlreadyEnded. */
  function itRevertsForUnknownAndEnded(write: (f: Ended, id: Hex) => Promise<unknown>) {
    it("reverts RelationshipUnknown and RelationshipAlreadyEnded", async () => {
      const f = await loadFixture(endedFixture);
      const unknown = keccak256("0xdead");
      await viem.assertions.revertWithCustomErrorWithArgs(write(f, unknown), f.rel, "RelationshipUnknown", [
        unknown,
      ]);
      await viem.assertions.revertWithCustomErrorWithArgs(write(f, f.id), f.rel, "RelationshipAlreadyEnded", [
        f.id,
      ]);
    });
  }

  describe(`Relationship (${mode})`, () => {
    describe("deployment and constants", () => {
      it("is bound to the Agent that deployed it", async () => {
        const { agent, rel } = await loadFixture(deployFixture);
        assert.equal(getAddress(await rel.read.agent()), getAddress(agent.address));
      });

      it("exposes the known scopes and the details limit", async () => {
        const { rel } = await loadFixture(deployFixture);
        assert.equal(await rel.read.KNOWN_SCOPES(), KNOWN);
        assert.equal(await rel.read.MAX_DETAILS_LENGTH(), 1024n);
      });

      it("derives ids as keccak256(abi.encode(patient, provider))", async () => {
        const { rel, patientId, provider, a } = await loadFixture(deployFixture);
        const expected = keccak256(
          encodeAbiParameters([{ type: "address" }, { type: "address" }], [patientId, a(provider)]),
        );
        assert.equal(await rel.read.relationshipId([patientId, a(provider)]), expected);
      });
    });

    describe("create", () => {
      it("creates the relationship for the calling provider delegate and lists it on the agent", async () => {
        const { agent, rel, provider, patientId, a } = await loadFixture(deployFixture);
        const id = await rel.read.relationshipId([patientId, a(provider)]);
        const { result } = await rel.simulate.create([patientId, DETAILS], { account: a(provider) });
        assert.equal(result, id);
        const hash = await rel.write.create([patientId, DETAILS], { account: provider.account });
        await viem.assertions.emitWithArgs(hash, rel, "RelationshipCreated", [
          id,
          patientId,
          a(provider),
          DETAILS,
        ]);
        await viem.assertions.emitWithArgs(hash, agent, "RelationshipAttached", [patientId, id]);
        assert.deepEqual(await rel.read.relationshipOf([id]), {
          patient: patientId,
          sequence: 0n,
          ended: false,
          provider: a(provider),
          recordRoot: zeroHash,
        });
        assert.equal(await rel.read.sequenceOf([id]), 0n);
        assert.deepEqual(await agent.read.relationshipsOf([patientId]), [id]);
      });

      it("accepts details of exactly MAX_DETAILS_LENGTH bytes", async () => {
        const { rel, provider, patientId } = await loadFixture(deployFixture);
        await rel.write.create([patientId, toHex(new Uint8Array(1024).fill(1))], {
          account: provider.account,
        });
      });

      it("reverts RelationshipDetailsTooLong above MAX_DETAILS_LENGTH", async () => {
        const { rel, provider, patientId } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.create([patientId, toHex(new Uint8Array(1025).fill(1))], { account: provider.account }),
          rel,
          "RelationshipDetailsTooLong",
          [1025n],
        );
      });

      it("reverts RelationshipExists for the same pair while its relationship is open", async () => {
        const { rel, provider, patientId, id } = await loadFixture(relationshipFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.create([patientId, DETAILS], { account: provider.account }),
          rel,
          "RelationshipExists",
          [id],
        );
      });

      it("links the pair again after it ended: a new id, listed after the ended one, fresh state", async () => {
        const { agent, rel, provider, viewer, patientId, id, a } = await loadFixture(endedFixture);
        const p = a(provider);
        const second = await rel.read.relationshipIdAt([patientId, p, 1n]);
        assert.equal(
          second,
          keccak256(
            encodeAbiParameters(
              [{ type: "address" }, { type: "address" }, { type: "uint256" }],
              [patientId, p, 1n],
            ),
          ),
        );
        assert.equal(await rel.read.relationshipIdAt([patientId, p, 0n]), id);
        const { result } = await rel.simulate.create([patientId, DETAILS], { account: p });
        assert.equal(result, second);
        const hash = await rel.write.create([patientId, DETAILS], { account: provider.account });
        await viem.assertions.emitWithArgs(hash, rel, "RelationshipCreated", [second, patientId, p, DETAILS]);
        await viem.assertions.emitWithArgs(hash, agent, "RelationshipAttached", [patientId, second]);
        assert.equal(await rel.read.relationshipId([patientId, p]), second);
        assert.deepEqual(await agent.read.relationshipsOf([patientId]), [id, second]);
        // The new relationship starts afresh: sequence 0, no grant; the ended one keeps its state.
        assert.deepEqual(await rel.read.relationshipOf([second]), {
          patient: patientId,
          sequence: 0n,
          ended: false,
          provider: p,
          recordRoot: zeroHash,
        });
        assert.equal(await rel.read.activeScopes([second, a(viewer)]), 0);
        assert.equal((await rel.read.relationshipOf([id])).ended, true);
        await rel.write.publishRoot([second, ROOT1, 1n], { account: provider.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.create([patientId, DETAILS], { account: provider.account }),
          rel,
          "RelationshipExists",
          [second],
        );
        // And again after the second one ended.
        await rel.write.end([second], { account: provider.account });
        await rel.write.create([patientId, DETAILS], { account: provider.account });
        const third = await rel.read.relationshipIdAt([patientId, p, 2n]);
        assert.equal(await rel.read.relationshipId([patientId, p]), third);
        assert.deepEqual(await agent.read.relationshipsOf([patientId]), [id, second, third]);
      });

      it("reverts AgentUnknown for a patient that is not a registered agent", async () => {
        const { agent, rel, provider, stranger, a } = await loadFixture(deployFixture);
        for (const p of [a(stranger), zeroAddress]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.create([p, DETAILS], { account: provider.account }),
            agent,
            "AgentUnknown",
            [p],
          );
        }
      });

      it("a second provider gets its own relationship with the same patient", async () => {
        const { agent, rel, provider2, patientId, id, a } = await loadFixture(relationshipFixture);
        await rel.write.create([patientId, DETAILS], { account: provider2.account });
        const id2 = await rel.read.relationshipId([patientId, a(provider2)]);
        assert.notEqual(id2, id);
        assert.deepEqual(await agent.read.relationshipsOf([patientId]), [id, id2]);
      });
    });

    describe("updateProviderDetails", () => {
      it("lets the provider re-publish its details", async () => {
        const { rel, provider, id } = await loadFixture(relationshipFixture);
        await viem.assertions.emitWithArgs(
          rel.write.updateProviderDetails([id, VIEWER_DETAILS], { account: provider.account }),
          rel,
          "ProviderDetailsUpdated",
          [id, VIEWER_DETAILS],
        );
      });

      it("reverts RelationshipNotProvider for the patient, a custodian, a viewer, or a stranger", async () => {
        const { rel, patient, custodian, viewer, stranger, id, a } = await loadFixture(grantedFixture);
        for (const w of [patient, custodian, viewer, stranger]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.updateProviderDetails([id, DETAILS], { account: w.account }),
            rel,
            "RelationshipNotProvider",
            [id, a(w)],
          );
        }
      });

      it("reverts RelationshipDetailsTooLong", async () => {
        const { rel, provider, id } = await loadFixture(relationshipFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.updateProviderDetails([id, toHex(new Uint8Array(2000))], { account: provider.account }),
          rel,
          "RelationshipDetailsTooLong",
          [2000n],
        );
      });

      itRevertsForUnknownAndEnded(({ rel, provider }, id) =>
        rel.write.updateProviderDetails([id, DETAILS], { account: provider.account }),
      );
    });

    describe("publishRoot", () => {
      it("publishes roots in sequence", async () => {
        const { rel, provider, id } = await loadFixture(relationshipFixture);
        await viem.assertions.emitWithArgs(
          rel.write.publishRoot([id, ROOT1, 1n], { account: provider.account }),
          rel,
          "RootPublished",
          [id, ROOT1, 1n],
        );
        await rel.write.publishRoot([id, ROOT2, 2n], { account: provider.account });
        const info = await rel.read.relationshipOf([id]);
        assert.equal(info.recordRoot, ROOT2);
        assert.equal(info.sequence, 2n);
        assert.equal(await rel.read.sequenceOf([id]), 2n);
      });

      it("accepts the zero root (an empty record set)", async () => {
        const { rel, provider, id } = await loadFixture(grantedFixture);
        await rel.write.publishRoot([id, zeroHash, 2n], { account: provider.account });
        assert.equal((await rel.read.relationshipOf([id])).recordRoot, zeroHash);
        assert.equal(await rel.read.sequenceOf([id]), 2n);
      });

      it("reverts RelationshipStaleSequence for a stale, repeated, or skipping sequence", async () => {
        const { rel, provider, id } = await loadFixture(grantedFixture);
        for (const given of [0n, 1n, 3n, 2n ** 64n - 1n]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.publishRoot([id, ROOT2, given], { account: provider.account }),
            rel,
            "RelationshipStaleSequence",
            [id, 2n, given],
          );
        }
        assert.equal((await rel.read.relationshipOf([id])).recordRoot, ROOT1);
      });

      it("reverts RelationshipNotProvider for the patient, a custodian, a viewer, or a stranger", async () => {
        const { rel, patient, custodian, viewer, stranger, id, a } = await loadFixture(grantedFixture);
        for (const w of [patient, custodian, viewer, stranger]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.publishRoot([id, ROOT2, 2n], { account: w.account }),
            rel,
            "RelationshipNotProvider",
            [id, a(w)],
          );
        }
      });

      itRevertsForUnknownAndEnded(({ rel, provider }, id) =>
        rel.write.publishRoot([id, ROOT2, 2n], { account: provider.account }),
      );
    });

    describe("grant", () => {
      it("lets the patient owner grant a viewer", async () => {
        const { rel, patient, viewer, id, a } = await loadFixture(relationshipFixture);
        const expiresAt = await futureExpiry();
        await viem.assertions.emitWithArgs(
          rel.write.grant([id, a(viewer), LABS, expiresAt, VIEWER_DETAILS], { account: patient.account }),
          rel,
          "ViewerGranted",
          [id, a(viewer), LABS, expiresAt, VIEWER_DETAILS],
        );
        assert.deepEqual(await rel.read.grantOf([id, a(viewer)]), { scopes: LABS, expiresAt });
        assert.equal(await rel.read.activeScopes([id, a(viewer)]), LABS);
      });

      it("lets a custodian grant", async () => {
        const { rel, custodian, viewer, id, a } = await loadFixture(relationshipFixture);
        const expiresAt = await futureExpiry();
        await rel.write.grant([id, a(viewer), KNOWN, expiresAt, "0x"], { account: custodian.account });
        assert.equal(await rel.read.activeScopes([id, a(viewer)]), KNOWN);
      });

      it("replaces an existing grant", async () => {
        const { rel, patient, viewer, id, expiresAt, a } = await loadFixture(grantedFixture);
        await rel.write.grant([id, a(viewer), SENSITIVE, expiresAt + HOUR, "0x"], {
          account: patient.account,
        });
        assert.deepEqual(await rel.read.grantOf([id, a(viewer)]), {
          scopes: SENSITIVE,
          expiresAt: expiresAt + HOUR,
        });
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS]), false);
      });

      it("lets the provider delegate be granted as a viewer of another relationship", async () => {
        const { rel, patient, provider2, id, a } = await loadFixture(relationshipFixture);
        await rel.write.grant([id, a(provider2), LABS, await futureExpiry(), "0x"], {
          account: patient.account,
        });
        assert.equal(await rel.read.isAuthorized([id, a(provider2), LABS]), true);
      });

      it("reverts RelationshipInvalidScopes for no scope or an undefined bit", async () => {
        const { rel, patient, viewer, id, a } = await loadFixture(relationshipFixture);
        const expiresAt = await futureExpiry();
        for (const scopes of [0, 1 << 10, 1 << 13, LABS | (1 << 12), 0xffff]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.grant([id, a(viewer), scopes, expiresAt, "0x"], { account: patient.account }),
            rel,
            "RelationshipInvalidScopes",
            [scopes],
          );
        }
      });

      it("reverts RelationshipInvalidExpiry for an expiry not in the future", async () => {
        const { rel, patient, viewer, id, a } = await loadFixture(relationshipFixture);
        const next = BigInt(await time.latest()) + 10n;
        for (const expiresAt of [0n, next - 20n, next]) {
          await time.setNextBlockTimestamp(next);
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.grant([id, a(viewer), LABS, expiresAt, "0x"], { account: patient.account }),
            rel,
            "RelationshipInvalidExpiry",
            [expiresAt],
          );
        }
      });

      it("reverts RelationshipInvalidViewer for zero or the patient agent", async () => {
        const { rel, patient, patientId, id } = await loadFixture(relationshipFixture);
        const expiresAt = await futureExpiry();
        for (const v of [zeroAddress, patientId]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.grant([id, v, LABS, expiresAt, "0x"], { account: patient.account }),
            rel,
            "RelationshipInvalidViewer",
            [v],
          );
        }
      });

      it("reverts RelationshipNotPatient for the provider, a viewer, or a stranger", async () => {
        const { rel, provider, viewer, viewer2, stranger, id, a } = await loadFixture(grantedFixture);
        const expiresAt = await futureExpiry();
        for (const w of [provider, viewer, stranger]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.grant([id, a(viewer2), LABS, expiresAt, "0x"], { account: w.account }),
            rel,
            "RelationshipNotPatient",
            [id, a(w)],
          );
        }
      });

      it("follows ownership: after a transfer the old key cannot grant, the new owner can", async () => {
        const { agent, rel, patient, heir, viewer2, patientId, id, a } =
          await loadFixture(relationshipFixture);
        await agent.write.transferOwnership([patientId, a(heir)], { account: patient.account });
        const expiresAt = await futureExpiry();
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.grant([id, a(viewer2), LABS, expiresAt, "0x"], { account: patient.account }),
          rel,
          "RelationshipNotPatient",
          [id, patientId],
        );
        await rel.write.grant([id, a(viewer2), LABS, expiresAt, "0x"], { account: heir.account });
        assert.equal(await rel.read.activeScopes([id, a(viewer2)]), LABS);
      });

      it("reverts RelationshipDetailsTooLong", async () => {
        const { rel, patient, viewer, id, a } = await loadFixture(relationshipFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.grant([id, a(viewer), LABS, await futureExpiry(), toHex(new Uint8Array(1025))], {
            account: patient.account,
          }),
          rel,
          "RelationshipDetailsTooLong",
          [1025n],
        );
      });

      itRevertsForUnknownAndEnded(async ({ rel, patient, viewer2, a }, id) =>
        rel.write.grant([id, a(viewer2), LABS, await futureExpiry(), "0x"], { account: patient.account }),
      );
    });

    describe("revoke", () => {
      it("lets the owner or a custodian revoke a grant", async () => {
        for (const who of ["patient", "custodian"] as const) {
          const f = await loadFixture(grantedFixture);
          const { rel, viewer, id, a } = f;
          await viem.assertions.emitWithArgs(
            rel.write.revoke([id, a(viewer)], { account: f[who].account }),
            rel,
            "ViewerRevoked",
            [id, a(viewer)],
          );
          assert.deepEqual(await rel.read.grantOf([id, a(viewer)]), { scopes: 0, expiresAt: 0n });
          assert.equal(await rel.read.activeScopes([id, a(viewer)]), 0);
          assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS]), false);
        }
      });

      it("revokes an already expired grant", async () => {
        const { rel, patient, viewer, id, expiresAt, a } = await loadFixture(grantedFixture);
        await time.increaseTo(expiresAt + 10n);
        await rel.write.revoke([id, a(viewer)], { account: patient.account });
        assert.deepEqual(await rel.read.grantOf([id, a(viewer)]), { scopes: 0, expiresAt: 0n });
      });

      it("reverts RelationshipNoGrant for a viewer without a grant", async () => {
        const { rel, patient, viewer, viewer2, id, a } = await loadFixture(grantedFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.revoke([id, a(viewer2)], { account: patient.account }),
          rel,
          "RelationshipNoGrant",
          [id, a(viewer2)],
        );
        await rel.write.revoke([id, a(viewer)], { account: patient.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.revoke([id, a(viewer)], { account: patient.account }),
          rel,
          "RelationshipNoGrant",
          [id, a(viewer)],
        );
      });

      it("reverts RelationshipNotPatient for the provider, the viewer itself, or a stranger", async () => {
        const { rel, provider, viewer, stranger, id, a } = await loadFixture(grantedFixture);
        for (const w of [provider, viewer, stranger]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.revoke([id, a(viewer)], { account: w.account }),
            rel,
            "RelationshipNotPatient",
            [id, a(w)],
          );
        }
      });

      itRevertsForUnknownAndEnded(({ rel, patient, viewer, a }, id) =>
        rel.write.revoke([id, a(viewer)], { account: patient.account }),
      );
    });

    describe("end", () => {
      it("reverts RelationshipNotParty for a custodian: only the owner or the provider ends it", async () => {
        const { rel, custodian, id, a } = await loadFixture(grantedFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.end([id], { account: custodian.account }),
          rel,
          "RelationshipNotParty",
          [id, a(custodian)],
        );
        assert.equal((await rel.read.relationshipOf([id])).ended, false);
      });

      it("can be ended by the patient owner or the provider", async () => {
        for (const who of ["patient", "provider"] as const) {
          const f = await loadFixture(grantedFixture);
          const { rel, id, a } = f;
          await viem.assertions.emitWithArgs(
            rel.write.end([id], { account: f[who].account }),
            rel,
            "RelationshipEnded",
            [id, a(f[who])],
          );
          assert.equal((await rel.read.relationshipOf([id])).ended, true);
        }
      });

      it("is final: viewers lose access, the patient keeps it, and every mutating call reverts", async () => {
        const { agent, rel, patient, custodian, provider, viewer, viewer2, patientId, id, a } =
          await loadFixture(endedFixture);
        // State is kept, not destroyed.
        const info = await rel.read.relationshipOf([id]);
        assert.equal(info.recordRoot, ROOT1);
        assert.equal(info.sequence, 1n);
        assert.equal((await rel.read.grantOf([id, a(viewer)])).scopes, LABS | VITALS);
        // Viewers lose access; controllers keep it.
        assert.equal(await rel.read.activeScopes([id, a(viewer)]), 0);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS]), false);
        assert.equal(await rel.read.isAuthorized([id, patientId, LABS]), true);
        assert.equal(await rel.read.isAuthorized([id, a(custodian), KNOWN]), true);
        assert.equal(await rel.read.isAuthorized([id, a(provider), LABS]), false);
        const expiresAt = await futureExpiry();
        const calls: Array<[string, Promise<Hex>]> = [
          [
            "updateProviderDetails",
            rel.write.updateProviderDetails([id, DETAILS], { account: provider.account }),
          ],
          ["publishRoot", rel.write.publishRoot([id, ROOT2, 2n], { account: provider.account })],
          ["grant", rel.write.grant([id, a(viewer2), LABS, expiresAt, "0x"], { account: patient.account })],
          ["revoke", rel.write.revoke([id, a(viewer)], { account: custodian.account })],
          ["end by patient", rel.write.end([id], { account: patient.account })],
          ["end by provider", rel.write.end([id], { account: provider.account })],
        ];
        for (const [, call] of calls) {
          await viem.assertions.revertWithCustomErrorWithArgs(call, rel, "RelationshipAlreadyEnded", [id]);
        }
        // The patient's agent still lists it and can acknowledge its last root.
        assert.deepEqual(await agent.read.relationshipsOf([patientId]), [id]);
        await agent.write.acknowledge([patientId, id, 1n], { account: patient.account });
      });

      it("reverts RelationshipNotParty for a viewer or a stranger", async () => {
        const { rel, viewer, stranger, provider2, id, a } = await loadFixture(grantedFixture);
        for (const w of [viewer, stranger, provider2]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.end([id], { account: w.account }),
            rel,
            "RelationshipNotParty",
            [id, a(w)],
          );
        }
      });

      it("reverts RelationshipUnknown for an unknown id", async () => {
        const { rel, patient } = await loadFixture(relationshipFixture);
        const unknown = keccak256("0xdead");
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.end([unknown], { account: patient.account }),
          rel,
          "RelationshipUnknown",
          [unknown],
        );
      });
    });

    describe("activeScopes and isAuthorized", () => {
      it("a grant is in force strictly before its expiry", async () => {
        const { rel, viewer, id, expiresAt, a } = await loadFixture(grantedFixture);
        await time.increaseTo(expiresAt - 1n);
        assert.equal(await rel.read.activeScopes([id, a(viewer)]), LABS | VITALS);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS]), true);
        await time.increaseTo(expiresAt);
        assert.equal(await rel.read.activeScopes([id, a(viewer)]), 0);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS]), false);
        // The stored grant remains readable.
        assert.deepEqual(await rel.read.grantOf([id, a(viewer)]), { scopes: LABS | VITALS, expiresAt });
      });

      it("a viewer is authorized only for a non-empty subset of its scopes", async () => {
        const { rel, viewer, id, a } = await loadFixture(grantedFixture);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS]), true);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS | VITALS]), true);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), LABS | SENSITIVE]), false);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), SENSITIVE]), false);
        assert.equal(await rel.read.isAuthorized([id, a(viewer), 0]), false);
      });

      it("the patient's controllers are always authorized, the provider and strangers never by this rule", async () => {
        const { rel, custodian, provider, stranger, patientId, id, a } = await loadFixture(grantedFixture);
        assert.equal(await rel.read.isAuthorized([id, patientId, KNOWN]), true);
        assert.equal(await rel.read.isAuthorized([id, a(custodian), 0]), true);
        assert.equal(await rel.read.isAuthorized([id, a(provider), LABS]), false);
        assert.equal(await rel.read.isAuthorized([id, a(stranger), LABS]), false);
        assert.equal(await rel.read.activeScopes([id, a(stranger)]), 0);
      });

      it("an unknown relationship authorizes nobody", async () => {
        const { rel, patientId, viewer, a } = await loadFixture(grantedFixture);
        const unknown = keccak256("0xdead");
        assert.equal(await rel.read.isAuthorized([unknown, patientId, LABS]), false);
        assert.equal(await rel.read.isAuthorized([unknown, a(viewer), LABS]), false);
        assert.equal(await rel.read.isAuthorized([unknown, zeroAddress, 0]), false);
        assert.equal(await rel.read.activeScopes([unknown, a(viewer)]), 0);
        assert.deepEqual(await rel.read.relationshipOf([unknown]), {
          patient: zeroAddress,
          sequence: 0n,
          ended: false,
          provider: zeroAddress,
          recordRoot: zeroHash,
        });
      });

      it("a grant on one relationship gives nothing on another", async () => {
        const { rel, provider2, viewer, patientId, a } = await loadFixture(grantedFixture);
        await rel.write.create([patientId, DETAILS], { account: provider2.account });
        const id2 = await rel.read.relationshipId([patientId, a(provider2)]);
        assert.equal(await rel.read.isAuthorized([id2, a(viewer), LABS]), false);
      });
    });

    describe("MedRec v2 defects", () => {
      it("defect(v2): open setters on Relationship — a stranger cannot rewrite provider details, root, or grants", async () => {
        const { rel, stranger, viewer, id, a } = await loadFixture(grantedFixture);
        const before = await rel.read.relationshipOf([id]);
        const grantBefore = await rel.read.grantOf([id, a(viewer)]);
        const s = a(stranger);
        const as = { account: stranger.account };
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.updateProviderDetails([id, DETAILS], as),
          rel,
          "RelationshipNotProvider",
          [id, s],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.publishRoot([id, ROOT2, 2n], as),
          rel,
          "RelationshipNotProvider",
          [id, s],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.grant([id, s, KNOWN, await futureExpiry(), "0x"], as),
          rel,
          "RelationshipNotPatient",
          [id, s],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.revoke([id, a(viewer)], as),
          rel,
          "RelationshipNotPatient",
          [id, s],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.end([id], as),
          rel,
          "RelationshipNotParty",
          [id, s],
        );
        assert.deepEqual(await rel.read.relationshipOf([id]), before);
        assert.deepEqual(await rel.read.grantOf([id, a(viewer)]), grantBefore);
        assert.equal(await rel.read.activeScopes([id, s]), 0);
      });

      it("defect(v2): AllAccessRelationship constructor anyone could call — no call by a stranger yields access to a patient's relationship", async () => {
        const { agent, rel, stranger, viewer, patientId, id, a } = await loadFixture(grantedFixture);
        const s = a(stranger);
        // The stranger may act as a provider and open its own relationship with the patient ...
        await rel.write.create([patientId, DETAILS], { account: stranger.account });
        const own = await rel.read.relationshipId([patientId, s]);
        assert.equal((await rel.read.relationshipOf([own])).provider, s);
        // ... which gives it no authority over the patient's agent or the patient's other relationships ...
        assert.equal(await agent.read.isController([patientId, s]), false);
        assert.equal(await rel.read.isAuthorized([id, s, LABS]), false);
        assert.equal(await rel.read.isAuthorized([own, s, LABS]), false);
        await viem.assertions.revertWithCustomErrorWithArgs(
          rel.write.publishRoot([id, ROOT2, 2n], { account: stranger.account }),
          rel,
          "RelationshipNotProvider",
          [id, s],
        );
        // ... and it cannot grant anyone, itself included, on either relationship.
        for (const target of [id, own]) {
          await viem.assertions.revertWithCustomErrorWithArgs(
            rel.write.grant([target, s, KNOWN, await futureExpiry(), "0x"], { account: stranger.account }),
            rel,
            "RelationshipNotPatient",
            [target, s],
          );
        }
        // Nor can it reach the agent's relationship list directly.
        await viem.assertions.revertWithCustomErrorWithArgs(
          agent.write.attachRelationship([patientId, keccak256("0x01")], { account: stranger.account }),
          agent,
          "AgentOnlyRelationship",
          [s],
        );
        assert.equal(await rel.read.activeScopes([id, a(viewer)]), LABS | VITALS);
      });
    });
  });
}

for (const mode of MODES) shouldBehaveLikeRelationship(mode);
