/**
 * Provider-signed details (adr/0015): the signature binds the relationship, its parties and the
 * gatekeeper URL to one network; the patient's side names a relationship only when the key the
 * chain binds to the provider signed it, and sets every other one apart.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type Address, createPublicClient, type Hex, http, keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { accountFromMnemonic } from "./keys.ts";
import type { PatientContext } from "./patient/network.ts";
import {
  discoverAllRelationships,
  discoverRelationships,
  isFromRegisteredProvider,
  type OnChainRelationships,
} from "./patient/relationships.ts";
import {
  generateEncryptionKeyPair,
  openJson,
  openJsonAsync,
  type ProviderDetailsClaim,
  providerDetailsSchema,
  providerDetailsSigner,
  sealJson,
  signProviderDetails,
} from "./sealed-box.ts";

const riverside = {
  name: "Riverside General",
  gatekeeperUrl: "https://riverside.example",
  account: privateKeyToAccount(generatePrivateKey()).address,
};
const riversideLog = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Address;
const claim = {
  chainId: 1337,
  relationshipContract: addr(0xc0),
  relationship: keccak256(toHex("relationship 1")),
  patient: addr(0xa1),
  delegate: addr(0xd1),
} as const;

describe("signProviderDetails / providerDetailsSigner", () => {
  test("default: the signature survives sealing and names its signer", async () => {
    const patientKey = generateEncryptionKeyPair();
    const details = await signProviderDetails({ ...claim, signer: riversideLog, provider: riverside });
    const sealed = sealJson(details, patientKey.publicKey);
    const opened = providerDetailsSchema.parse(openJson(sealed, patientKey.secretKey));
    assert.deepEqual(
      await openJsonAsync(sealed, patientKey.secretKey),
      openJson(sealed, patientKey.secretKey),
    );
    assert.equal(await providerDetailsSigner(opened, claim), riversideLog.address);
  });

  test("error: each signed field tampered with fails", async () => {
    const details = await signProviderDetails({ ...claim, signer: riversideLog, provider: riverside });
    const tampered: [string, Partial<ProviderDetailsClaim>, Partial<typeof details>][] = [
      ["relationship", { relationship: keccak256(toHex("relationship 2")) }, {}],
      ["patient", { patient: addr(0xa2) }, {}],
      ["delegate", { delegate: addr(0xd2) }, {}],
      ["chain id", { chainId: 1 }, {}],
      ["contract", { relationshipContract: addr(0xc1) }, {}],
      ["provider account", {}, { account: addr(0xee) }],
      ["gatekeeper URL", {}, { gatekeeperUrl: "https://riverside.example.evil" }],
    ];
    for (const [field, claimChange, detailsChange] of tampered) {
      const signer = await providerDetailsSigner(
        { ...details, ...detailsChange },
        { ...claim, ...claimChange },
      );
      assert.notEqual(signer, riversideLog.address, field);
    }
    assert.equal(await providerDetailsSigner({ ...details, signature: undefined }, claim), undefined);
  });
});

describe("discoverAllRelationships: what is not from a registered provider", () => {
  const patient = accountFromMnemonic("test test test test test test test test test test test junk", 0);
  const patientKey = generateEncryptionKeyPair();
  const network = {
    chainId: claim.chainId,
    rpcUrl: "http://127.0.0.1:9",
    contracts: {
      AgentRegistry: addr(0xf0),
      Agent: addr(0xf1),
      Relationship: claim.relationshipContract,
      Forwarder: addr(0xf2),
      AuditAnchor: addr(0xf3),
    },
    providers: [{ ...riverside, rpcUrl: "http://127.0.0.1:9" }],
  };
  const ctx: PatientContext = {
    network,
    client: createPublicClient({ transport: http("http://127.0.0.1:9") }),
    account: patient,
    agent: claim.patient,
    encryptionKey: patientKey,
  };
  const listedAt = (index: number, id: Hex, delegate: Address) => ({
    index,
    id,
    delegate,
    recordRoot: `0x${"00".repeat(32)}` as Hex,
    sequence: 0n,
    seenSequence: 0n,
    ended: false,
  });

  test("behavior: a provider's name signed by another key, unsigned, garbage, unlisted or at another URL is set apart", async () => {
    const cases: [string, Hex][] = [
      [
        "signed by a stranger",
        sealJson(
          await signProviderDetails({
            ...claim,
            relationship: keccak256(toHex(0)),
            signer: stranger,
            provider: riverside,
          }),
          patientKey.publicKey,
        ),
      ],
      ["unsigned", sealJson({ v: 1, ...riverside }, patientKey.publicKey)],
      ["garbage", `0x${"ab".repeat(200)}`],
      ["sealed to someone else", sealJson({ v: 1, ...riverside }, generateEncryptionKeyPair().publicKey)],
      [
        "unlisted provider",
        sealJson({ v: 1, ...riverside, account: stranger.address }, patientKey.publicKey),
      ],
      [
        "another URL",
        sealJson(
          await signProviderDetails({
            ...claim,
            relationship: keccak256(toHex(5)),
            signer: riversideLog,
            provider: { ...riverside, gatekeeperUrl: "https://elsewhere.example" },
          }),
          patientKey.publicKey,
        ),
      ],
    ];
    const ids = cases.map((_, i) => keccak256(toHex(i)));
    const onChain: OnChainRelationships = {
      listed: ids.map((id, i) => listedAt(i, id, claim.delegate)),
      created: cases.map(([, sealed], i) => ({
        args: { id: ids[i] as Hex, providerDetails: sealed },
        blockNumber: BigInt(i + 1),
      })),
      updated: [],
      signers: new Map([[riverside.account.toLowerCase(), riversideLog.address]]),
      eventsOf: new Set(ids.map((id) => id.toLowerCase())),
      total: ids.length,
    };
    const all = await discoverAllRelationships(ctx, onChain);
    assert.deepEqual(
      all.map((r) => [r.status, r.provider?.name]),
      [
        ["unsigned", undefined],
        ["unsigned", undefined],
        ["unreadable", undefined],
        ["unreadable", undefined],
        ["unknown-provider", undefined],
        ["mismatch", undefined],
      ],
    );
    assert.equal(all.some(isFromRegisteredProvider), false);
    assert.deepEqual(await discoverRelationships(ctx, onChain), []);
    // More to check than allowed now: the signature waits (`unchecked`), still not a provider.
    const deferred = await discoverAllRelationships(ctx, onChain, new Map(), { maxChecks: 0 });
    assert.equal(deferred[0]?.status, "unchecked");
    assert.equal(deferred[0]?.provider, undefined);
    assert.equal(deferred.some(isFromRegisteredProvider), false);
  });
});
