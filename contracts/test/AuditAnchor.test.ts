import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import {
  type Address,
  encodeAbiParameters,
  getAddress,
  type Hex,
  hashTypedData,
  keccak256,
  toHex,
  zeroAddress,
} from "viem";
import { addressOf, walletAt } from "./helpers.ts";
import { deployForwarder, MODES, type Mode, via } from "./via.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const ROOT1 = keccak256(toHex("tree head 1"));
const ROOT2 = keccak256(toHex("tree head 2"));
const MAX_GROWTH = 1_000_000n;

type Signer = { signTypedData: (args: never) => Promise<Hex>; account: { address: Address } };

/** The typed data a log account signs to consent to be `provider`'s log (IAuditAnchor.bindLogDigest). */
async function bindLogTypedData(anchor: Address, provider: Address, log: Address) {
  return {
    domain: {
      name: "MedRec AuditAnchor",
      version: "1",
      chainId: await (await viem.getPublicClient()).getChainId(),
      verifyingContract: anchor,
    },
    types: {
      BindLog: [
        { name: "provider", type: "address" },
        { name: "log", type: "address" },
      ],
    },
    primaryType: "BindLog",
    message: { provider, log },
  } as const;
}

/** `signer`'s EIP-712 signature consenting that `log` be `provider`'s log on `anchor`. */
async function consentOf(
  signer: Signer,
  anchor: Address,
  provider: Address,
  log: Address = signer.account.address,
) {
  const typed = await bindLogTypedData(anchor, provider, getAddress(log));
  return signer.signTypedData({ account: signer.account, ...typed } as never);
}

