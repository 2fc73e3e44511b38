import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type Address,
  concat,
  encodeAbiParameters,
  encodeErrorResult,
  encodeEventTopics,
  type Hex,
  keccak256,
  type TransactionReceipt,
  toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { apiPaths, type ForwardRequest, relayRequestSchema, serializeRelayRequest } from "./api.ts";
import { GatekeeperRequestError } from "./client.ts";
import { relationshipAbi } from "./generated/abis.ts";
import {
  decodeRevertReason,
  FORWARDER_NAME,
  forwardedCalldata,
  forwardRequestOutcome,
  forwardRequestTypes,
  hashForwardRequest,
  isRelayBehind,
  isRelayBusy,
  medRecForwarderAbi,
  recoverForwardRequestSigner,
  recoverVoucherSigner,
  signForwardRequest,
  signVoucher,
  submitRelayed,
  toForwardRequestData,
} from "./relay.ts";

const signer = privateKeyToAccount(`0x${"11".repeat(32)}`);
const forwarder: Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const domain = { chainId: 1337, forwarder };
const request: ForwardRequest = {
  from: signer.address,
  to: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  value: 0n,
  gas: 120_000n,
  nonce: 3n,
  deadline: 1_900_000_000,
  data: "0xdeadbeef",
};

/** OpenZeppelin's `_FORWARD_REQUEST_TYPEHASH` and `_hashTypedDataV4`, written out by hand. */
function ozDigest(r: ForwardRequest, chainId: number, verifyingContract: Address): Hex {
  const typeHash = keccak256(
    toHex(
      "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)",
    ),
  );
  const structHash = keccak256(
    encodeAbiParameters(
      [
        { type: "bytes32" },
        { type: "address" },
        { type: "address" },
        { type: "uint256" },
        { type: "uint256" },
        { type: "uint256" },
        { type: "uint48" },
        { type: "bytes32" },
      ],
      [typeHash, r.from, r.to, r.value, r.gas, r.nonce, r.deadline, keccak256(r.data)],
    ),
  );
  const domainSeparator = keccak256(
    encodeAbiParameters(
      [
        { type: "bytes32" },
        { type: "bytes32" },
        { type: "bytes32" },
        { type: "uint256" },
        { type: "address" },
      ],
      [
        keccak256(
          toHex("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
        ),
        keccak256(toHex(FORWARDER_NAME)),
        keccak256(toHex("1")),
        BigInt(chainId),
        verifyingContract,
      ],
    ),
  );
  return keccak256(concat(["0x1901", domainSeparator, structHash]));
}

describe("relay: typed data", () => {
  test("default: the types spell OpenZeppelin's ForwardRequest type string", () => {
    const fields = forwardRequestTypes.ForwardRequest.map((f) => `${f.type} ${f.name}`).join(",");
    assert.equal(
      `ForwardRequest(${fields})`,
      "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)",
    );
  });

  test("default: the digest is OpenZeppelin's _hashTypedDataV4 of the request", () => {
    assert.equal(hashForwardRequest(request, domain), ozDigest(request, 1337, forwarder));
  });

  test("behavior: the digest binds the chain, the forwarder and every field", () => {
    const digest = hashForwardRequest(request, domain);
    assert.notEqual(hashForwardRequest(request, { ...domain, chainId: 1 }), digest);
    assert.notEqual(
      hashForwardRequest(request, { ...domain, forwarder: "0x0000000000000000000000000000000000000001" }),
      digest,
    );
    for (const change of [{ nonce: 4n }, { gas: 1n }, { deadline: 1 }, { data: "0xdeadbeee" as Hex }])
      assert.notEqual(hashForwardRequest({ ...request, ...change }, domain), digest);
  });

  test("default: a signature recovers to its signer, another domain to someone else", async () => {
    const signature = await signForwardRequest(signer, request, domain);
    assert.equal(await recoverForwardRequestSigner(request, signature, domain), signer.address);
    assert.notEqual(
      await recoverForwardRequestSigner(request, signature, { ...domain, chainId: 1 }),
      signer.address,
    );
  });

  test("default: execute's struct has no nonce; the forwarded calldata ends with from", () => {
    const data = toForwardRequestData(request, "0x01");
    assert.equal("nonce" in data, false);
    assert.equal(data.signature, "0x01");
    assert.equal(forwardedCalldata(request), `0xdeadbeef${signer.address.slice(2)}`);
  });
});

describe("relay: member vouchers (adr/0013)", () => {
  const member = privateKeyToAccount(`0x${"22".repeat(32)}`);
  test("behavior: a voucher recovers to the member key for its request only, in its own domain", async () => {
    const voucher = await signVoucher(member, request, domain);
    assert.equal(await recoverVoucherSigner(request, voucher, domain), member.address);
    assert.notEqual(await recoverVoucherSigner({ ...request, nonce: 8n }, voucher, domain), member.address);
    assert.notEqual(await recoverVoucherSigner(request, voucher, { ...domain, chainId: 1 }), member.address);
    // Not a forward-request signature of the member (nor the other way round).
    assert.notEqual(await recoverForwardRequestSigner(request, voucher, domain), member.address);
    const signature = await signForwardRequest(member, request, domain);
    assert.notEqual(await recoverVoucherSigner(request, signature, domain), member.address);
  });

  test("default: the voucher travels in the body and parses back; a short one is refused", async () => {
    const signature = await signForwardRequest(signer, request, domain);
    const voucher = await signVoucher(member, request, domain);
    const json = serializeRelayRequest(request, signature, { voucher });
    assert.equal(json.voucher, voucher);
    assert.deepEqual(relayRequestSchema.parse(json), { request, signature, voucher });
    assert.equal(relayRequestSchema.safeParse({ ...json, voucher: "0x1234" }).success, false);
  });
});

describe("relay: wire format", () => {
  test("default: serialize then parse gives the request back", async () => {
    const signature = await signForwardRequest(signer, request, domain);
    const json = JSON.parse(JSON.stringify(serializeRelayRequest(request, signature)));
    assert.equal(json.request.gas, "120000");
    assert.deepEqual(relayRequestSchema.parse(json), { request, signature });
  });

  test("behavior: the dependency (notBeforeBlock, after) is optional, travels unsigned and parses back", async () => {
    const signature = await signForwardRequest(signer, request, domain);
    const after = `0x${"ef".repeat(32)}` as const;
    const json = JSON.parse(
      JSON.stringify(serializeRelayRequest(request, signature, { notBeforeBlock: 1234n, after })),
    );
    assert.equal(json.notBeforeBlock, "1234");
    assert.deepEqual(relayRequestSchema.parse(json), { request, signature, notBeforeBlock: 1234n, after });
    // A body without it (as every relay before it took) is still a relay request.
    assert.equal("notBeforeBlock" in serializeRelayRequest(request, signature), false);
    for (const bad of [{ notBeforeBlock: "-1" }, { notBeforeBlock: "0x10" }, { after: "0x12" }])
      assert.equal(relayRequestSchema.safeParse({ ...json, ...bad }).success, false, JSON.stringify(bad));
  });

  test("behavior: uint256 fields as safe numbers, deadline as a string", () => {
    const parsed = relayRequestSchema.parse({
      request: { ...serializeRelayRequest(request, "0x").request, gas: 5, nonce: 0, deadline: "17" },
      signature: `0x${"ab".repeat(65)}`,
    });
    assert.equal(parsed.request.gas, 5n);
    assert.equal(parsed.request.nonce, 0n);
    assert.equal(parsed.request.deadline, 17);
  });

  test("error: bad numbers, odd calldata and short signatures are refused", () => {
    const good = serializeRelayRequest(request, `0x${"ab".repeat(65)}`);
    const bad = [
      { ...good, request: { ...good.request, value: "-1" } },
      { ...good, request: { ...good.request, gas: "01" } },
      { ...good, request: { ...good.request, nonce: 2 ** 53 } },
      { ...good, request: { ...good.request, nonce: (1n << 256n).toString() } },
      { ...good, request: { ...good.request, deadline: 2 ** 48 } },
      { ...good, request: { ...good.request, data: "0xabc" } },
      { ...good, request: { ...good.request, data: `0x${"00".repeat(8193)}` } },
      { ...good, signature: `0x${"ab".repeat(64)}` },
    ];
    for (const body of bad)
      assert.equal(relayRequestSchema.safeParse(body).success, false, JSON.stringify(body));
  });
});

describe("relay: outcome and reasons", () => {
  const executed = (
    signerAddress: Address,
    nonce: bigint,
    success: boolean,
    address = forwarder,
  ): TransactionReceipt["logs"][number] =>
    ({
      address,
      topics: encodeEventTopics({
        abi: medRecForwarderAbi,
        eventName: "ExecutedForwardRequest",
        args: { signer: signerAddress },
      }),
      data: encodeAbiParameters([{ type: "uint256" }, { type: "bool" }], [nonce, success]),
    }) as unknown as TransactionReceipt["logs"][number];

  test("default: success only with the forwarder's event for (from, nonce) and success true", () => {
    const on = { forwarder, request };
    assert.equal(
      forwardRequestOutcome({ status: "success", logs: [executed(signer.address, 3n, true)] }, on),
      "success",
    );
    assert.equal(
      forwardRequestOutcome({ status: "success", logs: [executed(signer.address, 3n, false)] }, on),
      "failed",
    );
    assert.equal(forwardRequestOutcome({ status: "reverted", logs: [] }, on), "failed");
    assert.equal(
      forwardRequestOutcome({ status: "success", logs: [executed(signer.address, 2n, true)] }, on),
      "not-executed",
    );
    const elsewhere = executed(signer.address, 3n, true, "0x0000000000000000000000000000000000000002");
    assert.equal(forwardRequestOutcome({ status: "success", logs: [elsewhere] }, on), "not-executed");
  });

  test("default: a MedRec revert is decoded by name and arguments", () => {
    const data = encodeErrorResult({
      abi: relationshipAbi,
      errorName: "RelationshipNotPatient",
      args: [`0x${"00".repeat(31)}01`, signer.address],
    });
    const error = new Error("outer", { cause: Object.assign(new Error("inner"), { data }) });
    assert.equal(
      decodeRevertReason(error),
      `RelationshipNotPatient(0x${"00".repeat(31)}01, ${signer.address})`,
    );
    assert.equal(
      decodeRevertReason(Object.assign(new Error("x"), { data: "0x12345678" })),
      "unknown error 0x12345678",
    );
    assert.equal(decodeRevertReason(new Error("no data\nmore")), "no data");
  });
});

describe("relay: submit", () => {
  test("default: POSTs the JSON body to /v1/relay and returns the 202's txHash", async () => {
    const txHash = `0x${"cd".repeat(32)}`;
    let seen: { url: string; body: unknown } | undefined;
    const fetch = (async (url: string, init: RequestInit) => {
      seen = { url, body: JSON.parse(String(init.body)) };
      return new Response(JSON.stringify({ txHash }), { status: 202 });
    }) as unknown as typeof globalThis.fetch;
    const signature = await signForwardRequest(signer, request, domain);
    assert.equal(
      await submitRelayed({ gatekeeperUrl: "http://gk.test/", request, signature, fetch }),
      txHash,
    );
    assert.equal(seen?.url, `http://gk.test${apiPaths.relay}`);
    assert.deepEqual(seen?.body, JSON.parse(JSON.stringify(serializeRelayRequest(request, signature))));
  });

  /** A relay's refusal naming `check`. */
  const refusal = (status: number, check: string) =>
    new GatekeeperRequestError(
      status,
      { type: `https://medrec.dev/problems/relay/${check}`, title: "", status, detail: "", check } as never,
      "POST /v1/relay",
    );

  test("behavior: a relay whose node is behind the dependency is told apart (isRelayBehind)", () => {
    assert.equal(isRelayBehind(refusal(503, "dependency-timeout")), true);
    assert.equal(isRelayBehind(refusal(503, "too-many-waiting")), true);
    assert.equal(isRelayBehind(refusal(422, "dependency-too-far")), true);
    assert.equal(isRelayBehind(refusal(422, "simulation-reverted")), false);
    assert.equal(isRelayBehind(new Error("x")), false);
  });

  test("behavior: a relay full right now (adr/0013) is told apart (isRelayBusy): another relay may take it", () => {
    assert.equal(isRelayBusy(refusal(429, "open-lane-limit")), true);
    assert.equal(isRelayBusy(refusal(503, "relayer-busy")), true);
    assert.equal(isRelayBusy(refusal(429, "protective-in-flight")), true);
    assert.equal(isRelayBusy(refusal(429, "signer-limit")), false);
    assert.equal(isRelayBusy(refusal(503, "dependency-timeout")), false);
    assert.equal(isRelayBusy(new Error("x")), false);
  });

  test("error: a refusal is a GatekeeperRequestError with the problem", async () => {
    const fetch = (async () =>
      new Response(JSON.stringify({ type: "about:blank", title: "Not allowed", status: 403, detail: "x" }), {
        status: 403,
      })) as unknown as typeof globalThis.fetch;
    await assert.rejects(
      submitRelayed({ gatekeeperUrl: "http://gk.test", request, signature: "0x", fetch }),
      (e: unknown) =>
        e instanceof GatekeeperRequestError && e.status === 403 && e.problem?.title === "Not allowed",
    );
  });
});
