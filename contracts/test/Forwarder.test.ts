import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { network } from "hardhat";
import { concat, encodeFunctionData, getAddress, type Hex, keccak256, toHex, zeroAddress } from "viem";
import type { ForwardRequest } from "../../packages/protocol/src/api.ts";
import {
  forwarderDomain,
  RelayedCallRevertedError,
  relayAndWait,
  type TypedDataSigner,
} from "../../packages/protocol/src/relay.ts";
import { addressOf, deployAgentPair, walletAt } from "./helpers.ts";
import { deployForwarder, RELAYER_INDEX, signedRequest } from "./via.ts";

const { viem, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;
const publicClient = await viem.getPublicClient();

const KEY = keccak256(toHex("patient x25519 key"));
const KEY2 = keccak256(toHex("rotated x25519 key"));

async function deployFixture() {
  const wallets = await viem.getWalletClients();
  const at = (i: number) => walletAt(wallets, i);
  const { forwarder, agent, rel } = await deployAgentPair(viem);
  const relayer = at(RELAYER_INDEX);
  const patient = at(1);
  const provider = at(2);
  const stranger = at(3);
  const viewer = at(4);
  const chainId = await publicClient.getChainId();
  return { forwarder, agent, rel, relayer, patient, provider, stranger, viewer, chainId };
}

/** Patient registered directly, with a relationship created by `provider` and no grant. */
async function relationshipFixture() {
  const f = await deployFixture();
  await f.agent.write.register([KEY, [], 0], { account: f.patient.account });
  await f.rel.write.create([addressOf(f.patient), "0x"], { account: f.provider.account });
  const id = await f.rel.read.relationshipId([addressOf(f.patient), addressOf(f.provider)]);
  return { ...f, id };
}

type Fixture = Awaited<ReturnType<typeof deployFixture>>;

const registerData = encodeFunctionData({
  abi: [
    {
      type: "function",
      name: "register",
      stateMutability: "nonpayable",
      inputs: [
        { name: "encryptionKey", type: "bytes32" },
        { name: "custodians_", type: "address[]" },
        { name: "recoveryThreshold_", type: "uint8" },
      ],
      outputs: [],
    },
  ] as const,
  functionName: "register",
  args: [KEY, [], 0],
});

/**
 * Mines `execute(request)` from the relayer with a fixed gas limit (no estimate: the refusal must
 * happen on chain) and returns the receipt. The transaction must revert and log nothing.
 */
async function mineRefused(f: Fixture, requestData: Awaited<ReturnType<typeof signedRequest>>["data"]) {
  const data = encodeFunctionData({ abi: f.forwarder.abi, functionName: "execute", args: [requestData] });
  let hash: Hex | undefined;
  try {
    hash = await f.relayer.sendTransaction({ to: f.forwarder.address, data, gas: 1_000_000n });
  } catch {
    // The simulated chain reports a reverted transaction as an error; it is mined all the same.
    const block = await publicClient.getBlock({ blockTag: "latest" });
    hash = block.transactions[0];
  }
  assert.ok(hash, "the refused transaction was mined");
  const receipt = await publicClient.waitForTransactionReceipt({ hash });
  assert.equal(getAddress(receipt.to ?? zeroAddress), getAddress(f.forwarder.address));
  assert.equal(receipt.status, "reverted");
  assert.deepEqual(receipt.logs, [], "no event");
  return receipt;
}

/** The patient's `register` as a signed request to `f`'s forwarder; `extra` forges or spoils it. */
function registerRequest(f: Fixture, extra: Partial<Parameters<typeof signedRequest>[2]> = {}) {
  return signedRequest(viem, f.forwarder, {
    from: addressOf(f.patient),
    to: f.agent.address,
    data: registerData,
    ...extra,
  });
}

/** `verify` says no, `execute` reverts with `error` (and `args`), and the mined attempt leaves no trace. */
async function assertRefused(
  f: Fixture,
  data: Awaited<ReturnType<typeof signedRequest>>["data"],
  error: "ERC2771ForwarderInvalidSigner" | "ERC2771ForwarderExpiredRequest",
  args?: unknown[],
) {
  assert.equal(await f.forwarder.read.verify([data]), false);
  const attempt = f.forwarder.write.execute([data], { account: f.relayer.account });
  if (args) await viem.assertions.revertWithCustomErrorWithArgs(attempt, f.forwarder, error, args as never);
  else await viem.assertions.revertWithCustomError(attempt, f.forwarder, error);
  await mineRefused(f, data);
}

describe("MedRecForwarder", () => {
  describe("domain and signatures (packages/protocol relay.ts against the contract)", () => {
    it("eip712Domain is the domain the clients sign for", async () => {
      const { forwarder, chainId } = await loadFixture(deployFixture);
      const [, name, version, domainChainId, verifyingContract] = await forwarder.read.eip712Domain();
      const expected = forwarderDomain({ chainId, forwarder: forwarder.address });
      assert.deepEqual(
        { name, version, chainId: Number(domainChainId), verifyingContract: getAddress(verifyingContract) },
        expected,
      );
    });

    it("verify accepts a request signed with signForwardRequest and executes it for its signer", async () => {
      const f = await loadFixture(deployFixture);
      const from = addressOf(f.patient);
      const { data } = await registerRequest(f);
      assert.equal(await f.forwarder.read.verify([data]), true);
      const hash = await f.forwarder.write.execute([data], { account: f.relayer.account });
      await viem.assertions.emitWithArgs(hash, f.agent, "AgentRegistered", [from, from, KEY]);
      await viem.assertions.emitWithArgs(hash, f.forwarder, "ExecutedForwardRequest", [from, 0n, true]);
      assert.equal(await f.forwarder.read.nonces([from]), 1n);
      assert.equal(await f.agent.read.exists([from]), true);
      assert.equal(await f.agent.read.exists([addressOf(f.relayer)]), false, "the relayer acted for nobody");
    });
  });

  describe("refused requests leave no trace (no state change, no event, nonce unchanged)", () => {
    it("forged: signed by someone other than `from`", async () => {
      const f = await loadFixture(deployFixture);
      const from = addressOf(f.patient);
      const { data } = await registerRequest(f, { signer: addressOf(f.stranger) });
      await assertRefused(f, data, "ERC2771ForwarderInvalidSigner", [addressOf(f.stranger), from]);
      assert.equal(await f.forwarder.read.nonces([from]), 0n);
      assert.equal(await f.agent.read.exists([from]), false);
      assert.equal(await f.agent.read.exists([addressOf(f.stranger)]), false);
    });

    it("replayed: the same signed request a second time", async () => {
      const f = await loadFixture(relationshipFixture);
      const from = addressOf(f.patient);
      const { data } = await signedRequest(viem, f.forwarder, {
        from,
        to: f.agent.address,
        data: encodeFunctionData({ abi: f.agent.abi, functionName: "setEncryptionKey", args: [from, KEY2] }),
      });
      await f.forwarder.write.execute([data], { account: f.relayer.account });
      assert.equal(await f.forwarder.read.nonces([from]), 1n);
      await assertRefused(f, data, "ERC2771ForwarderInvalidSigner");
      assert.equal(await f.forwarder.read.nonces([from]), 1n);
      const changes = await f.agent.getEvents.EncryptionKeyChanged({}, { fromBlock: 0n });
      assert.equal(changes.length, 1, "executed once");
    });

    it("expired: the deadline is past", async () => {
      const f = await loadFixture(deployFixture);
      const from = addressOf(f.patient);
      const { timestamp } = await publicClient.getBlock({ blockTag: "latest" });
      const deadline = Number(timestamp) - 1;
      const { data } = await registerRequest(f, { deadline });
      await assertRefused(f, data, "ERC2771ForwarderExpiredRequest", [deadline]);
      assert.equal(await f.forwarder.read.nonces([from]), 0n);
      assert.equal(await f.agent.read.exists([from]), false);
    });

    it("wrong chain, or another forwarder's domain: the signature does not recover to `from`", async () => {
      const f = await loadFixture(deployFixture);
      const from = addressOf(f.patient);
      for (const domain of [{ chainId: f.chainId + 1 }, { verifyingContract: f.agent.address }]) {
        const { data } = await registerRequest(f, { ...domain });
        await assertRefused(f, data, "ERC2771ForwarderInvalidSigner");
      }
      assert.equal(await f.forwarder.read.nonces([from]), 0n);
      assert.equal(await f.agent.read.exists([from]), false);
    });
  });

  describe("only the trusted forwarder speaks for others", () => {
    it("a correctly signed request through another forwarder is refused (untrusted target)", async () => {
      const f = await loadFixture(deployFixture);
      const other = await deployForwarder(viem);
      const from = addressOf(f.patient);
      assert.equal(await f.agent.read.isTrustedForwarder([other.address]), false);
      assert.equal(await f.agent.read.isTrustedForwarder([f.forwarder.address]), true);
      assert.equal(getAddress(await f.rel.read.trustedForwarder()), getAddress(f.forwarder.address));
      const { data } = await signedRequest(viem, other, { from, to: f.agent.address, data: registerData });
      await viem.assertions.revertWithCustomErrorWithArgs(
        other.write.execute([data], { account: f.relayer.account }),
        other,
        "ERC2771UntrustfulTarget",
        [getAddress(f.agent.address), getAddress(other.address)],
      );
      assert.equal(await f.agent.read.exists([from]), false);
    });

    it("appended-sender spoofing: a caller that is not the forwarder acts only for itself", async () => {
      const f = await loadFixture(relationshipFixture);
      const patient = addressOf(f.patient);
      const stranger = addressOf(f.stranger);
      const { timestamp } = await publicClient.getBlock();
      const spoofs = [
        {
          to: f.agent.address,
          data: encodeFunctionData({
            abi: f.agent.abi,
            functionName: "setEncryptionKey",
            args: [patient, KEY2],
          }),
          contract: f.agent,
          error: "AgentNotOwner",
          args: [patient, stranger],
        },
        {
          to: f.rel.address,
          data: encodeFunctionData({
            abi: f.rel.abi,
            functionName: "grant",
            args: [f.id, stranger, 1 << 6, timestamp + 3600n, "0x"],
          }),
          contract: f.rel,
          error: "RelationshipNotPatient",
          args: [f.id, stranger],
        },
        {
          to: f.rel.address,
          data: encodeFunctionData({ abi: f.rel.abi, functionName: "publishRoot", args: [f.id, KEY, 1n] }),
          contract: f.rel,
          error: "RelationshipNotProvider",
          args: [f.id, stranger],
        },
      ] as const;
      for (const spoof of spoofs) {
        // The patient's (or the provider's) address appended, as the forwarder would append it.
        for (const appended of [patient, addressOf(f.provider)])
          await viem.assertions.revertWithCustomErrorWithArgs(
            f.stranger.sendTransaction({ to: spoof.to, data: concat([spoof.data, appended]) }),
            spoof.contract,
            spoof.error,
            [...spoof.args],
          );
      }
      assert.deepEqual(await f.rel.read.grantOf([f.id, stranger]), { scopes: 0, expiresAt: 0n });
      assert.equal(await f.rel.read.sequenceOf([f.id]), 0n);
    });
  });

  describe("relayAndWait (packages/protocol) on the real forwarder", () => {
    const signerOf = async (address: Hex): Promise<TypedDataSigner & { address: Hex }> => {
      const wallet = await viem.getWalletClient(getAddress(address));
      return {
        address: getAddress(address),
        signTypedData: (parameters) => wallet.signTypedData(parameters as never),
      };
    };

    it("builds, signs, submits and checks ExecutedForwardRequest", async () => {
      const f = await loadFixture(deployFixture);
      const account = await signerOf(f.patient.account.address);
      const { receipt, request } = await relayAndWait({
        client: publicClient,
        forwarder: f.forwarder.address,
        account,
        to: f.agent.address,
        data: registerData,
        submit: ({ request, signature }) =>
          f.forwarder.write.execute(
            [{ ...request, signature, from: request.from, to: request.to }] as never,
            { account: f.relayer.account },
          ),
      });
      assert.equal(receipt.status, "success");
      assert.equal(request.nonce, 0n);
      assert.ok(request.gas > 0n && request.gas < 1_000_000n, `estimated gas ${request.gas}`);
      assert.equal(await f.agent.read.exists([account.address]), true);
    });

    /** `f`'s stranger relays `setEncryptionKey` on the patient's agent: refused with AgentNotOwner. */
    async function strangerRelaysKeyChange(
      f: Awaited<ReturnType<typeof relationshipFixture>>,
      extra: { gas?: bigint; submit: (relay: { request: ForwardRequest; signature: Hex }) => Promise<Hex> },
      txHash: () => Hex | undefined = () => undefined,
    ) {
      const account = await signerOf(f.stranger.account.address);
      const patient = addressOf(f.patient);
      await assert.rejects(
        relayAndWait({
          client: publicClient,
          forwarder: f.forwarder.address,
          account,
          to: f.agent.address,
          data: encodeFunctionData({
            abi: f.agent.abi,
            functionName: "setEncryptionKey",
            args: [patient, KEY2],
          }),
          ...extra,
        }),
        (e: unknown) =>
          e instanceof RelayedCallRevertedError &&
          e.txHash === txHash() &&
          e.reason === `AgentNotOwner(${patient}, ${account.address})`,
      );
      return account;
    }

    it("a call that would revert fails before anything is sent, with the contract's error", async () => {
      const f = await loadFixture(relationshipFixture);
      const account = await strangerRelaysKeyChange(f, {
        submit: () => assert.fail("nothing may be submitted"),
      });
      assert.equal(await f.forwarder.read.nonces([account.address]), 0n);
    });

    it("a relayed call that reverts on chain is reported as a failure with its decoded reason", async () => {
      const f = await loadFixture(relationshipFixture);
      let txHash: Hex | undefined;
      const account = await strangerRelaysKeyChange(
        f,
        {
          gas: 200_000n, // given: no estimate, so the request reaches the chain
          // executeBatch with a refund receiver does not revert: it logs success = false.
          submit: async ({ request, signature }) => {
            txHash = await f.forwarder.write.executeBatch(
              [[{ ...request, signature }], addressOf(f.relayer)],
              {
                account: f.relayer.account,
              },
            );
            return txHash;
          },
        },
        () => txHash,
      );
      await viem.assertions.emitWithArgs(
        Promise.resolve(txHash as Hex),
        f.forwarder,
        "ExecutedForwardRequest",
        [account.address, 0n, false],
      );
      assert.equal(await f.forwarder.read.nonces([account.address]), 1n, "the failed request used its nonce");
    });
  });
});
