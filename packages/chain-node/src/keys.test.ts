import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { privateKeyToAccount } from "viem/accounts";
import {
  createSealerKey,
  decryptKeystore,
  ensureNodeKey,
  KeystoreError,
  type KeystoreV3,
  readKeystore,
} from "./keys.ts";

const root = await mkdtemp(join(tmpdir(), "medrec-keys-"));
after(() => rm(root, { recursive: true, force: true }));

const mode = async (path: string) => (await stat(path)).mode & 0o777;

// A keystore from go-ethereum's own tests (accounts/keystore/testdata/keystore/aaa, password "foobar").
const GETH_AAA: KeystoreV3 = {
  address: "f466859ead1932d743d622cb74fc058882e8648a",
  crypto: {
    cipher: "aes-128-ctr",
    ciphertext: "cb664472deacb41a2e995fa7f96fe29ce744471deb8d146a0e43c7898c9ddd4d",
    cipherparams: { iv: "dfd9ee70812add5f4b8f89d0811c9158" },
    kdf: "scrypt",
    kdfparams: {
      dklen: 32,
      n: 8,
      p: 16,
      r: 8,
      salt: "0d6769bf016d45c479213990d6a08d938469c4adad8a02ce507b4a4e7b7739f1",
    },
    mac: "bac9af994b15a45dd39669fc66f9aa8a3b9dd8c22cb16e4d8d7ea089d0f1a1a9",
  },
  id: "472e8b3d-afb6-45b5-8111-72c89895099a",
  version: 3,
};

// The Web3 Secret Storage pbkdf2 test vector. (Its scrypt twin uses r=1 with N=2^18, which
// OpenSSL refuses — N must be below 2^(16r); keystores MedRec writes use r=8.)
const WIKI_PBKDF2: KeystoreV3 = {
  address: "008aeeda4d805471df9b2a5b0f38a0c3bcba786b",
  crypto: {
    cipher: "aes-128-ctr",
    cipherparams: { iv: "6087dab2f9fdbbfaddc31a909735c1e6" },
    ciphertext: "5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46",
    kdf: "pbkdf2",
    kdfparams: {
      c: 262144,
      dklen: 32,
      prf: "hmac-sha256",
      salt: "ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd",
    },
    mac: "517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2",
  },
  id: "3198bc9c-6672-5ab3-d995-4942343ae5b6",
  version: 3,
};

describe("createSealerKey", () => {
  test("default: keystore V3 + password file, files 0600, dirs 0700, decrypts to the address", async () => {
    const dir = join(root, "a", "sealer");
    const key = await createSealerKey({ dir, scrypt: "light" });
    assert.equal(await mode(dir), 0o700);
    assert.equal(await mode(key.keystoreDir), 0o700);
    assert.equal(await mode(key.keystorePath), 0o600);
    assert.equal(await mode(key.passwordPath), 0o600);
    const json = JSON.parse(await readFile(key.keystorePath, "utf8")) as KeystoreV3;
    assert.equal(json.version, 3);
    assert.equal(json.crypto.kdf, "scrypt");
    assert.equal(json.address, key.address.slice(2).toLowerCase());
    assert.match(key.keystorePath, /UTC--.*--[0-9a-f]{40}$/);
    const password = await readFile(key.passwordPath, "utf8");
    assert.ok(password.length >= 32);
    const privateKey = await readKeystore(key.keystorePath, password);
    assert.equal(privateKeyToAccount(privateKey).address, key.address);
  });

  test("behavior: standard strength uses geth's scrypt parameters", async () => {
    const key = await createSealerKey({ dir: join(root, "std"), password: "pw" });
    const json = JSON.parse(await readFile(key.keystorePath, "utf8")) as KeystoreV3;
    assert.deepEqual(
      [json.crypto.kdfparams.n, json.crypto.kdfparams.r, json.crypto.kdfparams.p],
      [262144, 8, 1],
    );
  });

  test("error: wrong password", async () => {
    const key = await createSealerKey({ dir: join(root, "b"), password: "right", scrypt: "light" });
    await assert.rejects(readKeystore(key.keystorePath, "wrong"), KeystoreError);
  });

  test("behavior: never overwrites an existing password file", async () => {
    const dir = join(root, "c");
    await createSealerKey({ dir, scrypt: "light" });
    await assert.rejects(createSealerKey({ dir, scrypt: "light" }), /EEXIST/);
  });
});

describe("decryptKeystore", () => {
  test("default: a scrypt keystore written by geth", async () => {
    const key = await decryptKeystore(GETH_AAA, "foobar");
    assert.equal(key, "0x539f9b4106fb452408e1ee43d177077f057a8fdc1e1fad92c61e68982b4e3c4b");
    assert.equal(privateKeyToAccount(key).address.slice(2).toLowerCase(), GETH_AAA.address);
  });
  test("default: the Web3 Secret Storage pbkdf2 vector", async () => {
    assert.equal(
      await decryptKeystore(WIKI_PBKDF2, "testpassword"),
      "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d",
    );
  });
  test("error: wrong password on a known keystore", async () => {
    await assert.rejects(decryptKeystore(GETH_AAA, "foo"), /wrong password/);
  });
  test("error: unsupported cipher", async () => {
    await assert.rejects(
      decryptKeystore(
        { ...GETH_AAA, crypto: { ...GETH_AAA.crypto, cipher: "aes-256-gcm" as "aes-128-ctr" } },
        "x",
      ),
      KeystoreError,
    );
  });
});

describe("ensureNodeKey", () => {
  test("default: creates a 0600 key once and returns a stable 64-byte node id", async () => {
    const path = join(root, "nodekey");
    const first = await ensureNodeKey(path);
    const second = await ensureNodeKey(path);
    assert.equal(await mode(path), 0o600);
    assert.match(first.nodeId, /^[0-9a-f]{128}$/);
    assert.equal(first.nodeId, second.nodeId);
    assert.match(await readFile(path, "utf8"), /^[0-9a-f]{64}$/);
  });
});