/** Every rule of AuditAnchor, called `mode` (direct or through the trusted forwarder). */
function shouldBehaveLikeAuditAnchor(mode: Mode) {
  async function deployFixture() {
    const wallets = await viem.getWalletClients();
    const at = (i: number) => walletAt(wallets, i);
    const provider = at(0);
    const provider2 = at(1);
    const log = at(2);
    const log2 = at(3);
    const stranger = at(4);
    const forwarder = await deployForwarder(viem);
    const registry = await viem.deployContract("AgentRegistry", [
      [
        {
          account: addressOf(provider),
          name: "Riverside General",
          gatekeeperUrl: "https://riverside.example",
        },
        { account: addressOf(provider2), name: "Lakeside Clinic", gatekeeperUrl: "https://lakeside.example" },
      ],
      forwarder.address,
    ]);
    const anchor = await viem.deployContract("AuditAnchor", [registry.address, forwarder.address]);
    /** `wallet` consents to be `provider`'s log (signs for its own address unless `log` is given). */
    const consent = (wallet: Signer, provider: Signer, log?: Address) =>
      consentOf(wallet, anchor.address, addressOf(provider), log);
    return {
      consent,
      registry: await via(mode, viem, forwarder, registry),
      anchor: await via(mode, viem, forwarder, anchor),
      provider,
      provider2,
      log,
      log2,
      stranger,
    };
  }

  describe(`AuditAnchor (${mode})`, () => {
    describe("anchor", () => {
      it("stores the caller's head and emits TreeHeadAnchored(log, size, root)", async () => {
        const { anchor, log } = await loadFixture(deployFixture);
        const hash = await anchor.write.anchor([5n, ROOT1], { account: log.account });
        await viem.assertions.emitWithArgs(hash, anchor, "TreeHeadAnchored", [addressOf(log), 5n, ROOT1]);
        assert.deepEqual(await anchor.read.headOf([addressOf(log)]), { size: 5n, root: ROOT1 });
        await anchor.write.anchor([9n, ROOT2], { account: log.account });
        assert.deepEqual(await anchor.read.headOf([addressOf(log)]), { size: 9n, root: ROOT2 });
      });

      it("keeps each log's heads apart", async () => {
        const { anchor, log, log2 } = await loadFixture(deployFixture);
        await anchor.write.anchor([5n, ROOT1], { account: log.account });
        await anchor.write.anchor([1n, ROOT2], { account: log2.account });
        assert.deepEqual(await anchor.read.headOf([addressOf(log)]), { size: 5n, root: ROOT1 });
        assert.deepEqual(await anchor.read.headOf([addressOf(log2)]), { size: 1n, root: ROOT2 });
        assert.deepEqual(await anchor.read.headOf([zeroAddress]), {
          size: 0n,
          root: `0x${"00".repeat(32)}`,
        });
      });

      it("reverts AuditAnchorSizeNotGrowing for a size that is not larger (shortened or rewritten log)", async () => {
        const { anchor, log } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.anchor([0n, ROOT1], { account: log.account }),
          anchor,
          "AuditAnchorSizeNotGrowing",
          [addressOf(log), 0n, 0n],
        );
        await anchor.write.anchor([5n, ROOT1], { account: log.account });
        for (const size of [5n, 4n])
          await viem.assertions.revertWithCustomErrorWithArgs(
            anchor.write.anchor([size, ROOT2], { account: log.account }),
            anchor,
            "AuditAnchorSizeNotGrowing",
            [addressOf(log), 5n, size],
          );
      });
    });

    describe("anchor growth", () => {
      it("accepts growth up to MAX_ANCHOR_GROWTH per anchor and reverts AuditAnchorGrowthTooLarge above", async () => {
        const { anchor, log } = await loadFixture(deployFixture);
        const l = addressOf(log);
        assert.equal(await anchor.read.MAX_ANCHOR_GROWTH(), MAX_GROWTH);
        for (const size of [MAX_GROWTH + 1n, 2n ** 64n - 1n])
          await viem.assertions.revertWithCustomErrorWithArgs(
            anchor.write.anchor([size, ROOT1], { account: log.account }),
            anchor,
            "AuditAnchorGrowthTooLarge",
            [l, 0n, size],
          );
        await anchor.write.anchor([MAX_GROWTH, ROOT1], { account: log.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.anchor([2n * MAX_GROWTH + 1n, ROOT2], { account: log.account }),
          anchor,
          "AuditAnchorGrowthTooLarge",
          [l, MAX_GROWTH, 2n * MAX_GROWTH + 1n],
        );
        await anchor.write.anchor([2n * MAX_GROWTH, ROOT2], { account: log.account });
        assert.deepEqual(await anchor.read.headOf([l]), { size: 2n * MAX_GROWTH, root: ROOT2 });
      });
    });

    describe("bindLog", () => {
      it("needs the log account's own EIP-712 consent: none, forged or for another binding is refused", async () => {
        const { anchor, consent, provider, provider2, log, stranger } = await loadFixture(deployFixture);
        const [p, l] = [addressOf(provider), addressOf(log)];
        const typed = await bindLogTypedData(anchor.address, p, l);
        assert.equal(await anchor.read.bindLogDigest([p, l]), hashTypedData(typed));
        const otherAnchor = await viem.deployContract("AuditAnchor", [
          await anchor.read.registry(),
          zeroAddress,
        ]);
        const refused: [string, Hex][] = [
          ["no signature", "0x"],
          ["garbage", `0x${"11".repeat(65)}`],
          [
            "signed by a stranger (a sealer squatting a peer's log key)",
            await consent(stranger, provider, l),
          ],
          ["the log's consent to another provider", await consent(log, provider2)],
          ["the log's consent on another AuditAnchor", await consentOf(log, otherAnchor.address, p)],
        ];
        for (const [why, signature] of refused)
          await viem.assertions
            .revertWithCustomErrorWithArgs(
              anchor.write.bindLog([l, signature], { account: provider.account }),
              anchor,
              "AuditAnchorInvalidConsent",
              [p, l],
            )
            .catch((e: unknown) => assert.fail(`${why}: ${String(e)}`));
        assert.equal(await anchor.read.logOf([p]), zeroAddress);
        await anchor.write.bindLog([l, await consent(log, provider)], { account: provider.account });
        assert.equal(await anchor.read.logOf([p]), l);
      });

      it("binds a provider's log account for good and emits LogBound", async () => {
        const { anchor, consent, provider, log, registry } = await loadFixture(deployFixture);
        assert.equal(await anchor.read.registry(), getAddress(registry.address));
        const hash = await anchor.write.bindLog([addressOf(log), await consent(log, provider)], {
          account: provider.account,
        });
        await viem.assertions.emitWithArgs(hash, anchor, "LogBound", [addressOf(provider), addressOf(log)]);
        assert.equal(await anchor.read.logOf([addressOf(provider)]), addressOf(log));
        assert.equal(await anchor.read.providerOf([addressOf(log)]), addressOf(provider));
        // The patient's light client proves logOf from storage: `_logs` is slot 3 (EIP712's two
        // fallback strings, then `_heads`) — packages/protocol/src/patient/relationships.ts.
        const slot = keccak256(
          encodeAbiParameters([{ type: "address" }, { type: "uint256" }], [addressOf(provider), 3n]),
        );
        const word = await (await viem.getPublicClient()).getStorageAt({ address: anchor.address, slot });
        assert.equal(getAddress(`0x${(word ?? "0x").slice(-40)}`), addressOf(log));
      });

      it("reverts AuditAnchorProviderBound: a provider cannot swap to a fresh log account", async () => {
        const { anchor, consent, provider, log, log2 } = await loadFixture(deployFixture);
        await anchor.write.bindLog([addressOf(log), await consent(log, provider)], {
          account: provider.account,
        });
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([addressOf(log2), await consent(log2, provider)], {
            account: provider.account,
          }),
          anchor,
          "AuditAnchorProviderBound",
          [addressOf(provider), addressOf(log)],
        );
      });

      it("reverts AuditAnchorInvalidLog for the zero address or another provider's log", async () => {
        const { anchor, consent, provider, provider2, log } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([zeroAddress, "0x"], { account: provider.account }),
          anchor,
          "AuditAnchorInvalidLog",
          [zeroAddress],
        );
        await anchor.write.bindLog([addressOf(log), await consent(log, provider)], {
          account: provider.account,
        });
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([addressOf(log), await consent(log, provider2)], {
            account: provider2.account,
          }),
          anchor,
          "AuditAnchorInvalidLog",
          [addressOf(log)],
        );
      });

      it("reverts AuditAnchorNotProvider for anyone but a registry signer", async () => {
        const { anchor, consent, stranger, log } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([addressOf(log), await consent(log, stranger)], { account: stranger.account }),
          anchor,
          "AuditAnchorNotProvider",
          [addressOf(stranger)],
        );
      });
    });
    describe("rotateLog (governance)", () => {
      /** provider bound to log, which anchored (7, ROOT1); provider2 proposes moving it to log2. */
      async function boundFixture() {
        const f = await deployFixture();
        const { anchor, registry, consent, provider, provider2, log, log2 } = f;
        await anchor.write.bindLog([addressOf(log), await consent(log, provider)], {
          account: provider.account,
        });
        await anchor.write.anchor([7n, ROOT1], { account: log.account });
        const hash = await registry.write.proposeLogRotation([addressOf(provider), addressOf(log2)], {
          account: provider2.account,
        });
        return { ...f, proposed: hash };
      }

      it("is applied only after governance approved it, with a public event on each side", async () => {
        const { anchor, registry, consent, provider, provider2, log2, proposed } =
          await loadFixture(boundFixture);
        const p = addressOf(provider);
        await viem.assertions.emitWithArgs(proposed, registry, "LogRotationProposed", [
          1n,
          p,
          addressOf(provider2),
          addressOf(log2),
        ]);
        // One vote of two: not approved yet, so the rotation cannot be applied.
        assert.equal(await registry.read.approvedLogRotation([p]), zeroAddress);
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.rotateLog([p, await consent(log2, provider)], { account: log2.account }),
          anchor,
          "AuditAnchorNoRotation",
          [p],
        );
        await viem.assertions.emitWithArgs(
          registry.write.vote([1n], { account: provider.account }),
          registry,
          "LogRotationApproved",
          [p, addressOf(log2)],
        );
        assert.equal(await registry.read.approvedLogRotation([p]), addressOf(log2));
        assert.equal((await registry.read.proposal([1n])).log, addressOf(log2));
      });

      it("moves the binding: LogRotated, the new log keeps the head, the old key can no longer anchor", async () => {
        const { anchor, registry, consent, provider, provider2, log, log2, stranger } =
          await loadFixture(boundFixture);
        const [p, l, l2] = [addressOf(provider), addressOf(log), addressOf(log2)];
        await registry.write.vote([1n], { account: provider.account });
        // The new log account must consent, as for bindLog.
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.rotateLog([p, await consent(stranger, provider, l2)], { account: stranger.account }),
          anchor,
          "AuditAnchorInvalidConsent",
          [p, l2],
        );
        // Anyone may apply it (here a stranger) once the new log consents.
        await viem.assertions.emitWithArgs(
          anchor.write.rotateLog([p, await consent(log2, provider)], { account: stranger.account }),
          anchor,
          "LogRotated",
          [p, l, l2, 7n, ROOT1],
        );
        assert.equal(await anchor.read.logOf([p]), l2);
        assert.equal(await anchor.read.providerOf([l2]), p);
        const continued = await (await viem.getPublicClient()).getContractEvents({
          address: anchor.address,
          abi: anchor.abi,
          eventName: "TreeHeadAnchored",
          args: { log: l2 },
          fromBlock: 0n,
        });
        assert.deepEqual(
          continued.map((e) => e.args),
          [{ log: l2, size: 7n, root: ROOT1 }],
          "the new log's events start from the head it continues",
        );
        assert.equal(await anchor.read.providerOf([l]), p);
        assert.equal(await anchor.read.isRetired([l]), true);
        assert.deepEqual(await anchor.read.headOf([l2]), { size: 7n, root: ROOT1 });
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.anchor([8n, ROOT2], { account: log.account }),
          anchor,
          "AuditAnchorLogRetired",
          [l],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.anchor([7n, ROOT2], { account: log2.account }),
          anchor,
          "AuditAnchorSizeNotGrowing",
          [l2, 7n, 7n],
        );
        await anchor.write.anchor([8n, ROOT2], { account: log2.account });
        assert.deepEqual(await anchor.read.headOf([l2]), { size: 8n, root: ROOT2 });
        // Applied once; the retired key cannot be bound by anyone again.
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.rotateLog([p, await consent(log2, provider)], { account: stranger.account }),
          anchor,
          "AuditAnchorNoRotation",
          [p],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([l, await consent(log, provider2)], { account: provider2.account }),
          anchor,
          "AuditAnchorInvalidLog",
          [l],
        );
      });

      it("only a signer proposes, for a signer, to a log that is neither zero nor the provider, one at a time", async () => {
        const { registry, provider, provider2, log2, stranger } = await loadFixture(boundFixture);
        const [p, l2, s] = [addressOf(provider), addressOf(log2), addressOf(stranger)];
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeLogRotation([p, l2], { account: stranger.account }),
          registry,
          "AgentRegistryNotSigner",
          [s],
        );
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeLogRotation([s, l2], { account: provider.account }),
          registry,
          "AgentRegistryNotSigner",
          [s],
        );
        for (const bad of [zeroAddress, addressOf(provider2)])
          await viem.assertions.revertWithCustomErrorWithArgs(
            registry.write.proposeLogRotation([addressOf(provider2), bad], { account: provider.account }),
            registry,
            "AgentRegistryInvalidLog",
            [bad],
          );
        await viem.assertions.revertWithCustomErrorWithArgs(
          registry.write.proposeLogRotation([p, s], { account: provider.account }),
          registry,
          "AgentRegistryProposalPending",
          [p, 1n],
        );
      });
    });
  });
}

for (const mode of MODES) shouldBehaveLikeAuditAnchor(mode);
