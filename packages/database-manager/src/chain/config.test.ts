import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { generatePatientMnemonic } from "@medrec/protocol";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { ChainConfigError, chainConfigSchema, resolveChainSettings } from "./config.ts";

const relayerKey = generatePrivateKey();
const base = {
  CHAIN_RPC_URL: "http://127.0.0.1:8545",
  CHAIN_ID: "1337",
  AGENT_ADDRESS: privateKeyToAccount(generatePrivateKey()).address,
  PROVIDER_NAME: "Riverside General",
  PROVIDER_ACCOUNT: privateKeyToAccount(generatePrivateKey()).address,
  DELEGATE_MNEMONIC: generatePatientMnemonic(),
  RELAYER_PRIVATE_KEY: relayerKey,
};
const resolve = (env: Record<string, string>) =>
  resolveChainSettings({ ...chainConfigSchema.parse({ ...base, ...env }), PUBLIC_URL: "http://127.0.0.1:1" });

describe("chain config: member vouchers (adr/0013)", () => {
  test("default: no member key, no member addresses (vouchers ignored, none sent)", async () => {
    const { relay } = await resolve({});
    assert.equal(relay.memberKey, undefined);
    assert.deepEqual(relay.members, []);
    assert.equal(relay.memberDailyRequests, 20_000);
  });

  test("behavior: the member key's address and RELAY_MEMBER_ADDRESSES (a rotation) are accepted, each once", async () => {
    const key = generatePrivateKey();
    const own = privateKeyToAccount(key).address;
    const old = privateKeyToAccount(generatePrivateKey()).address;
    const { relay } = await resolve({
      RELAY_MEMBER_KEY: key,
      RELAY_MEMBER_ADDRESSES: ` ${old.toLowerCase()}, ${own} `,
    });
    assert.equal(relay.memberKey, key);
    assert.deepEqual(relay.members, [own, old]);
  });

  test("error: a bad member address or key is refused without echoing the key; the relayer's key is refused as member key", async () => {
    assert.equal(chainConfigSchema.safeParse({ RELAY_MEMBER_ADDRESSES: "0x1234" }).success, false);
    const secret = `0x${"ab".repeat(31)}`;
    const bad = chainConfigSchema.safeParse({ RELAY_MEMBER_KEY: secret });
    assert.equal(bad.success, false);
    assert.doesNotMatch(JSON.stringify(bad.error), new RegExp(secret.slice(2)));
    await assert.rejects(resolve({ RELAY_MEMBER_KEY: relayerKey }), (e: unknown) => {
      assert.ok(e instanceof ChainConfigError);
      assert.match(e.message, /RELAY_MEMBER_KEY is the relayer's key/);
      assert.doesNotMatch(e.message, new RegExp(relayerKey.slice(2)));
      return true;
    });
  });
});
