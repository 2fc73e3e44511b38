import { describe, expect, test } from "vitest";
import {
  InvalidVaultError,
  MIN_PBKDF2_ITERATIONS,
  openVault,
  passwordStrength,
  sealVault,
  vaultRecordSchema,
  WrongPasswordError,
} from "./vault.ts";

const secret = "legal winner thank year wave sausage worth useful legal winner thank yellow";
const address = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";

describe("vault", () => {
  test("round trip: the right password opens what was sealed", async () => {
    const record = await sealVault({ secret, password: "correct horse battery", address });
    expect(await openVault(record, "correct horse battery")).toBe(secret);
  });

  test("stored parameters: PBKDF2-SHA256 with at least 600,000 iterations, AES-GCM, fresh salt and IV", async () => {
    const a = await sealVault({ secret, password: "correct horse battery", address });
    const b = await sealVault({ secret, password: "correct horse battery", address });
    expect(a.kdf).toMatchObject({ name: "PBKDF2", hash: "SHA-256" });
    expect(a.kdf.iterations).toBeGreaterThanOrEqual(600_000);
    expect(a.cipher.name).toBe("AES-GCM");
    expect(atob(a.kdf.salt)).toHaveLength(16);
    expect(atob(a.cipher.iv)).toHaveLength(12);
    expect(a.kdf.salt).not.toBe(b.kdf.salt);
    expect(a.cipher.iv).not.toBe(b.cipher.iv);
    expect(a.ciphertext).not.toBe(b.ciphertext);
    expect(vaultRecordSchema.parse(a)).toEqual(a);
  });

  test("the record holds neither the words nor the password", async () => {
    const record = await sealVault({ secret, password: "correct horse battery", address });
    const text = JSON.stringify(record);
    for (const word of new Set(secret.split(" "))) expect(text).not.toContain(word);
    expect(text).not.toContain("correct horse battery");
  });

  test("error: a wrong password fails with WrongPasswordError", async () => {
    const record = await sealVault({ secret, password: "correct horse battery", address });
    await expect(openVault(record, "correct horse batterz")).rejects.toBeInstanceOf(WrongPasswordError);
  });

  test("error: an altered ciphertext or a re-labelled address fails like a wrong password", async () => {
    const record = await sealVault({ secret, password: "correct horse battery", address });
    const bytes = atob(record.ciphertext);
    const flipped = btoa(String.fromCharCode(bytes.charCodeAt(0) ^ 1) + bytes.slice(1));
    await expect(
      openVault({ ...record, ciphertext: flipped }, "correct horse battery"),
    ).rejects.toBeInstanceOf(WrongPasswordError);
    const other = "0x0000000000000000000000000000000000000001";
    await expect(openVault({ ...record, address: other }, "correct horse battery")).rejects.toBeInstanceOf(
      WrongPasswordError,
    );
  });

  test("error: a vault with fewer iterations than 600,000 is refused, to write or to read", async () => {
    await expect(
      sealVault({ secret, password: "x".repeat(12), address, iterations: 1000 }),
    ).rejects.toBeInstanceOf(InvalidVaultError);
    const record = await sealVault({ secret, password: "correct horse battery", address });
    const weak = { ...record, kdf: { ...record.kdf, iterations: MIN_PBKDF2_ITERATIONS - 1 } };
    await expect(openVault(weak, "correct horse battery")).rejects.toBeInstanceOf(InvalidVaultError);
  });
});

describe("password strength", () => {
  test("short passwords are not acceptable and say how many characters are missing", () => {
    expect(passwordStrength("abc")).toMatchObject({ acceptable: false, hint: "Add 7 more characters." });
  });
  test("a long pass-phrase is strong; repeated characters are weak", () => {
    expect(passwordStrength("maple river quiet lantern").score).toBeGreaterThanOrEqual(3);
    expect(passwordStrength("aaaaaaaaaaaa").score).toBe(1);
  });
});
