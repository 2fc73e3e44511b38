import assert from "node:assert/strict";
import { test } from "node:test";
import { generateNonce, verifySignIn } from "@medrec/protocol";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { signInBody, signInMessage } from "./siwe.ts";

const account = privateKeyToAccount(generatePrivateKey());
const publicUrl = "https://gatekeeper.test:7101";

test("default: the body verifies for the gatekeeper at publicUrl", async () => {
  const nonce = generateNonce();
  const body = await signInBody({ account, publicUrl, chainId: 633732, nonce });
  const verified = await verifySignIn({
    ...body,
    expected: { baseUrl: publicUrl, chainId: 633732 },
    now: new Date(),
  });
  assert.equal(verified.nonce, nonce);
  assert.equal(verified.address, account.address);
});

test("behavior: overrides win, and another signer forges the signature", async () => {
  const nonce = generateNonce();
  const message = signInMessage({ account, publicUrl, chainId: 1, nonce, domain: "evil.test" });
  assert.match(message, /^evil\.test wants you to sign in/);
  const forger = privateKeyToAccount(generatePrivateKey());
  const body = await signInBody({ account, signer: forger, publicUrl, chainId: 1, nonce });
  assert.equal(body.message.includes(account.address), true);
  assert.notEqual(body.signature, await account.signMessage({ message: body.message }));
});
