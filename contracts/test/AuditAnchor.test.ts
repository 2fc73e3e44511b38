import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { getAddress, keccak256, toHex, zeroAddress } from "viem";
import { addressOf, walletAt } from "./helpers.ts";
import { deployForwarder, MODES, type Mode, via } from "./via.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

const ROOT1 = keccak256(toHex("tree head 1"));
const ROOT2 = keccak256(toHex("tree head 2"));

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
    return {
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

    describe("bindLog", () => {
      it("binds a provider's log account for good and emits LogBound", async () => {
        const { anchor, provider, log, registry } = await loadFixture(deployFixture);
        assert.equal(await anchor.read.registry(), getAddress(registry.address));
        const hash = await anchor.write.bindLog([addressOf(log)], { account: provider.account });
        await viem.assertions.emitWithArgs(hash, anchor, "LogBound", [addressOf(provider), addressOf(log)]);
        assert.equal(await anchor.read.logOf([addressOf(provider)]), addressOf(log));
        assert.equal(await anchor.read.providerOf([addressOf(log)]), addressOf(provider));
      });

      it("reverts AuditAnchorProviderBound: a provider cannot swap to a fresh log account", async () => {
        const { anchor, provider, log, log2 } = await loadFixture(deployFixture);
        await anchor.write.bindLog([addressOf(log)], { account: provider.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([addressOf(log2)], { account: provider.account }),
          anchor,
          "AuditAnchorProviderBound",
          [addressOf(provider), addressOf(log)],
        );
      });

      it("reverts AuditAnchorInvalidLog for the zero address or another provider's log", async () => {
        const { anchor, provider, provider2, log } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([zeroAddress], { account: provider.account }),
          anchor,
          "AuditAnchorInvalidLog",
          [zeroAddress],
        );
        await anchor.write.bindLog([addressOf(log)], { account: provider.account });
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([addressOf(log)], { account: provider2.account }),
          anchor,
          "AuditAnchorInvalidLog",
          [addressOf(log)],
        );
      });

      it("reverts AuditAnchorNotProvider for anyone but a registry signer", async () => {
        const { anchor, stranger, log } = await loadFixture(deployFixture);
        await viem.assertions.revertWithCustomErrorWithArgs(
          anchor.write.bindLog([addressOf(log)], { account: stranger.account }),
          anchor,
          "AuditAnchorNotProvider",
          [addressOf(stranger)],
        );
      });
    });
  });
}

for (const mode of MODES) shouldBehaveLikeAuditAnchor(mode);
